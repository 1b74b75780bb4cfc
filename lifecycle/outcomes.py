"""What a settled gate, a passed deadline and a started pilot lead to.

These rules used to live inside the tasks that act on them (tasks/gates.py, tasks/sweep.py,
store/repo.py), some of them twice: once where the change is made and once where the sweep's
dry run describes it. Here each is a pure function of its inputs and `now`, returning a small
frozen result, so the place that acts and the place that describes read the same answer, and
the rule can be tested without a database or an orchestrator.

Nothing here moves a pilot or writes a row. A decision can still come to nothing when it is
carried out (another process moved the pilot first); what to do then is part of the decision
(`NextStep.if_not_moved`) but noticing it is the caller's job.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from lifecycle.deadlines import deploy_by
from lifecycle.gates import GateStatus
from lifecycle.policy import OnTimeout, Policy
from lifecycle.stages import FORWARD, LIVE, SEND_BACK, Stage, check_transition, stage_label

# ---------------------------------------------------------------- settled gate -> next step

#: The statuses a gate can settle in; only these have a next step.
SETTLED: frozenset[GateStatus] = frozenset(
    {GateStatus.APPROVED, GateStatus.REJECTED, GateStatus.EXPIRED}
)


class Step(StrEnum):
    """What a settled gate does to its pilot."""

    ADVANCE = "advance"
    SEND_BACK = "send_back"
    TERMINATE = "terminate"
    NONE = "none"
    #: a value review passed (sustained or adjusted) or ran out unanswered: the pilot stays in
    #: production and its next review is scheduled (lifecycle.value_review).
    SUSTAIN = "sustain"
    #: a value review decided to retire the pilot: the recorded end of a production pilot.
    RETIRE = "retire"


#: Step -> the `outcome` word tasks report (TransitionApplied.outcome).
OUTCOME_WORDS: dict[Step, str] = {
    Step.ADVANCE: "advanced",
    Step.SEND_BACK: "sent_back",
    Step.TERMINATE: "terminate",
    Step.NONE: "none",
    Step.SUSTAIN: "sustained",
    Step.RETIRE: "retire",
}


@dataclass(frozen=True)
class NextStep:
    """The next step of a settled gate.

    `reason` is the text reported for the step: the gate's outcome reason for ADVANCE and
    SEND_BACK, the termination reason for TERMINATE, why nothing happens for NONE.
    """

    step: Step
    #: ADVANCE: the gate's target; SEND_BACK: SEND_BACK[stage]; TERMINATE: Stage.TERMINATED;
    #: NONE: None.
    target: Stage | None
    reason: str
    #: ADVANCE / SEND_BACK: the reason written to the pilot's stage history.
    history_reason: str | None = None
    #: ADVANCE / SEND_BACK: the step that applies instead when the move finds the pilot no
    #: longer in the gate's stage (another process moved it first). None for other steps.
    if_not_moved: NextStep | None = None

    @property
    def outcome(self) -> str:
        """The word tasks report for this step: advanced, sent_back, terminate or none."""
        return OUTCOME_WORDS[self.step]


def settled_status(status: GateStatus | str) -> GateStatus:
    """`status` as a GateStatus, refusing a gate that has not settled: an open gate has no
    next step yet."""
    try:
        value = GateStatus(status)
    except ValueError:
        value = GateStatus.PENDING
    if value not in SETTLED:
        allowed = ", ".join(sorted(s.value for s in SETTLED))
        raise ValueError(f"gate status {str(status)!r} is not settled (settled: {allowed})")
    return value


def outcome_reason_text(status: GateStatus | str, outcome_reason: str | None) -> str:
    """The reason a settled gate gives: its recorded outcome reason, else its status."""
    return outcome_reason or settled_status(status).value


def termination_reason(
    status: GateStatus | str, stage: Stage | str, outcome_reason: str | None
) -> str:
    """The reason a rejected or expired gate gives for terminating its pilot, as the pilot's
    owner and the register read it: "rejected at readiness review: ..." or "deadline passed
    at pilot: ..."."""
    value = settled_status(status)
    if value is GateStatus.APPROVED:
        raise ValueError("an approved gate does not terminate its pilot")
    what = "rejected" if value is GateStatus.REJECTED else "deadline passed"
    return f"{what} at {stage_label(stage)}: {outcome_reason_text(value, outcome_reason)}"


def sends_back(status: GateStatus | str, stage: Stage | str, on_reject: str) -> bool:
    """A rejection sends the pilot back a stage, instead of terminating it, only where the
    gate's policy says so and the lifecycle has a stage to go back to."""
    return (
        settled_status(status) is GateStatus.REJECTED
        and on_reject == "send_back"
        and (Stage(stage) in SEND_BACK)
    )


