"""Approver SLA figures, as pure arithmetic over sign-off requests: who is slow, and who is not.

Written once so the portfolio report (`pilotgate.report.data`) and the web portfolio page
(`web.views`) show the same numbers from the same rules:

- time to decision runs from a request to its answer (a request handed to a delegate or
  reassigned counts for whoever was asked in its place, `on_behalf`);
- reminders before a decision count the reminders sent on requests that were then answered;
- the deadline hit rate is answered-by-the-deadline over answered plus never answered;
- "never answered" counts only requests that were still needed: a request left unanswered when
  colleagues had already met the role's quorum of an approved or rejected gate is "not needed".
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

HOUR = 3600.0


@dataclass(frozen=True)
class GateFacts:
    gate_id: int
    stage: str
    status: str
    deadline: datetime
    quorum: Mapping[str, int]


@dataclass(frozen=True)
class AskFacts:
    """One sign-off request and its answer, if any."""

    request_id: int
    gate_id: int
    approver: str
    role: str
    asked_at: datetime
    on_behalf_of: str | None = None
    superseded: bool = False
    decided_at: datetime | None = None
    verdict: str | None = None
    #: reminders sent on this request.
    reminders: int = 0


@dataclass(frozen=True)
class Fact:
    """One request as the SLA figures see it."""

    ask: AskFacts
    stage: str
    #: "answered", "waiting", "never" (still needed), "not_needed", "handed_over".
    outcome: str
    hours: float | None
    on_time: bool
    #: reminders before a decision (0 for a request never answered).
    reminders: int


@dataclass(frozen=True)
class ApproverSla:
    approver: str
    roles: tuple[str, ...]
    asked: int
    answered: int
    approved: int
    rejected: int
    waiting: int
    never: int
    median_hours: float | None
    max_hours: float | None
    response_rate: float
    not_needed: int
    handed_over: int
    on_behalf: int
    reminders_before_decision: int
    deadline_hit_rate: float | None


@dataclass(frozen=True)
class GroupSla:
    """Time to decision over one group of requests: a role, or a gate's stage."""

    key: str
    asked: int
    answered: int
    median_hours: float | None
    max_hours: float | None
    reminders_before_decision: int
    never: int
    deadline_hit_rate: float | None


def _median(values: Sequence[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


def _quorum_met_by_others(gate: GateFacts, role: str, asks: Sequence[AskFacts]) -> bool:
    """Did approvals of colleagues meet `role`'s quorum (so this answer was not needed)?"""
    if gate.status not in ("approved", "rejected"):
        return False
    need = int(dict(gate.quorum).get(role, 0))
    approvers = {a.approver for a in asks if a.role == role and a.verdict == "approve"}
    if need == 0:  # an escalation role: moot once the gate was approved
        return gate.status == "approved" and bool(approvers)
    return len(approvers) >= need


def facts(gates: Mapping[int, GateFacts], asks: Sequence[AskFacts]) -> list[Fact]:
    """Every request of a known gate, with its outcome, in the order given."""
    by_gate: dict[int, list[AskFacts]] = defaultdict(list)
    for a in asks:
        by_gate[a.gate_id].append(a)
    found = []
    for gate_id, group in by_gate.items():
        gate = gates.get(gate_id)
        if gate is None:
            continue
        for a in group:
            hours = None
            on_time = False
            if a.superseded and a.decided_at is None:
                outcome = "handed_over"
            elif a.decided_at is not None:
                outcome = "answered"
                hours = (a.decided_at - a.asked_at).total_seconds() / HOUR
                on_time = a.decided_at <= gate.deadline
            elif gate.status == "open":
                outcome = "waiting"
            elif _quorum_met_by_others(gate, a.role, group):
                outcome = "not_needed"
            else:
                outcome = "never"
            reminders = a.reminders if a.decided_at is not None else 0
            found.append(Fact(a, gate.stage, outcome, hours, on_time, reminders))
    return found


def hit_rate(group: Sequence[Fact]) -> float | None:
    due = [f for f in group if f.outcome in ("answered", "never")]
    return round(sum(1 for f in due if f.on_time) / len(due), 3) if due else None


def by_approver(found: Sequence[Fact]) -> list[ApproverSla]:
    """One row per approver, by Slack id."""
    people: dict[str, list[Fact]] = defaultdict(list)
    for f in found:
        people[f.ask.approver].append(f)
    rows = []
    for approver in sorted(people):
        mine = people[approver]
        counted = [f for f in mine if f.outcome != "handed_over"]
        answered = [f for f in counted if f.outcome == "answered"]
        times = [f.hours for f in answered if f.hours is not None]
        rows.append(
            ApproverSla(
                approver=approver,
                roles=tuple(sorted({f.ask.role for f in mine})),
                asked=len(counted),
                answered=len(answered),
                approved=sum(1 for f in answered if f.ask.verdict == "approve"),
                rejected=sum(1 for f in answered if f.ask.verdict != "approve"),
                waiting=sum(1 for f in counted if f.outcome == "waiting"),
                never=sum(1 for f in counted if f.outcome == "never"),
                median_hours=_median(times),
                max_hours=round(max(times), 2) if times else None,
                response_rate=round(len(answered) / len(counted), 3) if counted else 0.0,
                not_needed=sum(1 for f in counted if f.outcome == "not_needed"),
                handed_over=sum(1 for f in mine if f.outcome == "handed_over"),
                on_behalf=sum(1 for f in answered if f.ask.on_behalf_of),
                reminders_before_decision=sum(f.reminders for f in answered),
                deadline_hit_rate=hit_rate(counted),
            )
        )
    return rows


def by_group(found: Sequence[Fact], key: Callable[[Fact], str]) -> list[GroupSla]:
    """One row per `key` (a role, a gate's stage), sorted by it; hand-overs left out."""
    groups: dict[str, list[Fact]] = defaultdict(list)
    for f in found:
        if f.outcome != "handed_over":
            groups[key(f)].append(f)
    rows = []
    for name in sorted(groups):
        group = groups[name]
        answered = [f for f in group if f.outcome == "answered"]
        times = [f.hours for f in answered if f.hours is not None]
        rows.append(
            GroupSla(
                key=name,
                asked=len(group),
                answered=len(answered),
                median_hours=_median(times),
                max_hours=round(max(times), 2) if times else None,
                reminders_before_decision=sum(f.reminders for f in answered),
                never=sum(1 for f in group if f.outcome == "never"),
                deadline_hit_rate=hit_rate(group),
            )
        )
    return rows
