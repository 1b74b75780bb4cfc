"""Gate rules: who is asked, and whether a gate is pending, approved, rejected or expired.

`evaluate_gate` is a pure function of the requests, the decisions and `now`, so the same answer
comes out of the Slack listener, the flow that resumes after a click and the sweep that runs a
week later from the database alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from lifecycle.policy import CUSTOMER_ROLLOUT_GUARDS, Policy
from lifecycle.proposal import Proposal
from lifecycle.stages import FORWARD, Stage


class GateStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"


class Verdict(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    #: a value review's "keep it, but change this" (with a note): counts toward the quorum
    #: as an approval does; the review then settles as adjusted, and comes round sooner.
    ADJUST = "adjust"


class GateUnsatisfiable(ValueError):
    """The policy asks for more sign-offs than eligible people can give."""


@dataclass(frozen=True)
class Ask:
    """One person asked to sign off, in one role."""

    approver: str
    role: str


@dataclass(frozen=True)
class GatePlan:
    """The sign-offs a gate needs, decided when it opens."""

    stage: Stage
    target: Stage
    quorum: dict[str, int]
    asks: tuple[Ask, ...]
    any_rejection_rejects: bool
    excluded: frozenset[str]
    #: roles an escalation cannot stand in for (risk-tier, customer-facing and named reviews).
    firm: frozenset[str] = frozenset()


def firm_roles(policy: Policy, proposal: Proposal, stage: Stage) -> frozenset[str]:
    """The sign-offs that exist because of what this pilot is (its risk tier, its customers,
    the reviews it named): an escalation to a senior role may break a deadlock among the
    gate's usual approvers, never waive a security, compliance or operations review."""
    firm: set[str] = set()
    tier = policy.risk_tiers.get(proposal.risk_tier)
    if tier:
        firm |= set(tier.extra_approvers.get(stage, {}))
    if proposal.customer_facing:
        firm |= set(policy.customer_facing.extra_approvers.get(stage, {}))
    if stage in (Stage.READINESS_REVIEW, Stage.INTERNAL_ROLLOUT):
        firm |= set(proposal.reviews)
    if stage is Stage.INTERNAL_ROLLOUT and (
        proposal.risk_tier.value == "high" or proposal.customer_facing
    ):
        firm |= set(CUSTOMER_ROLLOUT_GUARDS) & set(quorum_for(policy, proposal, stage))
    return frozenset(firm)


def quorum_for(policy: Policy, proposal: Proposal, stage: Stage) -> dict[str, int]:
    """Base quorum of the gate plus risk-tier, customer-facing and proposal-named reviews."""
    quorum = dict(policy.gate(stage).approvers)

    def add(extra: dict[str, int]) -> None:
        for role, count in extra.items():
            quorum[role] = max(quorum.get(role, 0), count)

    tier = policy.risk_tiers.get(proposal.risk_tier)
    if tier:
        add(tier.extra_approvers.get(stage, {}))
    if proposal.customer_facing:
        add(policy.customer_facing.extra_approvers.get(stage, {}))
    # Named reviews sign off before internal users and again before customers.
    if stage in (Stage.READINESS_REVIEW, Stage.INTERNAL_ROLLOUT):
        add({role: 1 for role in proposal.reviews})
    return quorum


def excluded_approvers(policy: Policy, proposal: Proposal) -> frozenset[str]:
    """Separation of duties: nobody signs off a pilot they proposed or own."""
    if not policy.portfolio.separation_of_duties:
        return frozenset()
    return frozenset({proposal.proposer.slack_id, proposal.business_owner.slack_id})


def plan_gate(policy: Policy, proposal: Proposal, stage: Stage, target: Stage) -> GatePlan:
    quorum = quorum_for(policy, proposal, stage)
    excluded = excluded_approvers(policy, proposal)
    asks: list[Ask] = []
    asked: set[str] = set()
    problems = []
    for role, count in quorum.items():
        eligible = [m for m in policy.members(role) if m not in excluded]
        if len(eligible) < count:
            problems.append(
                f"role {role} needs {count} approver(s) but only {len(eligible)} "
                f"member(s) may sign off on this pilot (proposer and business owner "
                f"are excluded)"
            )
        for member in eligible:
            # A person in two roles is asked once per role: each answer counts for its role.
            asks.append(Ask(member, role))
            asked.add(member)
    if problems:
        raise GateUnsatisfiable("; ".join(problems))
    return GatePlan(
        stage,
        target,
        quorum,
        tuple(asks),
        policy.gate(stage).any_rejection_rejects,
        excluded,
        firm_roles(policy, proposal, stage),
    )