def next_step(
    status: GateStatus | str,
    *,
    stage: Stage | str,
    target: Stage | str,
    pilot_stage: Stage | str,
    on_reject: str,
    outcome_reason: str | None,
) -> NextStep:
    """What a settled gate does to its pilot, checked in this order:

    1. approved: ADVANCE to the gate's target. Whether the pilot is still in the gate's stage
       is not asked here: the move itself is conditional (`if_not_moved` is NONE, "pilot no
       longer in <stage>"), so a pilot another process already moved is left where it is.
    2. rejected, the gate's policy says `send_back` and the stage has a stage behind it:
       SEND_BACK to SEND_BACK[stage]. Should that move find the pilot gone, what applies is
       what steps 3-4 say for the same inputs (`if_not_moved`).
    3. the pilot is no longer in the gate's stage: NONE. It moved on or ended since the gate
       opened, and the gate's outcome is history; terminating it now would punish a pilot
       for a gate it already left.
    4. otherwise (rejected or expired): TERMINATE, with the reason the register keeps.

    Raises ValueError for a gate that has not settled, and IllegalTransition for a move the
    lifecycle does not allow (as moving the pilot would).
    """
    value = settled_status(status)
    stage, target, pilot_stage = Stage(stage), Stage(target), Stage(pilot_stage)
    reason = outcome_reason_text(value, outcome_reason)
    if stage in LIVE:
        return review_step(value, stage=stage, pilot_stage=pilot_stage, reason=reason)
    if value is GateStatus.APPROVED:
        check_transition(stage, target)
        return NextStep(
            Step.ADVANCE,
            target,
            reason,
            history_reason=f"gate approved: {reason}",
            if_not_moved=NextStep(Step.NONE, None, f"pilot no longer in {stage.value}"),
        )
    rest = _settle_in_place(value, stage, pilot_stage, outcome_reason)
    if sends_back(value, stage, on_reject):
        back = SEND_BACK[stage]
        check_transition(stage, back)
        return NextStep(
            Step.SEND_BACK, back, reason, history_reason=f"sent back: {reason}", if_not_moved=rest
        )
    return rest


def review_step(status: GateStatus, *, stage: Stage, pilot_stage: Stage, reason: str) -> NextStep:
    """What a settled value review (a gate at a live stage) does:

    - approved (sustained or adjusted): SUSTAIN, the pilot stays where it is;
    - rejected: RETIRE, the recorded end of a pilot in service, while it is still in the
      gate's stage (NONE if it already left it);
    - expired: SUSTAIN. Nobody answering is not a decision to retire: the pilot stays in
      service and the review is asked again at the next sweep.
    """
    if status is GateStatus.REJECTED:
        if pilot_stage != stage:
            return NextStep(
                Step.NONE, None, f"pilot is in {pilot_stage.value}, no longer in {stage.value}"
            )
        check_transition(stage, Stage.RETIRED)
        return NextStep(Step.RETIRE, Stage.RETIRED, f"retired at value review: {reason}")
    if status is GateStatus.EXPIRED:
        return NextStep(
            Step.SUSTAIN,
            stage,
            f"value review unanswered ({reason}): the pilot stays in {stage_label(stage)} "
            "and the review is asked again",
        )
    return NextStep(Step.SUSTAIN, stage, reason)


def _settle_in_place(
    status: GateStatus, stage: Stage, pilot_stage: Stage, outcome_reason: str | None
) -> NextStep:
    """A rejected or expired gate that moves nobody: history if the pilot left the gate's
    stage, else the end of the pilot."""
    if pilot_stage != stage:
        return NextStep(
            Step.NONE, None, f"pilot is in {pilot_stage.value}, no longer in {stage.value}"
        )
    return NextStep(
        Step.TERMINATE, Stage.TERMINATED, termination_reason(status, stage, outcome_reason)
    )


def queues_entry_flow(stage: Stage | str, policy: Policy) -> bool:
    """Whether entering `stage` queues that stage's flow: only a stage with a gate to leave it
    by, and only when that gate opens on entry (otherwise a programme manager runs `advance`
    when the stage has done its work)."""
    stage = Stage(stage)
    return stage in FORWARD and policy.gate(stage).open_on_entry


# ---------------------------------------------------------------- passed deadline


class TimeoutStep(StrEnum):
    """What a gate's passed deadline does."""

    NONE = "none"
    EXTEND = "extend"
    ESCALATE = "escalate"
    EXPIRE = "expire"


#: TimeoutStep -> the `action` word tasks report (DeadlineAction.action).
ACTION_WORDS: dict[TimeoutStep, str] = {
    TimeoutStep.NONE: "none",
    TimeoutStep.EXTEND: "extended",
    TimeoutStep.ESCALATE: "escalated",
    TimeoutStep.EXPIRE: "expired",
}


