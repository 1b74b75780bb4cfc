"""The Slack outbox: every Slack call is a row queued in the transaction of the change that
causes it, then leased and sent by the relay.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, func, insert, select, update
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
        session, OutboxMessage, _pending(method, payload, now, ref_kind, ref_id, dedupe_key)
    )


def _pending(
    method: str,
    payload: dict[str, Any],
    now: datetime,
    ref_kind: str | None,
    ref_id: str | int | None,
    dedupe_key: str | None = None,
) -> dict[str, Any]:
    """A new outbox row's values: pending, due now, never tried."""
    return {
        "method": method,
        "payload": payload,
        "status": OutboxStatus.PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        "ref_kind": ref_kind,
        "ref_id": None if ref_id is None else str(ref_id),
        "dedupe_key": dedupe_key,
    }


def enqueue_refs(
    session: Session,
    method: str,
    payload: dict[str, Any],
    *,
    now: datetime,
    ref_kind: str,
    ref_ids: Sequence[int],
) -> None:
    """Queue the same call about each of `ref_ids` (one row each, same payload) in one
    multi-row insert: a decision queues a tally refresh for every other open ask of its gate."""
    if not ref_ids:
        return
    session.execute(
        insert(cast(Table, OutboxMessage.__table__)),
        [_pending(method, payload, now, ref_kind, ref_id) for ref_id in ref_ids],
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


def mark_skipped(session: Session, row: OutboxMessage, *, reason: str) -> None:
    """The row is not to be sent after all (it is moot); kept, with why."""
    row.status, row.last_error = OutboxStatus.SKIPPED, reason


def supersede_older_publishes(session: Session, now: datetime) -> list[int]:
    """A user's Home is replaced whole by each `views.publish`, so only the newest queued one
    may go out: an older one sent after it (its retry came due later) would put stale content
    back. Marks every older, not-in-flight publish of the same user skipped; returns their ids."""
    rows = fetch_all(
        session,
        select(OutboxMessage)
        .where(
            OutboxMessage.method == "views.publish",
            OutboxMessage.status.in_(UNDELIVERED),
        )
        .order_by(OutboxMessage.id.desc()),
    )
    newest: dict[str, int] = {}
    skipped: list[int] = []
    for row in rows:
        user = str(row.payload.get("user_id") or "")
        if not user:
            continue
        if user not in newest:
            newest[user] = row.id
            continue
        in_flight = row.status == OutboxStatus.SENDING and _aware(row.next_attempt_at, now) > now
        if not in_flight:
            mark_skipped(session, row, reason=f"superseded by outbox row {newest[user]}")
            skipped.append(row.id)
    return skipped


def _aware(value: datetime, like: datetime) -> datetime:
    if value.tzinfo is None and like.tzinfo is not None:
        return value.replace(tzinfo=like.tzinfo)
    return value


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


def newer_of_kind(session: Session, row: OutboxMessage) -> int | None:
    """The newest row of the same kind about the same thing (ref_kind, ref_id) queued after
    `row` and not given up (pending, in flight or sent); None when `row` is the newest."""
    return session.execute(
        select(func.max(OutboxMessage.id)).where(
            OutboxMessage.ref_kind == row.ref_kind,
            OutboxMessage.ref_id == row.ref_id,
            OutboxMessage.id > row.id,
            OutboxMessage.status.in_(
                [OutboxStatus.PENDING, OutboxStatus.SENDING, OutboxStatus.SENT]
            ),
        )
    ).scalar_one_or_none()


def latest_of_kind(session: Session, ref_kind: str, ref_id: str) -> OutboxMessage | None:
    """The newest row queued about `ref_id` as `ref_kind` (any status)."""
    return (
        session.execute(
            select(OutboxMessage)
            .where(OutboxMessage.ref_kind == ref_kind, OutboxMessage.ref_id == ref_id)
            .order_by(OutboxMessage.id.desc())
            .limit(1)
        )
        .scalars()
        .first()
    )


def ask_given_up(session: Session, request_id: int) -> bool:
    """Whether the ask of this sign-off request will never be posted: its row was refused for
    good or skipped (or there is none)."""
    ask = latest_of_kind(session, "request", str(request_id))
    return ask is None or ask.status in (OutboxStatus.DEAD, OutboxStatus.SKIPPED)


def defer(session: Session, row_ids: Sequence[int], *, until: datetime) -> None:
    """Hold pending rows until `until` without counting an attempt: the relay knows their
    channel is rate limited (or the installation paused), so asking Slack now would be wasted."""
    if not row_ids:
        return
    session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id.in_(list(row_ids)),
            OutboxMessage.status == OutboxStatus.PENDING,
            OutboxMessage.next_attempt_at < until,
        )
        .values(next_attempt_at=until)
        .execution_options(synchronize_session=False)
    )


def next_due_at(session: Session) -> datetime | None:
    """When the earliest pending row is due (None: nothing is pending)."""
    return session.execute(
        select(func.min(OutboxMessage.next_attempt_at)).where(
            OutboxMessage.status == OutboxStatus.PENDING
        )
    ).scalar_one_or_none()
