"""What a new policy would do to today's portfolio, pilot by pilot, before anyone switches.

`pilotgate policy simulate NEW.yaml` reads the register (store.read_simulation), hands it here
with the policy in force and the new one, and prints the findings. Nothing is written: the
simulation is a pure function of the register snapshot, the two policies and `now`, so the
answer can be tested without a database and the database is never touched by asking.

What it tells, and why each is worded as it is:
- a portfolio over NEW's cap: no pilot there starts until enough end (nobody is stopped);
- a pilot past NEW's deploy-or-terminate limit: informational, since pilots keep the deploy-by
  date recorded when they started (the sweep acts on the recorded date);
- an open gate whose quorum NEW would set differently: open gates keep the quorum they opened
  under; the finding says what it would still need if the new quorum were re-applied;
- a later gate NEW could not meet for this pilot (not enough eligible members);
- what the next sweep at `now` would do under NEW where it differs from today: terminate a
  stale proposal, or treat a gate past its deadline differently (extend, escalate, expire).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from lifecycle.deadlines import deploy_by
from lifecycle.gates import GateUnsatisfiable, plan_gate
from lifecycle.outcomes import DeadlineDecision, TimeoutStep, on_deadline
from lifecycle.policy import Policy
from lifecycle.proposal import Proposal
from lifecycle.stages import ACTIVE, FORWARD, Stage, stage_label


class FindingKind(StrEnum):
    CAP = "cap"
    DEPLOY_LIMIT = "deploy_limit"
    OPEN_GATE = "open_gate"
    LATER_GATE = "later_gate"
    SWEEP = "sweep"


@dataclass(frozen=True)
class OpenGateView:
    gate_id: int
    stage: Stage
    target: Stage
    quorum: dict[str, int]
    deadline: datetime
    extended: bool
    escalated: bool
    #: role -> approvers whose approval counts so far.
    approvals: dict[str, list[str]]
    #: the policy it opened under, as recorded (None for gates older than policy stamps).
    policy: str | None = None


@dataclass(frozen=True)
class PilotView:
    id: str
    title: str
    portfolio: str
    stage: Stage
    proposal: Proposal
    created_at: datetime
    pilot_started_at: datetime | None
    deploy_by: datetime | None
    #: any gate at all (a proposal with none was never put to its gate).
    has_gate: bool
    open_gate: OpenGateView | None = None


@dataclass(frozen=True)
class Finding:
    kind: FindingKind
    portfolio: str
    text: str
    pilot_id: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {
            "kind": self.kind.value,
            "portfolio": self.portfolio,
            "pilot_id": self.pilot_id,
            "text": self.text,
        }


@dataclass(frozen=True)
class Simulation:
    pilots_read: int
    findings: tuple[Finding, ...] = field(default_factory=tuple)

    def for_pilot(self, pilot_id: str) -> list[Finding]:
        return [f for f in self.findings if f.pilot_id == pilot_id]


def _quorum(quorum: dict[str, int]) -> str:
    return ", ".join(f"{role} {count}" for role, count in sorted(quorum.items())) or "none"


def _caps(pilots: Sequence[PilotView], current: Policy, new: Policy) -> list[Finding]:
    active: dict[str, int] = {}
    for pilot in pilots:
        if pilot.stage in ACTIVE:
            active[pilot.portfolio] = active.get(pilot.portfolio, 0) + 1
    findings = []
    for portfolio, count in sorted(active.items()):
        cap = new.portfolio.cap_for(portfolio)
        if count > cap:
            was = current.portfolio.cap_for(portfolio)
            findings.append(
                Finding(
                    FindingKind.CAP,
                    portfolio,
                    f"portfolio {portfolio} has {count} active pilots; the new cap is {cap} "
                    f"(today {was}): no pilot starts there until {count - cap} end(s)",
                )
            )
    return findings


def _deploy_limit(pilot: PilotView, new: Policy, now: datetime) -> list[Finding]:
    if pilot.pilot_started_at is None or pilot.stage not in ACTIVE:
        return []
    days = new.portfolio.deploy_or_terminate_days
    limit = deploy_by(pilot.pilot_started_at, days)
    if limit >= now:
        return []
    recorded = f"{pilot.deploy_by:%Y-%m-%d}" if pilot.deploy_by else "none"
    return [
        Finding(
            FindingKind.DEPLOY_LIMIT,
            pilot.portfolio,
            f"past the new {days}-day deploy-or-terminate limit (pilot started "
            f"{pilot.pilot_started_at:%Y-%m-%d}, the limit ended {limit:%Y-%m-%d}); pilots "
            f"keep the deploy-by date they started with ({recorded})",
            pilot.id,
        )
    ]


def _open_gate(pilot: PilotView, new: Policy) -> list[Finding]:
    gate = pilot.open_gate
    if gate is None:
        return []
    where = f"open gate {stage_label(gate.stage)} -> {stage_label(gate.target)}"
    try:
        plan = plan_gate(new, pilot.proposal, gate.stage, gate.target)
    except GateUnsatisfiable as exc:
        return [
            Finding(
                FindingKind.OPEN_GATE,
                pilot.portfolio,
                f"{where}: the new policy could not be met here ({exc}); the gate keeps the "
                f"quorum it opened under ({_quorum(gate.quorum)})",
                pilot.id,
            )
        ]
    if plan.quorum == gate.quorum:
        return []
    still = {
        role: count - len(gate.approvals.get(role, []))
        for role, count in plan.quorum.items()
        if count > len(gate.approvals.get(role, []))
    }
    under = f" under {gate.policy}" if gate.policy else ""
    return [
        Finding(
            FindingKind.OPEN_GATE,
            pilot.portfolio,
            f"{where} keeps the quorum it opened{under} ({_quorum(gate.quorum)}); the new "
            f"policy asks {_quorum(plan.quorum)}: re-applied, it would still need "
            f"{_quorum(still) if still else 'nothing more (it would be met)'}",
            pilot.id,
        )
    ]


def _later_gates(pilot: PilotView, current: Policy, new: Policy) -> list[Finding]:
    """Gates still ahead of the pilot (its current stage's, unless already open, and every
    one after) that the new policy could not meet for it, where today's policy could."""
    if pilot.stage not in ACTIVE or pilot.stage not in FORWARD:
        return []
    stages = list(FORWARD)
    ahead = stages[stages.index(pilot.stage) :]
    if pilot.open_gate is not None:
        ahead = ahead[1:]
    findings = []
    for stage in ahead:
        target = FORWARD[stage]
        try:
            plan_gate(new, pilot.proposal, stage, target)
        except GateUnsatisfiable as exc:
            if _satisfiable(current, pilot.proposal, stage):
                findings.append(
                    Finding(
                        FindingKind.LATER_GATE,
                        pilot.portfolio,
                        f"the gate {stage_label(stage)} -> {stage_label(target)} could not "
                        f"be met under the new policy: {exc}",
                        pilot.id,
                    )
                )
    return findings


