"""What settled gates, passed deadlines and started pilots lead to (lifecycle.outcomes).

The `legacy_*` functions below are the rules as tasks/gates.py (`apply_transition`,
`enforce_deadline`) and tasks/sweep.py (`_on_timeout`) wrote them before they moved here,
copied by hand: the property tests hold the new rules to the old behaviour.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lifecycle.gates import GateStatus
from lifecycle.outcomes import (
    DEFAULT_DEPLOY_OR_TERMINATE_DAYS,
    SETTLED,
    DeadlineDecision,
    NextStep,
    PilotClock,
    Step,
    TimeoutStep,
    deploy_limit_days,
    next_step,
    on_deadline,
    pilot_clock,
    queues_entry_flow,
    sends_back,
    settled_status,
    stage_label,
    starts_pilot_clock,
    termination_reason,
)
from lifecycle.policy import OnTimeout, Policy, PortfolioRules, load_policy
from lifecycle.stages import (
    FORWARD,
    SEND_BACK,
    TERMINAL,
    TRANSITIONS,
    IllegalTransition,
    Stage,
    can_transition,
)

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"
POLICY = load_policy(EXAMPLES_DIR / "policy.yaml")

S = Stage
APPROVED, REJECTED, EXPIRED = GateStatus.APPROVED, GateStatus.REJECTED, GateStatus.EXPIRED
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

# The labels people read, written out by hand (what slack_out.messages.label once held).
LABELS = {
    S.PROPOSAL: "proposal",
    S.PILOT: "pilot",
    S.READINESS_REVIEW: "readiness review",
    S.INTERNAL_ROLLOUT: "internal rollout",
    S.CUSTOMER_ROLLOUT: "customer rollout",
    S.PRODUCTION: "production",
    S.TERMINATED: "terminated",
    S.RETIRED: "retired",
}


def step_of(
    status: GateStatus | str,
    stage: Stage,
    *,
    pilot_stage: Stage | None = None,
    on_reject: str = "terminate",
    reason: str | None = "why",
) -> NextStep:
    return next_step(
        status,
        stage=stage,
        target=FORWARD[stage],
        pilot_stage=stage if pilot_stage is None else pilot_stage,
        on_reject=on_reject,
        outcome_reason=reason,
    )


# ---------------------------------------------------------------- settled gate: unit


def test_stage_labels_read_like_slack_messages() -> None:
    assert {s: stage_label(s) for s in Stage} == LABELS
    assert stage_label("readiness_review") == "readiness review"


@pytest.mark.parametrize("stage", list(FORWARD))
@pytest.mark.parametrize("pilot_stage", list(Stage))
def test_approved_advances_to_the_target_wherever_the_pilot_is(
    stage: Stage, pilot_stage: Stage
) -> None:
    got = step_of(APPROVED, stage, pilot_stage=pilot_stage, on_reject="send_back", reason="ok")
    assert got == NextStep(
        Step.ADVANCE,
        FORWARD[stage],
        "ok",
        history_reason="gate approved: ok",
        if_not_moved=NextStep(Step.NONE, None, f"pilot no longer in {stage.value}"),
    )
    assert got.outcome == "advanced" and got.if_not_moved is not None
    assert got.if_not_moved.outcome == "none"


@pytest.mark.parametrize("stage", list(SEND_BACK))
def test_rejected_with_send_back_goes_back_one_stage(stage: Stage) -> None:
    got = step_of(REJECTED, stage, on_reject="send_back", reason="U0ARC0001 rejected: flaky")
    assert got.step is Step.SEND_BACK and got.outcome == "sent_back"
    assert got.target is SEND_BACK[stage]
    assert got.reason == "U0ARC0001 rejected: flaky"
    assert got.history_reason == "sent back: U0ARC0001 rejected: flaky"
    # Should the move find the pilot gone, the stale view of the pilot decides what is left.
    assert got.if_not_moved == NextStep(
        Step.TERMINATE,
        S.TERMINATED,
        f"rejected at {LABELS[stage]}: U0ARC0001 rejected: flaky",
    )


def test_send_back_is_decided_before_asking_where_the_pilot_is() -> None:
    got = step_of(REJECTED, S.INTERNAL_ROLLOUT, pilot_stage=S.TERMINATED, on_reject="send_back")
    assert got.step is Step.SEND_BACK and got.target is S.READINESS_REVIEW
    assert got.if_not_moved == NextStep(
        Step.NONE, None, "pilot is in terminated, no longer in internal_rollout"
    )


def test_send_back_needs_a_stage_behind() -> None:
    # The policy refuses send_back from these stages; the rule still terminates, as before.
    for stage in (S.PROPOSAL, S.PILOT):
        assert not sends_back(REJECTED, stage, "send_back")
        assert step_of(REJECTED, stage, on_reject="send_back").step is Step.TERMINATE


@pytest.mark.parametrize("status", [APPROVED, EXPIRED])
def test_only_a_rejection_sends_back(status: GateStatus) -> None:
    assert not sends_back(status, S.READINESS_REVIEW, "send_back")
    assert step_of(status, S.READINESS_REVIEW, on_reject="send_back").step is not Step.SEND_BACK


def test_rejected_terminates_with_the_registers_reason() -> None:
    got = step_of(REJECTED, S.READINESS_REVIEW, reason="U0ARC0001 rejected: no runbook")
    assert got == NextStep(
        Step.TERMINATE, S.TERMINATED, "rejected at readiness review: U0ARC0001 rejected: no runbook"
    )
    assert got.outcome == "terminate" and got.history_reason is None and got.if_not_moved is None


def test_expired_terminates_as_deadline_passed() -> None:
    got = step_of(EXPIRED, S.PILOT, reason="gate pilot -> readiness_review passed its deadline")
    assert got.reason == (
        "deadline passed at pilot: gate pilot -> readiness_review passed its deadline"
    )
    assert got.step is Step.TERMINATE


@pytest.mark.parametrize("reason", [None, ""])
def test_a_gate_without_an_outcome_reason_gives_its_status(reason: str | None) -> None:
    assert step_of(EXPIRED, S.PROPOSAL, reason=reason).reason == (
        "deadline passed at proposal: expired"
    )
    assert step_of(REJECTED, S.CUSTOMER_ROLLOUT, reason=reason).reason == (
        "rejected at customer rollout: rejected"
    )
    assert step_of(APPROVED, S.PILOT, reason=reason).history_reason == "gate approved: approved"


@pytest.mark.parametrize("status", [REJECTED, EXPIRED])
def test_an_outcome_for_a_stage_the_pilot_left_is_history(status: GateStatus) -> None:
    got = step_of(status, S.READINESS_REVIEW, pilot_stage=S.INTERNAL_ROLLOUT)
    assert got == NextStep(
        Step.NONE, None, "pilot is in internal_rollout, no longer in readiness_review"
    )


def test_strings_from_the_database_are_accepted() -> None:
    got = next_step(
        "rejected",
        stage=S("readiness_review"),
        target=S("internal_rollout"),
        pilot_stage="readiness_review",
        on_reject="terminate",
        outcome_reason="r",
    )
    assert got.reason == "rejected at readiness review: r"
    assert settled_status("expired") is EXPIRED


@pytest.mark.parametrize("status", ["open", "pending", GateStatus.PENDING, "bogus"])
def test_an_unsettled_gate_has_no_next_step(status: str) -> None:
    with pytest.raises(ValueError, match="is not settled"):
        step_of(status, S.PILOT)


def test_an_approved_gate_never_terminates_and_targets_must_be_legal() -> None:
    with pytest.raises(ValueError, match="approved gate does not terminate"):
        termination_reason(APPROVED, S.PILOT, "x")
    with pytest.raises(IllegalTransition):
        next_step(
            APPROVED,
            stage=S.PILOT,
            target=S.PRODUCTION,
            pilot_stage=S.PILOT,
            on_reject="terminate",
            outcome_reason=None,
        )


def test_entry_flow_follows_open_on_entry(
    policy_data: dict[str, Any], make_policy: Callable[[dict[str, Any]], Policy]
) -> None:
    # examples/policy.yaml: proposal and readiness review open on entry; the others wait.
    assert {s for s in Stage if queues_entry_flow(s, POLICY)} == {S.PROPOSAL, S.READINESS_REVIEW}
    policy_data["gates"]["pilot"]["open_on_entry"] = True
    policy_data["gates"]["readiness_review"]["open_on_entry"] = False
    changed = make_policy(policy_data)
    assert {s for s in Stage if queues_entry_flow(s, changed)} == {S.PROPOSAL, S.PILOT}
    assert not any(queues_entry_flow(s, changed) for s in TERMINAL)


# ---------------------------------------------------------------- settled gate: properties


def legacy_apply(
    status: str,
    stage: Stage,
    target: Stage,
    pilot_stage: Stage,
    on_reject: str,
    outcome_reason: str | None,
) -> tuple[str, Stage | None, str]:
    """apply_transition's decisions, with move_stage winning iff the pilot is in `stage`."""
    reason = outcome_reason or status
    moves = pilot_stage == stage
    if status == "approved":
        if moves:
            return "advanced", target, reason
        return "none", None, f"pilot no longer in {stage}"
    # A send-back that loses the race falls through to the checks below.
    if status == "rejected" and on_reject == "send_back" and stage in SEND_BACK and moves:
        return "sent_back", SEND_BACK[stage], reason
    if pilot_stage != stage:
        return "none", None, f"pilot is in {pilot_stage}, no longer in {stage}"
    why = (
        f"{'rejected' if status == 'rejected' else 'deadline passed'} at {LABELS[stage]}: {reason}"
    )
    return "terminate", S.TERMINATED, why