@dataclass(frozen=True)
class DeadlineDecision:
    """What to do about a gate's deadline at `now`."""

    step: TimeoutStep
    #: EXTEND / ESCALATE: the gate's new deadline.
    new_deadline: datetime | None = None
    #: EXTEND / ESCALATE: the days the new deadline adds.
    days: int | None = None
    #: ESCALATE: the role asked next.
    to_role: str | None = None

    @property
    def action(self) -> str:
        """The word tasks report: none, extended, escalated or expired."""
        return ACTION_WORDS[self.step]

    def describe(self, stage: Stage | str | None = None) -> str:
        """The sweep's dry-run text: "extend by N days", "escalate to ROLE", "terminate" (an
        expired gate ends its pilot), or "not yet due". An expired value review (a gate of a
        live `stage`) does not end the pilot: it is sustained and asked again."""
        if self.step is TimeoutStep.EXTEND:
            return f"extend by {self.days} days"
        if self.step is TimeoutStep.ESCALATE:
            return f"escalate to {self.to_role}"
        if self.step is TimeoutStep.EXPIRE:
            if stage is not None and Stage(stage) in LIVE:
                return "sustain unanswered, review asked again"
            return "terminate"
        return "not yet due"


def on_deadline(
    rule: OnTimeout, *, deadline: datetime, now: datetime, extended: bool, escalated: bool
) -> DeadlineDecision:
    """What a gate's on_timeout rule does once its deadline has passed.

    - not past (now <= deadline): NONE; the deadline is the last moment a decision counts.
    - `extend`, not extended before, with days: EXTEND once.
    - `escalate`, not escalated before, with a role and days: ESCALATE once.
    - anything else: EXPIRE (the gate's outcome then terminates the pilot).

    Extension and escalation happen at most once (`extended` / `escalated`: the gate's
    extended_at / escalated_at is set), so a gate nobody answers still ends. The new deadline
    counts from the later of the old deadline and `now`: a sweep that runs late must not eat
    into the extra time it grants.

    Whether the gate is still open and still undecided (its evaluation is EXPIRED) is the
    caller's to check first; this is only what the rule says about time.
    """
    if now <= deadline:
        return DeadlineDecision(TimeoutStep.NONE)
    base = max(deadline, now)
    if rule.action == "extend" and not extended and rule.days:
        return DeadlineDecision(
            TimeoutStep.EXTEND, base + timedelta(days=rule.days), days=rule.days
        )
    if rule.action == "escalate" and not escalated and rule.to_role and rule.days:
        return DeadlineDecision(
            TimeoutStep.ESCALATE,
            base + timedelta(days=rule.days),
            days=rule.days,
            to_role=rule.to_role,
        )
    return DeadlineDecision(TimeoutStep.EXPIRE)


# ---------------------------------------------------------------- deploy-or-terminate date

#: The limit used when no policy is given (store.repo.move_stage's fallback; the same as
#: PortfolioRules' default).
DEFAULT_DEPLOY_OR_TERMINATE_DAYS = 182


@dataclass(frozen=True)
class PilotClock:
    """When a pilot's deploy-or-terminate clock started and when it runs out."""

    pilot_started_at: datetime
    deploy_by: datetime
    limit_days: int


def starts_pilot_clock(source: Stage | str, target: Stage | str) -> bool:
    """Only the proposal's approval (proposal -> pilot) starts the clock. A pilot sent back to
    the pilot stage keeps the date it already had: a send-back is no fresh start."""
    return Stage(source) == Stage.PROPOSAL and Stage(target) == Stage.PILOT


def deploy_limit_days(policy: Policy | None) -> int:
    """The deploy-or-terminate limit: the policy's portfolio limit, 182 days without one."""
    if policy is None:
        return DEFAULT_DEPLOY_OR_TERMINATE_DAYS
    return policy.portfolio.deploy_or_terminate_days


def pilot_clock(
    source: Stage | str, target: Stage | str, *, now: datetime, policy: Policy | None
) -> PilotClock | None:
    """The clock a stage change starts, or None when it starts none.

    A pilot starts when its proposal is approved (`now` of that move) and must deploy or be
    terminated `deploy_limit_days(policy)` days later. A proposal has no clock: a new pilot
    is recorded with neither date, and a proposal left too long is caught by
    `portfolio.proposal_days` instead.

    The proposal's own `pilot_duration_days` is not used: it is only checked against the
    limit when the proposal is filed, and the date always comes from the policy's limit (a
    known gap, kept as it is).
    """
    if not starts_pilot_clock(source, target):
        return None
    limit = deploy_limit_days(policy)
    return PilotClock(pilot_started_at=now, deploy_by=deploy_by(now, limit), limit_days=limit)
