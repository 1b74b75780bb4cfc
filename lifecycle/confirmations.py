"""Readiness criteria someone actually confirmed, and the evidence a risk tier requires.

A proposal *declares* its readiness criteria; declaring is not meeting. Where the policy says
who confirms a category (`evidence.confirm_by: {technical: architecture, ...}`), each item of
that category is a criterion a member of that role confirms with a link or a note
(`pilotgate confirm`). Until then the readiness evidence shows it as "not confirmed", and
`evidence.unconfirmed` decides whether that blocks the gate or only warns.

A risk tier (or customer-facing use) may also require evidence of its own
(`risk_tiers.high.required_evidence`: a human-oversight plan, an impact assessment), confirmed
by a named role before the pilot leaves a stage; that always blocks.

Keys name criteria the way people point at them: `technical.1` (1-based, in proposal order),
`operational.2`, `business_case`, `required.<name>`. Pure: no I/O, time is an input.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from lifecycle.evidence import MET, NOT_CONFIRMED, CriterionCheck, Evidence
from lifecycle.policy import EvidenceRules, Policy, RequiredEvidence
from lifecycle.proposal import Proposal
from lifecycle.stages import Stage

#: the longest note a confirmation keeps (a link says the rest).
MAX_NOTE = 2000
URL = re.compile(r"^https?://[^\s<>|]+$")


@dataclass(frozen=True)
class Criterion:
    key: str
    text: str
    #: the role whose member confirms it.
    role: str
    #: always blocks its gate until confirmed (a risk tier's required evidence).
    required: bool = False
    #: the stage whose leaving gate checks it.
    before: Stage = Stage.READINESS_REVIEW


@dataclass(frozen=True)
class Confirmation:
    criterion: str
    confirmed_by: str
    role: str
    confirmed_at: datetime
    note: str | None = None
    link: str | None = None


@dataclass(frozen=True)
class CriterionStatus:
    criterion: Criterion
    confirmation: Confirmation | None

    @property
    def status(self) -> str:
        return MET if self.confirmation else NOT_CONFIRMED

    def detail(self) -> str:
        c = self.confirmation
        if c is None:
            return f"{self.criterion.text}; not confirmed ({self.criterion.role} confirms)"
        how = c.link or c.note or ""
        return (
            f"{self.criterion.text}; confirmed by {c.confirmed_by} ({c.role}) "
            f"{c.confirmed_at:%Y-%m-%d}" + (f": {how}" if how else "")
        )


def _required(policy: Policy, proposal: Proposal) -> list[RequiredEvidence]:
    found: dict[str, RequiredEvidence] = {}
    tier = policy.risk_tiers.get(proposal.risk_tier)
    sources = [tier.required_evidence if tier else []]
    if proposal.customer_facing:
        sources.append(policy.customer_facing.required_evidence)
    for source in sources:
        for item in source:
            found.setdefault(item.name, item)
    return list(found.values())


def criteria_of(policy: Policy, proposal: Proposal) -> list[Criterion]:
    """Every criterion of this pilot that someone must confirm, in a stable order."""
    confirm_by = policy.evidence.confirm_by
    criteria: list[Criterion] = []
    declared = proposal.readiness_criteria
    technical, operational = confirm_by.get("technical"), confirm_by.get("operational")
    for category, role, items in (
        ("technical", technical, declared.technical),
        ("operational", operational, declared.operational),
    ):
        if role:
            criteria += [
                Criterion(f"{category}.{i}", text, role) for i, text in enumerate(items, start=1)
            ]
    if confirm_by.get("business_case"):
        criteria.append(
            Criterion("business_case", declared.business_case, confirm_by["business_case"])
        )
    for item in _required(policy, proposal):
        criteria.append(
            Criterion(
                f"required.{item.name}", item.description, item.confirmed_by, True, item.before
            )
        )
    return criteria


def statuses(
    criteria: Sequence[Criterion], confirmations: Iterable[Confirmation]
) -> list[CriterionStatus]:
    """Each criterion with its newest confirmation (confirmations come oldest first)."""
    newest: dict[str, Confirmation] = {}
    for confirmation in confirmations:
        newest[confirmation.criterion] = confirmation
    return [CriterionStatus(c, newest.get(c.key)) for c in criteria]


def due_at(statuses_: Sequence[CriterionStatus], stage: Stage) -> list[CriterionStatus]:
    """The criteria the gate leaving `stage` checks: the declared ones at readiness review,
    each required piece of evidence at the gate its policy names."""
    return [
        s
        for s in statuses_
        if (s.criterion.required and s.criterion.before is stage)
        or (not s.criterion.required and stage is Stage.READINESS_REVIEW)
    ]


def refusal(
    policy: Policy,
    proposal: Proposal,
    criteria: Sequence[Criterion],
    key: str,
    who: str,
    note: str | None,
    link: str | None,
) -> tuple[str, str] | None:
    """Why `who` may not confirm `key` of this pilot as given, as (field, reason); None if
    they may. Separation of duties holds: nobody confirms a pilot they proposed or own."""
    known = {c.key: c for c in criteria}
    criterion = known.get(key)
    if criterion is None:
        allowed = ", ".join(known) or "none (the policy asks no confirmations of this pilot)"
        return "criterion", f"{key!r} is not a criterion of this pilot (criteria: {allowed})"
    if who not in policy.roles.get(criterion.role, []):
        members = ", ".join(policy.roles.get(criterion.role, []))
        return "--by", (
            f"{who} is not in role {criterion.role}, which confirms {key} (members: {members})"
        )
    if policy.portfolio.separation_of_duties and who in (
        proposal.proposer.slack_id,
        proposal.business_owner.slack_id,
    ):
        return "--by", f"{who} proposed or owns this pilot and may not confirm its criteria"
    if not (note and note.strip()) and not link:
        return "--note/--link", "say how it was confirmed: a link to the evidence, or a note"
    if note is not None and len(note) > MAX_NOTE:
        return "--note", f"{len(note)} characters; at most {MAX_NOTE} (link the rest)"
    if link is not None and not URL.match(link):
        return "--link", f"{link!r} is not an http(s) URL"
    return None


def with_confirmations(
    evidence: Evidence | None,
    due: Sequence[CriterionStatus],
    rules: EvidenceRules,
    now: datetime,
) -> Evidence | None:
    """`evidence` with a check per criterion due at this gate. An unconfirmed declared
    criterion warns or blocks as `evidence.unconfirmed` says; unconfirmed required evidence
    always blocks."""
    if not due:
        return evidence
    base = evidence or Evidence(
        "confirmations", now, "confirmed by the role the policy names", [], []
    )
    checks = [CriterionCheck(s.criterion.key, s.status, s.detail()) for s in due]
    warnings, blocking = list(base.warnings), list(base.blocking)
    for state, check in zip(due, checks, strict=True):
        problem = check.problem()
        if problem is None:
            continue
        if state.criterion.required or rules.unconfirmed == "block":
            blocking.append(problem)
        else:
            warnings.append(problem)
    return Evidence(
        base.kind,
        base.computed_at,
        base.rule,
        base.metrics,
        [*base.criteria, *checks],
        warnings=warnings,
        blocking=blocking,
    )