def carry_out(step: NextStep, stage: Stage, pilot_stage: Stage) -> tuple[str, Stage | None, str]:
    """Act on a NextStep the way tasks does: a move wins iff the pilot is in the gate's stage."""
    if step.step in (Step.ADVANCE, Step.SEND_BACK) and pilot_stage != stage:
        assert step.if_not_moved is not None
        return carry_out(step.if_not_moved, stage, pilot_stage)
    return step.outcome, step.target, step.reason


settled_gates = st.fixed_dictionaries(
    {
        "status": st.sampled_from(sorted(SETTLED)),
        "stage": st.sampled_from(list(FORWARD)),
        "pilot_stage": st.sampled_from(list(Stage)),
        "on_reject": st.sampled_from(["terminate", "send_back"]),
        "outcome_reason": st.none() | st.text(max_size=30),
    }
)


def decide(case: dict[str, Any]) -> NextStep:
    return next_step(
        case["status"],
        stage=case["stage"],
        target=FORWARD[case["stage"]],
        pilot_stage=case["pilot_stage"],
        on_reject=case["on_reject"],
        outcome_reason=case["outcome_reason"],
    )


@given(settled_gates)
def test_next_step_does_what_apply_transition_did(case: dict[str, Any]) -> None:
    stage, pilot_stage = case["stage"], case["pilot_stage"]
    expected = legacy_apply(
        case["status"].value,
        stage,
        FORWARD[stage],
        pilot_stage,
        case["on_reject"],
        case["outcome_reason"],
    )
    assert carry_out(decide(case), stage, pilot_stage) == expected