def _satisfiable(policy: Policy, proposal: Proposal, stage: Stage) -> bool:
    try:
        plan_gate(policy, proposal, stage, FORWARD[stage])
    except GateUnsatisfiable:
        return False
    return True


def _deadline_words(decision: DeadlineDecision) -> str:
    if decision.step is TimeoutStep.EXTEND:
        return f"extend it once to {decision.new_deadline:%Y-%m-%d %H:%M} UTC"
    if decision.step is TimeoutStep.ESCALATE:
        return f"escalate it to {decision.to_role} until {decision.new_deadline:%Y-%m-%d %H:%M} UTC"
    if decision.step is TimeoutStep.EXPIRE:
        return "let it expire and terminate the pilot"
    return "leave it open"


def _sweep(pilot: PilotView, current: Policy, new: Policy, now: datetime) -> list[Finding]:
    findings = []
    if pilot.stage is Stage.PROPOSAL and not pilot.has_gate:
        stale_new = pilot.created_at < now - timedelta(days=new.portfolio.proposal_days)
        stale_now = pilot.created_at < now - timedelta(days=current.portfolio.proposal_days)
        if stale_new and not stale_now:
            findings.append(
                Finding(
                    FindingKind.SWEEP,
                    pilot.portfolio,
                    f"the next sweep would terminate it: proposed {pilot.created_at:%Y-%m-%d} "
                    f"and never put to its gate within the new {new.portfolio.proposal_days} "
                    "days",
                    pilot.id,
                )
            )
        elif stale_now and not stale_new:
            findings.append(
                Finding(
                    FindingKind.SWEEP,
                    pilot.portfolio,
                    "the next sweep would no longer terminate it as a stale proposal (the new "
                    f"limit is {new.portfolio.proposal_days} days)",
                    pilot.id,
                )
            )
    gate = pilot.open_gate
    if gate is not None and gate.stage in new.gates and gate.stage in current.gates:

        def rule_of(policy: Policy) -> DeadlineDecision:
            return on_deadline(
                policy.gate(gate.stage).on_timeout,
                deadline=gate.deadline,
                now=now,
                extended=gate.extended,
                escalated=gate.escalated,
            )

        under_new, under_now = rule_of(new), rule_of(current)
        if under_new != under_now:
            findings.append(
                Finding(
                    FindingKind.SWEEP,
                    pilot.portfolio,
                    f"its gate's deadline ({gate.deadline:%Y-%m-%d %H:%M} UTC) has passed: "
                    f"the next sweep would {_deadline_words(under_new)} (today it would "
                    f"{_deadline_words(under_now)})",
                    pilot.id,
                )
            )
    return findings


def simulate(
    pilots: Sequence[PilotView], current: Policy, new: Policy, now: datetime
) -> Simulation:
    """Every finding of switching from `current` to `new` at `now`, portfolio-wide first,
    then pilot by pilot in the order given."""
    findings = _caps(pilots, current, new)
    for pilot in pilots:
        findings += _deploy_limit(pilot, new, now)
        findings += _open_gate(pilot, new)
        findings += _later_gates(pilot, current, new)
        findings += _sweep(pilot, current, new, now)
    return Simulation(len(pilots), tuple(findings))
