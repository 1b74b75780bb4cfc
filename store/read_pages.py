"""The web pages' read model: what the portfolio, a pilot's page and "my sign-offs" show.

Read-only, like `read_models` and `read_report`: nothing here writes, flushes or audits. Each
page reads a handful of statements whose cost follows what the page shows, not the register's
history: the portfolio filters pilots in SQL and loads the requests and decisions of *open*
gates only, in one statement each (no query per gate), except its approver SLA table, which
reads the filtered pilots' requests, decisions and reminders once each; a pilot's page reads
that pilot's rows;
"my sign-offs" is one join on the approver's unanswered requests.

A filter is a `PilotFilter` (portfolio, stage, business owner; None: any); every function that
takes one applies it in SQL on the `pilots` table. The order of each result is part of the
contract and spelled out per function.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, distinct, func, select
from sqlalchemy.orm import Session

from lifecycle.statuses import GatePhase
from store._rows import fetch_all
from store.models import (
    AuditEntry,
    Decision,
    FlowRequest,
    Gate,
    Pilot,
    ReminderSent,
    SignoffRequest,
    StageChange,
)


@dataclass(frozen=True)
class PilotFilter:
    portfolio: str | None = None
    stage: str | None = None
    #: the business owner's Slack id.
    owner: str | None = None

    def clauses(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.portfolio:
            found.append(Pilot.portfolio == self.portfolio)
        if self.stage:
            found.append(Pilot.stage == self.stage)
        if self.owner:
            found.append(Pilot.business_owner == self.owner)
        return found


ANY = PilotFilter()


def _filtered(query: Select[Any], where: PilotFilter) -> Select[Any]:
    clauses = where.clauses()
    return query.where(*clauses) if clauses else query


# ---------------------------------------------------------------- the portfolio


def pilots(session: Session, where: PilotFilter = ANY) -> Sequence[Pilot]:
    """The register's pilots that pass the filter, oldest first (created_at, then id)."""
    return fetch_all(session, _filtered(select(Pilot), where).order_by(Pilot.created_at, Pilot.id))


def filter_choices(session: Session) -> tuple[list[str], list[str]]:
    """The portfolios and the business owners' Slack ids present in the register, sorted."""
    portfolios = session.execute(select(distinct(Pilot.portfolio)).order_by(Pilot.portfolio))
    owners = session.execute(select(distinct(Pilot.business_owner)).order_by(Pilot.business_owner))
    return [str(p) for p in portfolios.scalars()], [str(o) for o in owners.scalars()]


def open_gates(session: Session, where: PilotFilter = ANY) -> Sequence[Gate]:
    """Open gates of the filtered pilots, soonest deadline first (deadline, then id)."""
    query = select(Gate).join(Pilot, Pilot.id == Gate.pilot_id).where(Gate.status == GatePhase.OPEN)
    return fetch_all(session, _filtered(query, where).order_by(Gate.deadline, Gate.id))


def gates_of_pilots(session: Session, where: PilotFilter = ANY) -> Sequence[Gate]:
    """Every gate, open or closed, of the filtered pilots, in the order opened (opened_at, then
    id): the portfolio's approver SLA table is computed over their whole history."""
    query = select(Gate).join(Pilot, Pilot.id == Gate.pilot_id)
    return fetch_all(session, _filtered(query, where).order_by(Gate.opened_at, Gate.id))


def requests_of(session: Session, gate_ids: Collection[int]) -> Sequence[SignoffRequest]:
    """The sign-off requests of these gates, in the order they were written (id)."""
    if not gate_ids:
        return []
    return fetch_all(
        session,
        select(SignoffRequest)
        .where(SignoffRequest.gate_id.in_(sorted(gate_ids)))
        .order_by(SignoffRequest.id),
    )


def decisions_of(session: Session, gate_ids: Collection[int]) -> Sequence[Decision]:
    """The decisions on these gates, in the order they were made (decided_at, then id)."""
    if not gate_ids:
        return []
    return fetch_all(
        session,
        select(Decision)
        .where(Decision.gate_id.in_(sorted(gate_ids)))
        .order_by(Decision.decided_at, Decision.id),
    )


def reminders_of(session: Session, request_ids: Collection[int]) -> Sequence[ReminderSent]:
    """Reminders sent for these requests, in the order they were sent (sent_at, then id)."""
    if not request_ids:
        return []
    return fetch_all(
        session,
        select(ReminderSent)
        .where(ReminderSent.request_id.in_(sorted(request_ids)))
        .order_by(ReminderSent.sent_at, ReminderSent.id),
    )


def reached_counts(session: Session, where: PilotFilter = ANY) -> dict[str, int]:
    """How many of the filtered pilots ever entered each stage (from the stage history)."""
    query = (
        select(StageChange.to_stage, func.count(distinct(StageChange.pilot_id)))
        .join(Pilot, Pilot.id == StageChange.pilot_id)
        .group_by(StageChange.to_stage)
    )
    return {str(stage): int(n) for stage, n in session.execute(_filtered(query, where))}


