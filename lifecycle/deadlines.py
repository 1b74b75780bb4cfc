"""Deadline arithmetic. Every function takes `now`: time is an input, never read here."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

#: How far ahead the sweep's digest looks ("due within 7 days").
DIGEST_AHEAD = timedelta(days=7)
#: How long a settled gate (or a termination) may wait for its follow-up before the sweep's
#: safety net asks again.
CONTINUATION_GRACE = timedelta(minutes=10)


def deploy_by(pilot_started_at: datetime, limit_days: int) -> datetime:
    """The deploy-or-terminate date of a pilot."""
    return pilot_started_at + timedelta(days=limit_days)


def days_left(deadline: datetime, now: datetime) -> float:
    return (deadline - now).total_seconds() / 86400


def is_past(deadline: datetime, now: datetime) -> bool:
    return now > deadline


def reminder_times(
    opened_at: datetime, deadline: datetime, points: Iterable[float]
) -> list[tuple[float, datetime]]:
    window = deadline - opened_at
    return [(p, opened_at + window * p) for p in sorted(points)]


def due_reminders(
    opened_at: datetime,
    deadline: datetime,
    points: Iterable[float],
    already_sent: Iterable[float],
    now: datetime,
) -> list[float]:
    """Reminder points that have come and not yet been sent; none once the deadline passed.

    Only the latest due point is returned when several came due together (a sweep that was
    down for a while sends one reminder, not a burst).
    """
    if now > deadline:
        return []
    sent = set(already_sent)
    due = [p for p, at in reminder_times(opened_at, deadline, points) if at <= now]
    if not due:
        return []
    latest = due[-1]
    return [] if latest in sent else [latest]


def next_reminder(
    opened_at: datetime, deadline: datetime, points: Iterable[float], after: datetime
) -> tuple[float, datetime] | None:
    """The first reminder point strictly after `after` (and before the deadline), if any."""
    for point, at in reminder_times(opened_at, deadline, points):
        if after < at < deadline:
            return point, at
    return None


def current_point(
    opened_at: datetime, deadline: datetime, points: Iterable[float], now: datetime
) -> float | None:
    """The latest reminder point that has come by `now`."""
    due = [p for p, at in reminder_times(opened_at, deadline, points) if at <= now]
    return due[-1] if due else None