def check_satisfiable(policy: Policy, proposal: Proposal) -> list[str]:
    """Every gate this pilot will meet, planned now: a proposal whose own people make a later
    gate impossible (the only security reviewer proposed it) is refused at the door, not at
    readiness review months later."""
    problems = []
    for stage, target in FORWARD.items():
        try:
            plan_gate(policy, proposal, stage, target)
        except GateUnsatisfiable as exc:
            problems.append(f"gate {stage.value} -> {target.value}: {exc}")
    if policy.value.review is not None:
        # The value review in production is a gate too (its target is production itself).
        try:
            plan_gate(policy, proposal, Stage.PRODUCTION, Stage.PRODUCTION)
        except GateUnsatisfiable as exc:
            problems.append(f"value review in production: {exc}")
    return problems


@dataclass(frozen=True)
class RequestView:
    request_id: int
    approver: str
    role: str
    #: 0 for the original asks, 1 for an escalation.
    round: int = 0


@dataclass(frozen=True)
class DecisionView:
    request_id: int
    approver: str
    verdict: Verdict
    decided_at: datetime
    reason: str | None = None


@dataclass(frozen=True)
class GateState:
    """What the database knows about a gate, for evaluation."""

    quorum: dict[str, int]
    deadline: datetime
    any_rejection_rejects: bool = True
    excluded: frozenset[str] = frozenset()
    #: after an escalation, one approval from this role decides the gate...
    escalation_role: str | None = None
    #: ...once these roles have their quorum (an escalation never waives them).
    firm: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Evaluation:
    status: GateStatus
    approvals: dict[str, list[str]] = field(default_factory=dict)
    missing: dict[str, int] = field(default_factory=dict)
    rejections: list[DecisionView] = field(default_factory=list)
    ignored: list[tuple[DecisionView, str]] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    @property
    def resolved(self) -> bool:
        return self.status is not GateStatus.PENDING


def evaluate_gate(
    state: GateState,
    requests: Sequence[RequestView],
    decisions: Iterable[DecisionView],
    now: datetime,
) -> Evaluation:
    by_id = {r.request_id: r for r in requests}
    approvals: dict[str, list[str]] = {role: [] for role in state.quorum}
    escalation_approvals: list[str] = []
    rejections: list[DecisionView] = []
    ignored: list[tuple[DecisionView, str]] = []
    for d in sorted(decisions, key=lambda d: d.decided_at):
        request = by_id.get(d.request_id)
        if request is None or request.approver != d.approver:
            ignored.append((d, "not a request made of this approver"))
            continue
        if d.approver in state.excluded:
            ignored.append((d, "separation of duties: proposer or business owner"))
            continue
        if d.decided_at > state.deadline:
            ignored.append((d, "decided after the deadline"))
            continue
        if d.verdict is Verdict.REJECT:
            rejections.append(d)
            continue
        if request.round > 0 and request.role == state.escalation_role:
            escalation_approvals.append(d.approver)
        elif request.role in approvals and d.approver not in approvals[request.role]:
            approvals[request.role].append(d.approver)

    missing = {role: max(0, need - len(approvals[role])) for role, need in state.quorum.items()}
    reasons = [f"{d.approver} rejected: {d.reason or 'no reason given'}" for d in rejections]
    if rejections and state.any_rejection_rejects:
        return Evaluation(GateStatus.REJECTED, approvals, missing, rejections, ignored, reasons)
    if escalation_approvals and not any(missing.get(role, 0) for role in state.firm):
        return Evaluation(
            GateStatus.APPROVED,
            approvals,
            missing,
            rejections,
            ignored,
            [f"approved on escalation by {', '.join(escalation_approvals)}"],
        )
    if not any(missing.values()):
        return Evaluation(
            GateStatus.APPROVED,
            approvals,
            missing,
            rejections,
            ignored,
            [
                "quorum reached: "
                + ", ".join(
                    f"{role} {len(v)}/{state.quorum[role]}" for role, v in approvals.items()
                )
            ],
        )
    # Majority-style gates: reject once the quorum can no longer be reached.
    rejected_by = {(d.approver, by_id[d.request_id].role) for d in rejections}
    for role, need in missing.items():
        still_open = {
            r.approver
            for r in requests
            if r.role == role
            and r.round == 0
            and r.approver not in state.excluded
            and (r.approver, role) not in rejected_by
            and r.approver not in approvals[role]
        }
        if need > len(still_open):
            return Evaluation(
                GateStatus.REJECTED,
                approvals,
                missing,
                rejections,
                ignored,
                reasons + [f"quorum for {role} can no longer be reached"],
            )
    if now > state.deadline:
        return Evaluation(
            GateStatus.EXPIRED,
            approvals,
            missing,
            rejections,
            ignored,
            [
                "deadline passed with "
                + ", ".join(f"{role} {n} short" for role, n in missing.items() if n)
            ],
        )
    return Evaluation(GateStatus.PENDING, approvals, missing, rejections, ignored, [])


def deadline_after(opened_at: datetime, days: int) -> datetime:
    return opened_at + timedelta(days=days)
