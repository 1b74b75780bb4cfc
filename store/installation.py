"""Installation conditions: while one is open, part or all of what pilotgate sends cannot reach
Slack.

A revoked token stops every call; a missing scope stops the calls of one method; the app's
Messages tab switched off stops DMs. None is about one message or one recipient: every queued
row it covers would fail the same way. So the relay records the condition here (one open row
per kind: "token", "scope:<method>", "dm"), holds the rows it covers instead of killing them,
and every surface that people look at (the serve log, `/healthz`, `pilotgate status`) reads it
from here. The row is
closed, not deleted, when a call shows the condition gone: the record says when sending
stopped and when it resumed.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from store._rows import fetch_all
from store.models import InstallationState


def open_conditions(session: Session) -> Sequence[InstallationState]:
    """The conditions in force, oldest first."""
    return fetch_all(
        session,
        select(InstallationState)
        .where(InstallationState.cleared_at.is_(None))
        .order_by(InstallationState.since, InstallationState.id),
    )


def current(session: Session) -> InstallationState | None:
    """The oldest condition in force, or None when the installation works."""
    found = open_conditions(session)
    return found[0] if found else None


def record(
    session: Session, *, kind: str, error: str, detail: str | None, now: datetime
) -> InstallationState:
    """Open a condition of `kind`, or refresh the one already open (one open row per kind)."""
    for row in open_conditions(session):
        if row.kind == kind:
            row.error, row.detail, row.last_checked_at = error, detail, now
            return row
    row = InstallationState(
        kind=kind, error=error, detail=detail, since=now, last_checked_at=now, cleared_at=None
    )
    session.add(row)
    session.flush()
    return row


def checked(session: Session, *, now: datetime) -> None:
    """The conditions were probed again and still hold."""
    for row in open_conditions(session):
        row.last_checked_at = now


def clear(
    session: Session, *, now: datetime, kinds: Collection[str] | None = None
) -> list[InstallationState]:
    """A call showed these conditions gone (None: all of them). Only what was seen to work is
    closed, so a condition about part of what is sent (DMs, one method's scope) keeps its own
    `since` while other calls go through. Returns the rows closed."""
    closed = [r for r in open_conditions(session) if kinds is None or r.kind in kinds]
    for row in closed:
        row.cleared_at = now
        row.last_checked_at = now
    return closed


def history(session: Session, limit: int = 20) -> Sequence[InstallationState]:
    """The latest conditions, open or closed, newest first."""
    return fetch_all(
        session,
        select(InstallationState)
        .order_by(InstallationState.since.desc(), InstallationState.id.desc())
        .limit(limit),
    )
