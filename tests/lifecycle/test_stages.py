"""The lifecycle graph: validation rules and the legality of every transition."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lifecycle.stages import (
    ACTIVE,
    ENDS,
    FORWARD,
    INITIAL,
    LIVE,
    SEND_BACK,
    TERMINAL,
    TRANSITIONS,
    GraphError,
    IllegalTransition,
    Stage,
    build_transitions,
    can_transition,
    check_transition,
    next_stage,
    parse_stage,
    validate_graph,
)

S = Stage

# The lifecycle written out by hand, independently of build_transitions().
EXPECTED_EDGES = {
    (S.PROPOSAL, S.PILOT), (S.PILOT, S.READINESS_REVIEW),
    (S.READINESS_REVIEW, S.INTERNAL_ROLLOUT), (S.INTERNAL_ROLLOUT, S.CUSTOMER_ROLLOUT),
    (S.CUSTOMER_ROLLOUT, S.PRODUCTION),
    (S.READINESS_REVIEW, S.PILOT), (S.INTERNAL_ROLLOUT, S.READINESS_REVIEW),
    (S.CUSTOMER_ROLLOUT, S.INTERNAL_ROLLOUT),
    *((s, S.TERMINATED) for s in (S.PROPOSAL, S.PILOT, S.READINESS_REVIEW,
                                  S.INTERNAL_ROLLOUT, S.CUSTOMER_ROLLOUT)),
    # production is in service: it ends by retirement (a value review), never by termination
    (S.PRODUCTION, S.RETIRED),
}


def table() -> dict[Stage, set[Stage]]:
    return {s: set(t) for s, t in build_transitions().items()}


def test_shipped_graph_is_valid_and_matches_the_design() -> None:
    validate_graph(TRANSITIONS)
    edges = {(s, t) for s, targets in TRANSITIONS.items() for t in targets}
    assert edges == EXPECTED_EDGES
    assert INITIAL is S.PROPOSAL
    assert {S.TERMINATED, S.RETIRED} == TERMINAL
    assert {S.PRODUCTION} == LIVE
    # the pre-production stages: a cap place, a deploy-by date, ended by termination
    assert set(Stage) - TERMINAL - LIVE == ACTIVE == set(FORWARD)
    assert ENDS == {S.TERMINATED: ACTIVE, S.RETIRED: LIVE}


def test_unreachable_stage_is_rejected() -> None:
    t = table()
    # Nothing leads to internal_rollout any more, so it and everything after it is unreachable.
    t[S.READINESS_REVIEW] = {S.PILOT, S.TERMINATED}
    with pytest.raises(GraphError, match="unreachable stages: internal_rollout, customer_rollout"):
        validate_graph(t)


@pytest.mark.parametrize("terminal", [S.RETIRED, S.TERMINATED])
def test_exit_from_a_terminal_stage_is_rejected(terminal: Stage) -> None:
    t = table()
    t[terminal] = {S.PILOT}
    with pytest.raises(GraphError, match=f"terminal stage {terminal.value} has exits: pilot"):
        validate_graph(t)


def test_stage_that_cannot_be_terminated_is_rejected() -> None:
    t = table()
    t[S.INTERNAL_ROLLOUT].discard(S.TERMINATED)
    with pytest.raises(GraphError, match="stage internal_rollout cannot be terminated"):
        validate_graph(t)


def test_stage_with_no_path_to_a_terminal_stage_is_rejected() -> None:
    # With only retired terminal, `terminated` is an ordinary stage that loops on itself.
    t = table()
    t[S.TERMINATED] = {S.TERMINATED}
    with pytest.raises(GraphError, match="stage terminated has no path to a terminal stage"):
        validate_graph(t, terminal=frozenset({S.RETIRED}))


def test_live_stage_that_cannot_be_retired_is_rejected() -> None:
    # Were customer rollout live too, it would lack its end: retirement.
    t = table()
    t[S.CUSTOMER_ROLLOUT].discard(S.TERMINATED)
    with pytest.raises(GraphError, match="^live stage customer_rollout cannot be retired$"):
        validate_graph(t, live=frozenset({S.CUSTOMER_ROLLOUT, S.PRODUCTION}))


def test_pre_production_stage_that_can_be_retired_is_rejected() -> None:
    t = table()
    t[S.PILOT].add(S.RETIRED)
    with pytest.raises(
        GraphError, match="^stage pilot can be retired; only a live stage ends by retirement$"
    ):
        validate_graph(t)


def test_live_stage_that_can_be_terminated_is_rejected() -> None:
    t = table()
    t[S.PRODUCTION] = {S.RETIRED, S.TERMINATED}
    with pytest.raises(
        GraphError, match="^live stage production can be terminated; it ends by retirement$"
    ):
        validate_graph(t)


def test_a_pre_production_stage_that_can_only_be_retired_is_rejected() -> None:
    t = table()
    t[S.CUSTOMER_ROLLOUT] = {S.PRODUCTION, S.INTERNAL_ROLLOUT, S.RETIRED}
    with pytest.raises(GraphError, match="^stage customer_rollout cannot be terminated$"):
        validate_graph(t)


def test_cycle_without_a_way_out_is_rejected() -> None:
    t = table()
    # pilot <-> readiness_review with no termination: a pilot could circle for ever.
    t[S.PILOT] = {S.READINESS_REVIEW}
    t[S.READINESS_REVIEW] = {S.PILOT, S.INTERNAL_ROLLOUT}
    with pytest.raises(GraphError, match="pilot"):
        validate_graph(t)


def test_every_pre_production_stage_can_be_terminated_and_production_only_retired() -> None:
    for stage in Stage:
        if stage in TERMINAL:
            assert TRANSITIONS[stage] == frozenset()
        elif stage in LIVE:
            assert TRANSITIONS[stage] == frozenset({S.RETIRED})
        else:
            assert can_transition(stage, S.TERMINATED), stage
            assert not can_transition(stage, S.RETIRED), stage


def test_illegal_transition_names_what_is_allowed() -> None:
    with pytest.raises(IllegalTransition) as exc:
        check_transition(S.PROPOSAL, S.PRODUCTION)
    assert str(exc.value) == ("cannot move from proposal to production "
                              "(allowed from proposal: pilot, terminated)")
    with pytest.raises(IllegalTransition, match=r"allowed from terminated: none"):
        check_transition(S.TERMINATED, S.PROPOSAL)


def test_next_stage_and_parse_stage() -> None:
    assert [next_stage(s) for s in FORWARD] == [S.PILOT, S.READINESS_REVIEW, S.INTERNAL_ROLLOUT,
                                                S.CUSTOMER_ROLLOUT, S.PRODUCTION]
    with pytest.raises(IllegalTransition):
        next_stage(S.PRODUCTION)
    assert parse_stage("pilot") is S.PILOT
    with pytest.raises(ValueError, match="unknown stage 'pilott'; allowed: proposal, pilot"):
        parse_stage("pilott")


EVENTS = st.one_of(
    st.sampled_from(["approve", "reject", "send_back", "terminate", "retire"]),
    st.sampled_from(list(Stage)),  # a jump straight to any stage
)


def intended_target(stage: Stage, event: str | Stage) -> Stage | None:
    if isinstance(event, Stage):
        return event
    if event == "approve":
        return FORWARD.get(stage)
    if event == "send_back":
        return SEND_BACK.get(stage)
    if event in ("reject", "terminate"):
        return S.TERMINATED
    if event == "retire":
        return S.RETIRED
    raise AssertionError(event)


@given(st.lists(EVENTS, max_size=40))
def test_random_event_sequences_only_take_legal_transitions(events: list[str | Stage]) -> None:
    stage = INITIAL
    path = [stage]
    for event in events:
        target = intended_target(stage, event)
        if target is None:
            continue
        legal = (stage, target) in EXPECTED_EDGES
        assert can_transition(stage, target) is legal
        if legal:
            check_transition(stage, target)
            stage = target
            path.append(stage)
        else:
            with pytest.raises(IllegalTransition):
                check_transition(stage, target)
    for before, after in zip(path, path[1:], strict=False):
        assert (before, after) in EXPECTED_EDGES
        assert before not in TERMINAL, "left a terminal stage"
    # Once terminal, always terminal.
    first_terminal = next((i for i, s in enumerate(path) if s in TERMINAL), None)
    if first_terminal is not None:
        assert first_terminal == len(path) - 1


@given(st.sampled_from(sorted(TERMINAL)), st.sampled_from(list(Stage)))
def test_no_exit_from_terminal_stages(source: Stage, target: Stage) -> None:
    assert not can_transition(source, target)
    with pytest.raises(IllegalTransition):
        check_transition(source, target)
