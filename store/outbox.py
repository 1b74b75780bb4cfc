"""The Slack outbox: every Slack call is a row queued in the transaction of the change that
causes it, then leased and sent by the relay.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from lifecycle.statuses import UNDELIVERED, OutboxStatus
from store._rows import add_once, fetch_all, get_or_raise
from store.models import (
    OutboxMessage,
)


def enqueue(
    session: Session,
    method: str,
    payload: dict[str, Any],
    *,
    now: datetime,
    ref_kind: str | None = None,
    ref_id: str | int | None = None,
    dedupe_key: str | None = None,
) -> int | None:
    """Queue a Slack call in the caller's transaction. A repeated dedupe_key queues nothing."""
    return add_once(
        session,
        OutboxMessage,
        {
            "method": method,
            "payload": payload,
            "status": OutboxStatus.PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
            "ref_kind": ref_kind,
            "ref_id": None if ref_id is None else str(ref_id),
            "dedupe_key": dedupe_key,
        },
    )


def due_outbox(session: Session, now: datetime, limit: int = 100) -> Sequence[OutboxMessage]:
    """Rows to send: pending and due, or claimed by a relay whose lease ran out (it died)."""
    return fetch_all(
        session,
        select(OutboxMessage)
        .where(
            OutboxMessage.status.in_(UNDELIVERED),
            OutboxMessage.next_attempt_at <= now,
        )
        .order_by(OutboxMessage.id)
        .limit(limit),
    )


def claim_outbox(session: Session, row_id: int, *, now: datetime, lease_until: datetime) -> bool:
    """Take one row for sending; of two relays exactly one gets it."""
    result = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == row_id,
            OutboxMessage.status.in_(UNDELIVERED),
            OutboxMessage.next_attempt_at <= now,
        )
        .values(
            status=OutboxStatus.SENDING,
            next_attempt_at=lease_until,
            attempts=OutboxMessage.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def pending_outbox_count(session: Session) -> int:
    return session.execute(
        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status.in_(UNDELIVERED))
    ).scalar_one()


def is_queued(session: Session, dedupe_key: str) -> bool:
    """Whether a row with this dedupe key exists (sent or not)."""
    found = session.execute(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key))
    return found.first() is not None


def get_row(session: Session, row_id: int) -> OutboxMessage:
    return get_or_raise(session, OutboxMessage, row_id, f"no outbox row with id {row_id}")


def mark_sent(
    session: Session, row: OutboxMessage, *, channel: str | None, ts: str | None, now: datetime
) -> None:
    """Slack accepted the row; keep where it landed so later changes update, never re-post."""
    row.status, row.sent_at, row.last_error = OutboxStatus.SENT, now, None
    row.result_channel, row.result_ts = channel, ts


def mark_dead(session: Session, row: OutboxMessage, *, error: str | None) -> None:
    """Slack refused the row for good; it is kept, with why, and never sent."""
    row.status, row.last_error = OutboxStatus.DEAD, error


def retry_later(
    session: Session, row: OutboxMessage, *, at: datetime, error: str | None, attempt: bool
) -> None:
    """Put the row back in the queue until `at`. A wait that was not an attempt (the channel's
    rate) gives its attempt back."""
    row.status = OutboxStatus.PENDING
    row.next_attempt_at = at
    if attempt:
        row.last_error = error
    else:
        row.attempts -= 1


def undelivered_asks(session: Session, request_ids: Sequence[int]) -> set[int]:
    """Which of these sign-off requests' asks are still waiting in the outbox (not sent)."""
    if not request_ids:
        return set()
    rows = session.execute(
        select(OutboxMessage.ref_id).where(
            OutboxMessage.ref_kind == "request",
            OutboxMessage.ref_id.in_([str(i) for i in request_ids]),
            OutboxMessage.status != OutboxStatus.SENT,
        )
    ).scalars()
    return {int(r) for r in rows if r is not None}