@given(settled_gates)
def test_every_move_is_a_legal_transition(case: dict[str, Any]) -> None:
    got = decide(case)
    if case["status"] is APPROVED:
        assert got.step is Step.ADVANCE
    if got.step in (Step.ADVANCE, Step.SEND_BACK):
        assert got.target is not None and can_transition(case["stage"], got.target)
        assert got.target in TRANSITIONS[case["stage"]] and got.if_not_moved is not None
        assert got.if_not_moved.step in (Step.NONE, Step.TERMINATE)
    if got.step is Step.ADVANCE:
        assert got.target is FORWARD[case["stage"]]


@given(settled_gates)
def test_only_rejected_or_expired_gates_terminate(case: dict[str, Any]) -> None:
    got = decide(case)
    steps = [got] + ([got.if_not_moved] if got.if_not_moved else [])
    for step in steps:
        if step.step is Step.TERMINATE:
            assert case["status"] in (REJECTED, EXPIRED)
            assert case["pilot_stage"] is case["stage"]
            assert step.target is S.TERMINATED
            assert step.reason.startswith(
                ("rejected at " if case["status"] is REJECTED else "deadline passed at ")
                + LABELS[case["stage"]]
                + ": "
            )
        if step.step is Step.SEND_BACK:
            assert case["status"] is REJECTED and case["on_reject"] == "send_back"
        if step.step is Step.NONE:
            assert step.target is None


