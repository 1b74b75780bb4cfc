"""The portfolio report's read model: the few whole-register scans the report is computed from.

Why a module of its own: every query lives in `store/`, and the report reads differently from
everything else. The lifecycle reads and writes one pilot or one gate at a time; the report
reads each table once, whole and in a fixed order, and computes every figure in memory
(`pilotgate.report.data`). Keeping those scans here, beside the tables, gives them one place to
be indexed, paged or moved to a reporting replica later, and keeps the report free of SQL.

Read-only: nothing here writes, flushes or audits. The order of each scan is part of the
contract (the report's tables and charts list rows in it), so it is spelled out per function.
Only `store.models` is used, so this module does not depend on the write-side repository.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import (
    Decision,
    Gate,
    MetricObservation,
    Pilot,
    ReminderSent,
    SignoffRequest,
    StageChange,
)


def pilots(session: Session) -> Sequence[Pilot]:
    """Every pilot, oldest first (created_at, then id)."""
    return session.execute(select(Pilot).order_by(Pilot.created_at, Pilot.id)).scalars().all()


def stage_changes(session: Session) -> Sequence[StageChange]:
    """The whole stage history, in the order it happened (at, then id)."""
    return (
        session.execute(select(StageChange).order_by(StageChange.at, StageChange.id))
        .scalars()
        .all()
    )


def gates(session: Session) -> Sequence[Gate]:
    """Every gate, in the order it was opened (opened_at, then id)."""
    return session.execute(select(Gate).order_by(Gate.opened_at, Gate.id)).scalars().all()


def signoff_requests(session: Session) -> Sequence[SignoffRequest]:
    """Every sign-off request, in the order it was written (id)."""
    return session.execute(select(SignoffRequest).order_by(SignoffRequest.id)).scalars().all()


def decisions(session: Session) -> Sequence[Decision]:
    """Every sign-off decision, in the order it was made (decided_at, then id)."""
    return (
        session.execute(select(Decision).order_by(Decision.decided_at, Decision.id)).scalars().all()
    )


def metric_observations(session: Session) -> Sequence[MetricObservation]:
    """Every metric observation, in the order it was observed (observed_at, then id)."""
    return (
        session.execute(
            select(MetricObservation).order_by(MetricObservation.observed_at, MetricObservation.id)
        )
        .scalars()
        .all()
    )


def reminders(session: Session) -> Sequence[ReminderSent]:
    """Every reminder sent, in the order it was sent (sent_at, then id)."""
    return (
        session.execute(select(ReminderSent).order_by(ReminderSent.sent_at, ReminderSent.id))
        .scalars()
        .all()
    )