def named_people(session: Session) -> list[tuple[str, str]]:
    """Every (Slack id, name) a proposal in the register names: proposer, business owner,
    technical lead and operations owner, in the order of the pilots (created_at, then id)."""
    found: list[tuple[str, str]] = []
    rows = session.execute(select(Pilot.proposal).order_by(Pilot.created_at, Pilot.id))
    for proposal in rows.scalars():
        for key in ("proposer", "business_owner", "technical_lead", "operations_owner"):
            person = proposal.get(key) if isinstance(proposal, dict) else None
            if isinstance(person, dict) and person.get("slack_id") and person.get("name"):
                found.append((str(person["slack_id"]), str(person["name"])))
    return found


# ---------------------------------------------------------------- one pilot


def pilot(session: Session, pilot_id: str) -> Pilot | None:
    return session.get(Pilot, pilot_id)


def gates_of(session: Session, pilot_id: str) -> Sequence[Gate]:
    """The pilot's gates, in the order they were opened (opened_at, then id)."""
    return fetch_all(
        session,
        select(Gate).where(Gate.pilot_id == pilot_id).order_by(Gate.opened_at, Gate.id),
    )


def flow_requests_of(session: Session, pilot_id: str) -> Sequence[FlowRequest]:
    """The flow runs asked for this pilot, in the order they were asked (id)."""
    return fetch_all(
        session,
        select(FlowRequest).where(FlowRequest.pilot_id == pilot_id).order_by(FlowRequest.id),
    )


def audit_entries(session: Session, pilot_id: str | None = None) -> Sequence[AuditEntry]:
    """Audit rows (one pilot's, or all), in chain order (id)."""
    query = select(AuditEntry).order_by(AuditEntry.id)
    if pilot_id is not None:
        query = query.where(AuditEntry.pilot_id == pilot_id)
    return fetch_all(session, query)


# ---------------------------------------------------------------- my sign-offs


@dataclass(frozen=True)
class OpenAsk:
    """A sign-off request of an open gate that its approver has not answered yet."""

    request_id: int
    role: str
    round: int
    asked_at: datetime
    gate_id: int
    stage: str
    target: str
    opened_at: datetime
    deadline: datetime
    pilot_id: str
    title: str
    portfolio: str


def open_asks_for(session: Session, approver: str) -> list[OpenAsk]:
    """The approver's unanswered requests on open gates, soonest deadline first."""
    rows = session.execute(
        select(
            SignoffRequest.id,
            SignoffRequest.role,
            SignoffRequest.round,
            SignoffRequest.asked_at,
            Gate.id,
            Gate.stage,
            Gate.target,
            Gate.opened_at,
            Gate.deadline,
            Pilot.id,
            Pilot.title,
            Pilot.portfolio,
        )
        .join(Gate, Gate.id == SignoffRequest.gate_id)
        .join(Pilot, Pilot.id == Gate.pilot_id)
        .outerjoin(
            Decision,
            and_(
                Decision.request_id == SignoffRequest.id,
                Decision.approver == SignoffRequest.approver,
            ),
        )
        .where(
            SignoffRequest.approver == approver,
            Gate.status == GatePhase.OPEN,
            Decision.id.is_(None),
        )
        .order_by(Gate.deadline, SignoffRequest.id)
    )
    return [OpenAsk(*row) for row in rows]


@dataclass(frozen=True)
class Answered:
    """A decision someone made, with what it was about."""

    decision_id: int
    request_id: int
    role: str
    verdict: str
    reason: str | None
    decided_at: datetime
    source: str
    approver: str
    gate_id: int
    stage: str
    target: str
    gate_status: str
    pilot_id: str
    title: str
    portfolio: str


_ANSWERED = (
    select(
        Decision.id,
        Decision.request_id,
        SignoffRequest.role,
        Decision.verdict,
        Decision.reason,
        Decision.decided_at,
        Decision.source,
        Decision.approver,
        Gate.id,
        Gate.stage,
        Gate.target,
        Gate.status,
        Pilot.id,
        Pilot.title,
        Pilot.portfolio,
    )
    .join(SignoffRequest, SignoffRequest.id == Decision.request_id)
    .join(Gate, Gate.id == Decision.gate_id)
    .join(Pilot, Pilot.id == Gate.pilot_id)
)


def _answered(row: Any) -> Answered:
    values = list(row)
    values[3] = str(values[3])  # the verdict, as stored
    values[11] = str(values[11])  # the gate's status, as stored
    return Answered(*values)


def answered_by(session: Session, approver: str, limit: int = 20) -> list[Answered]:
    """The approver's latest decisions, newest first (decided_at, then id, descending)."""
    rows = session.execute(
        _ANSWERED.where(Decision.approver == approver)
        .order_by(Decision.decided_at.desc(), Decision.id.desc())
        .limit(limit)
    )
    return [_answered(row) for row in rows]


def decisions(session: Session, where: PilotFilter = ANY) -> list[Answered]:
    """Every decision on the filtered pilots, in the order made (decided_at, then id)."""
    rows = session.execute(_filtered(_ANSWERED, where).order_by(Decision.decided_at, Decision.id))
    return [_answered(row) for row in rows]