# ---------------------------------------------------------------- passed deadline: unit

EXTEND = OnTimeout(action="extend", days=7)
ESCALATE = OnTimeout(action="escalate", to_role="cio", days=5)
TERMINATE = OnTimeout()


def timeout(
    rule: OnTimeout,
    now: datetime,
    *,
    deadline: datetime = T0,
    extended: bool = False,
    escalated: bool = False,
) -> DeadlineDecision:
    return on_deadline(rule, deadline=deadline, now=now, extended=extended, escalated=escalated)


@pytest.mark.parametrize("rule", [EXTEND, ESCALATE, TERMINATE])
def test_nothing_happens_until_the_deadline_has_passed(rule: OnTimeout) -> None:
    for now in (T0 - timedelta(days=3), T0):
        got = timeout(rule, now)
        assert got == DeadlineDecision(TimeoutStep.NONE)
        assert got.action == "none" and got.describe() == "not yet due"
    assert timeout(rule, T0 + timedelta(microseconds=1)).step is not TimeoutStep.NONE


def test_extend_once_from_the_later_of_deadline_and_now() -> None:
    just_after = T0 + timedelta(seconds=1)
    got = timeout(EXTEND, just_after)
    assert got == DeadlineDecision(TimeoutStep.EXTEND, just_after + timedelta(days=7), days=7)
    assert got.action == "extended" and got.describe() == "extend by 7 days"
    late = T0 + timedelta(days=3)  # a sweep that ran late does not eat into the extension
    assert timeout(EXTEND, late).new_deadline == late + timedelta(days=7)
    again = timeout(EXTEND, late, extended=True)
    assert again == DeadlineDecision(TimeoutStep.EXPIRE)
    assert again.action == "expired" and again.describe() == "terminate"
    assert timeout(EXTEND, late, escalated=True).step is TimeoutStep.EXTEND


def test_escalate_once_to_the_named_role() -> None:
    now = T0 + timedelta(hours=1)
    got = timeout(ESCALATE, now)
    assert got == DeadlineDecision(
        TimeoutStep.ESCALATE, now + timedelta(days=5), days=5, to_role="cio"
    )
    assert got.action == "escalated" and got.describe() == "escalate to cio"
    assert timeout(ESCALATE, now, escalated=True).step is TimeoutStep.EXPIRE
    assert timeout(ESCALATE, now, extended=True).step is TimeoutStep.ESCALATE


def test_terminate_expires() -> None:
    got = timeout(TERMINATE, T0 + timedelta(days=1))
    assert got == DeadlineDecision(TimeoutStep.EXPIRE)
    assert got.describe() == "terminate"


def test_the_example_policy_describes_as_the_sweep_did() -> None:
    now = T0 + timedelta(days=1)
    texts = {s: timeout(POLICY.gate(s).on_timeout, now).describe() for s in FORWARD}
    assert texts == {
        S.PROPOSAL: "terminate",
        S.PILOT: "extend by 7 days",
        S.READINESS_REVIEW: "escalate to cio",
        S.INTERNAL_ROLLOUT: "escalate to cio",
        S.CUSTOMER_ROLLOUT: "terminate",
    }


