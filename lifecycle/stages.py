"""The lifecycle as data: stages and the transitions between them.

The graph is checked when this module is imported (python-statemachine's habit): a stage no
path reaches, an exit from a terminal stage, a pre-production stage that cannot be
terminated, a live stage that cannot be retired, or a stage with no way to a terminal stage is
a programming error and fails at import, not in the middle of a pilot's life.

Three kinds of stage, named once here so no caller has to spell them out:

* ACTIVE: the pre-production stages. They hold a place under the portfolio's cap, run against
  the deploy-or-terminate date, and end (if they end early) by termination.
* LIVE: production. No cap place, no deploy-by date, no stage gate to pass; it meets a value
  review now and then (sustain, adjust, retire) and ends only by retirement.
* TERMINAL: terminated and retired, recorded ends with no exits.

`not in ACTIVE` is what "past the pipeline" meant when production was terminal: no `advance`,
no `terminate`, no cap place.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum


class Stage(StrEnum):
    PROPOSAL = "proposal"
    PILOT = "pilot"
    READINESS_REVIEW = "readiness_review"
    INTERNAL_ROLLOUT = "internal_rollout"
    CUSTOMER_ROLLOUT = "customer_rollout"
    PRODUCTION = "production"
    TERMINATED = "terminated"
    RETIRED = "retired"


INITIAL: Stage = Stage.PROPOSAL
#: Recorded ends: no exits.
TERMINAL: frozenset[Stage] = frozenset({Stage.TERMINATED, Stage.RETIRED})
#: In service: reviewed for value, ended by retirement, never terminated.
LIVE: frozenset[Stage] = frozenset({Stage.PRODUCTION})
#: How each recorded end is reached, and from which stages.
ENDS: dict[Stage, frozenset[Stage]] = {
    Stage.TERMINATED: frozenset(s for s in Stage if s not in TERMINAL and s not in LIVE),
    Stage.RETIRED: LIVE,
}

#: The forward path a pilot takes when every gate approves.
FORWARD: dict[Stage, Stage] = {
    Stage.PROPOSAL: Stage.PILOT,
    Stage.PILOT: Stage.READINESS_REVIEW,
    Stage.READINESS_REVIEW: Stage.INTERNAL_ROLLOUT,
    Stage.INTERNAL_ROLLOUT: Stage.CUSTOMER_ROLLOUT,
    Stage.CUSTOMER_ROLLOUT: Stage.PRODUCTION,
}

#: Where a rejection may send a pilot back to, when the gate's policy says `send_back`.
SEND_BACK: dict[Stage, Stage] = {
    Stage.READINESS_REVIEW: Stage.PILOT,
    Stage.INTERNAL_ROLLOUT: Stage.READINESS_REVIEW,
    Stage.CUSTOMER_ROLLOUT: Stage.INTERNAL_ROLLOUT,
}


class GraphError(ValueError):
    """The transition table breaks a rule of the lifecycle."""


class IllegalTransition(ValueError):
    """A stage change the lifecycle does not allow."""

    def __init__(self, source: Stage, target: Stage) -> None:
        allowed = ", ".join(sorted(s.value for s in TRANSITIONS.get(source, frozenset()))) or "none"
        super().__init__(
            f"cannot move from {source.value} to {target.value} "
            f"(allowed from {source.value}: {allowed})"
        )
        self.source = source
        self.target = target


def build_transitions() -> dict[Stage, frozenset[Stage]]:
    table: dict[Stage, set[Stage]] = {stage: set() for stage in Stage}
    for source, target in FORWARD.items():
        table[source].add(target)
    for source, target in SEND_BACK.items():
        table[source].add(target)
    for end, sources in ENDS.items():
        for stage in sources:
            table[stage].add(end)
    return {stage: frozenset(targets) for stage, targets in table.items()}


def validate_graph(
    table: Mapping[Stage, Iterable[Stage]],
    initial: Stage = INITIAL,
    terminal: frozenset[Stage] = TERMINAL,
    live: frozenset[Stage] = LIVE,
) -> None:
    """Raise GraphError unless the table is a sound lifecycle: every stage reached from
    `initial`; terminal stages without exits; every pre-production stage can be terminated;
    every live stage can be retired and cannot be terminated (it is in service: ending it is
    a value decision, on record as a retirement); every stage has a path to a terminal one."""
    edges = {source: frozenset(targets) for source, targets in table.items()}
    for stage in Stage:
        edges.setdefault(stage, frozenset())
    for stage in terminal:
        if edges[stage]:
            exits = ", ".join(sorted(t.value for t in edges[stage]))
            raise GraphError(f"terminal stage {stage.value} has exits: {exits}")
    reached = {initial}
    frontier = [initial]
    while frontier:
        for target in edges[frontier.pop()]:
            if target not in reached:
                reached.add(target)
                frontier.append(target)
    unreachable = [s.value for s in Stage if s not in reached]
    if unreachable:
        raise GraphError(f"unreachable stages: {', '.join(unreachable)}")
    for stage in Stage:
        if stage in terminal:
            continue
        if stage in live:
            if Stage.RETIRED not in edges[stage]:
                raise GraphError(f"live stage {stage.value} cannot be retired")
            if Stage.TERMINATED in edges[stage]:
                raise GraphError(
                    f"live stage {stage.value} can be terminated; it ends by retirement"
                )
        elif Stage.TERMINATED not in edges[stage]:
            raise GraphError(f"stage {stage.value} cannot be terminated")
        elif Stage.RETIRED in edges[stage]:
            raise GraphError(
                f"stage {stage.value} can be retired; only a live stage ends by retirement"
            )
        seen = {stage}
        frontier = [stage]
        found = False
        while frontier and not found:
            for target in edges[frontier.pop()]:
                if target in terminal:
                    found = True
                    break
                if target not in seen:
                    seen.add(target)
                    frontier.append(target)
        if not found:
            raise GraphError(f"stage {stage.value} has no path to a terminal stage")


TRANSITIONS: dict[Stage, frozenset[Stage]] = build_transitions()
validate_graph(TRANSITIONS)

#: The pre-production stages: a pilot in one holds a place under its portfolio's cap and runs
#: against its deploy-or-terminate date.
ACTIVE: frozenset[Stage] = frozenset(s for s in Stage if s not in TERMINAL and s not in LIVE)


def can_transition(source: Stage, target: Stage) -> bool:
    return target in TRANSITIONS[source]


def check_transition(source: Stage, target: Stage) -> None:
    if not can_transition(source, target):
        raise IllegalTransition(source, target)


def next_stage(stage: Stage) -> Stage:
    """The stage an approved gate leads to."""
    if stage not in FORWARD:
        raise IllegalTransition(stage, stage)
    return FORWARD[stage]


def parse_stage(value: str) -> Stage:
    try:
        return Stage(value)
    except ValueError:
        allowed = ", ".join(s.value for s in Stage)
        raise ValueError(f"unknown stage {value!r}; allowed: {allowed}") from None


def stage_label(stage: Stage | str) -> str:
    """A stage as people read it ("readiness review"), in messages, reasons and reports."""
    return Stage(stage).value.replace("_", " ")