@pytest.mark.parametrize(
    "rule,old_dry_run",
    [
        (
            OnTimeout.model_construct(action="extend", days=None, to_role=None),
            "extend by None days",
        ),
        (OnTimeout.model_construct(action="escalate", days=5, to_role=None), "escalate to None"),
        (OnTimeout.model_construct(action="escalate", days=None, to_role="cio"), "escalate to cio"),
    ],
)
def test_incomplete_rules_expire_and_say_so(rule: OnTimeout, old_dry_run: str) -> None:
    # The policy refuses these; built past validation, enforce_deadline expired the gate while
    # the sweep's dry run promised an extension or an escalation. The rule now says expire.
    now = T0 + timedelta(days=1)
    assert legacy_on_timeout(rule, extended=False, escalated=False) == old_dry_run
    assert legacy_enforce(rule, extended=False, escalated=False) == "expired"
    got = timeout(rule, now)
    assert got.step is TimeoutStep.EXPIRE and got.describe() == "terminate"


# ---------------------------------------------------------------- passed deadline: properties


def legacy_enforce(rule: OnTimeout, *, extended: bool, escalated: bool) -> str:
    """enforce_deadline's choice once the deadline passed (and the gate is undecided)."""
    if rule.action == "extend" and not extended and rule.days:
        return "extended"
    if rule.action == "escalate" and not escalated and rule.to_role and rule.days:
        return "escalated"
    return "expired"


def legacy_on_timeout(rule: OnTimeout, *, extended: bool, escalated: bool) -> str:
    """tasks/sweep.py::_on_timeout, the dry run's text."""
    if rule.action == "extend" and not extended:
        return f"extend by {rule.days} days"
    if rule.action == "escalate" and not escalated:
        return f"escalate to {rule.to_role}"
    return "terminate"


days = st.integers(min_value=1, max_value=90)
roles = st.sampled_from(sorted(POLICY.roles))
valid_rules = st.one_of(
    st.just(TERMINATE),
    st.builds(lambda d: OnTimeout(action="extend", days=d), days),
    st.builds(lambda r, d: OnTimeout(action="escalate", to_role=r, days=d), roles, days),
)
# Past validation: what a rule could hold if it were built without the policy's checks.
any_rules = st.builds(
    lambda a, r, d: OnTimeout.model_construct(action=a, to_role=r, days=d),
    st.sampled_from(["terminate", "extend", "escalate"]),
    st.none() | st.just("") | roles,
    st.none() | st.just(0) | days,
)
moments = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
)
deadline_cases = st.fixed_dictionaries(
    {
        "deadline": moments,
        "now": moments,
        "extended": st.booleans(),
        "escalated": st.booleans(),
    }
)


@given(valid_rules | any_rules, deadline_cases)
def test_on_deadline_decides_as_enforce_deadline_did(rule: OnTimeout, case: dict[str, Any]) -> None:
    got = on_deadline(rule, **case)
    if case["now"] <= case["deadline"]:
        assert got.step is TimeoutStep.NONE
    else:
        assert got.action == legacy_enforce(
            rule, extended=case["extended"], escalated=case["escalated"]
        )


@given(valid_rules | any_rules, deadline_cases)
def test_a_new_deadline_is_later_than_now_and_the_old_one(
    rule: OnTimeout, case: dict[str, Any]
) -> None:
    got = on_deadline(rule, **case)
    if got.step in (TimeoutStep.EXTEND, TimeoutStep.ESCALATE):
        assert got.new_deadline is not None and got.days is not None
        assert got.new_deadline > case["now"] and got.new_deadline > case["deadline"]
        assert got.new_deadline == max(case["now"], case["deadline"]) + timedelta(days=got.days)
    else:
        assert got.new_deadline is None and got.days is None and got.to_role is None
    assert (got.to_role is not None) == (got.step is TimeoutStep.ESCALATE)


@given(valid_rules | any_rules, deadline_cases)
def test_extend_and_escalate_happen_at_most_once(rule: OnTimeout, case: dict[str, Any]) -> None:
    assert on_deadline(rule, **{**case, "extended": True}).step is not TimeoutStep.EXTEND
    assert on_deadline(rule, **{**case, "escalated": True}).step is not TimeoutStep.ESCALATE


@given(valid_rules | any_rules, moments, st.lists(st.integers(1, 10**7), min_size=3, max_size=3))
def test_a_gate_nobody_answers_ends(
    rule: OnTimeout, deadline: datetime, lateness: list[int]
) -> None:
    extended = escalated = False
    seen = []
    for seconds in lateness:
        got = on_deadline(
            rule,
            deadline=deadline,
            now=deadline + timedelta(seconds=seconds),
            extended=extended,
            escalated=escalated,
        )
        seen.append(got.step)
        if got.step is TimeoutStep.EXPIRE:
            break
        assert got.new_deadline is not None
        deadline = got.new_deadline
        extended |= got.step is TimeoutStep.EXTEND
        escalated |= got.step is TimeoutStep.ESCALATE
    assert seen[-1] is TimeoutStep.EXPIRE and len(seen) <= 2


@given(valid_rules | any_rules, deadline_cases)
def test_describe_agrees_with_the_decision(rule: OnTimeout, case: dict[str, Any]) -> None:
    got = on_deadline(rule, **case)
    text = got.describe()
    expected = {
        TimeoutStep.NONE: "not yet due",
        TimeoutStep.EXTEND: f"extend by {got.days} days",
        TimeoutStep.ESCALATE: f"escalate to {got.to_role}",
        TimeoutStep.EXPIRE: "terminate",
    }[got.step]
    assert text == expected
    if got.step is TimeoutStep.EXTEND:
        assert got.days == rule.days
    if got.step is TimeoutStep.ESCALATE:
        assert (got.to_role, got.days) == (rule.to_role, rule.days)


@given(valid_rules, deadline_cases)
def test_for_a_valid_rule_the_text_is_the_sweeps_old_text(
    rule: OnTimeout, case: dict[str, Any]
) -> None:
    got = on_deadline(rule, **case)
    if got.step is not TimeoutStep.NONE:
        assert got.describe() == legacy_on_timeout(
            rule, extended=case["extended"], escalated=case["escalated"]
        )


# ---------------------------------------------------------------- deploy-or-terminate date


def test_the_proposals_approval_starts_the_clock() -> None:
    got = pilot_clock(S.PROPOSAL, S.PILOT, now=T0, policy=POLICY)
    assert got == PilotClock(
        pilot_started_at=T0, deploy_by=T0 + timedelta(days=182), limit_days=182
    )


def test_the_clock_uses_the_policys_limit(
    policy_data: dict[str, Any], make_policy: Callable[[dict[str, Any]], Policy]
) -> None:
    policy_data["portfolio"]["deploy_or_terminate_days"] = 90
    policy = make_policy(policy_data)
    assert deploy_limit_days(policy) == 90
    got = pilot_clock(S.PROPOSAL, S.PILOT, now=T0, policy=policy)
    assert got is not None and got.deploy_by == T0 + timedelta(days=90) and got.limit_days == 90


def test_without_a_policy_the_limit_is_182_days() -> None:
    assert DEFAULT_DEPLOY_OR_TERMINATE_DAYS == 182
    assert PortfolioRules().deploy_or_terminate_days == DEFAULT_DEPLOY_OR_TERMINATE_DAYS
    assert deploy_limit_days(None) == 182
    got = pilot_clock("proposal", "pilot", now=T0, policy=None)
    assert got is not None and got.deploy_by == T0 + timedelta(days=182)


def test_a_send_back_to_the_pilot_stage_keeps_the_clock() -> None:
    assert not starts_pilot_clock(S.READINESS_REVIEW, S.PILOT)
    assert pilot_clock(S.READINESS_REVIEW, S.PILOT, now=T0, policy=POLICY) is None


@given(
    st.sampled_from([(s, t) for s, targets in TRANSITIONS.items() for t in targets]),
    moments,
    st.integers(min_value=1, max_value=730),
)
def test_only_proposal_to_pilot_starts_a_clock(
    move: tuple[Stage, Stage], now: datetime, limit: int
) -> None:
    data = POLICY.model_dump(mode="json")
    data["portfolio"]["deploy_or_terminate_days"] = limit
    policy = Policy.model_validate(data)
    got = pilot_clock(*move, now=now, policy=policy)
    if move == (S.PROPOSAL, S.PILOT):
        assert got == PilotClock(now, now + timedelta(days=limit), limit)
        assert got.deploy_by > got.pilot_started_at
    else:
        assert got is None
