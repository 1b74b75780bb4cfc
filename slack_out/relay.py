"""The outbox relay: delivers queued Slack calls, once each, in order.

Each row is sent in its own short transaction. A sign-off request keeps the `ts` Slack gave it,
so later changes to that message are `chat.update`s and a row that was already delivered is
never posted again. When Slack is down (5xx, 429 beyond the client's own retries, dropped
connections) the round stops and the rows wait with exponential backoff; a permanent error
(e.g. channel_not_found) marks the row dead after recording why.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from config.names import Keys
from slack_out import messages
from store import gates, outbox, pilots
from store.db import Database
from store.models import OutboxMessage

log = logging.getLogger("pilotgate.relay")

#: Slack errors that will not change by retrying.
PERMANENT = {
    "channel_not_found",
    "invalid_blocks",
    "invalid_arguments",
    "no_text",
    "msg_too_long",
    "not_in_channel",
    "is_archived",
    "user_not_found",
    "user_disabled",
    "cant_update_message",
    "message_not_found",
    "invalid_auth",
    "not_authed",
    "account_inactive",
    "unknown_method",
    "edit_window_closed",
}
MAX_BACKOFF = timedelta(minutes=10)
MAX_ATTEMPTS = 50


class Transient(Exception):
    """Slack could not take the call now; try again later."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Wait(Exception):
    """The row depends on another not yet delivered (e.g. an update before its post)."""


@dataclass
class RelayReport:
    sent: int = 0
    dead: int = 0
    waiting: int = 0
    errors: list[str] = field(default_factory=list)


def _call(client: WebClient, method: str, payload: dict[str, Any]) -> dict[str, Any]:
    try:
        response = client.api_call(method, json=payload)
    except SlackApiError as exc:
        error = str(exc.response.get("error", "unknown"))
        status = exc.response.status_code
        if (
            status == 429
            or status >= 500
            or error in ("ratelimited", "internal_error", "fatal_error", "service_unavailable")
        ):
            retry = exc.response.headers.get("Retry-After") or exc.response.headers.get(
                "retry-after"
            )
            raise Transient(
                f"{method}: {status} {error}", float(retry) if retry else None
            ) from None
        raise
    except (OSError, TimeoutError) as exc:
        raise Transient(f"{method}: {type(exc).__name__}: {exc}") from None
    return dict(response.data) if isinstance(response.data, dict) else {}


def _dm_channel(client: WebClient, user: str) -> str:
    data = _call(client, "conversations.open", {"users": user})
    return str(data["channel"]["id"])


@dataclass(frozen=True)
class Outgoing:
    """A claimed row, detached from the database, with its target resolved."""

    id: int
    method: str
    payload: dict[str, Any]
    ref_kind: str | None
    attempts: int
    #: the (channel, ts) of the request message an update or a reminder refers to.
    anchor: tuple[str | None, str | None] | None = None


def _outgoing(session: Any, row: OutboxMessage) -> Outgoing:
    anchor = None
    if row.ref_kind in ("request_update", "reminder"):
        request = gates.find_request(session, int(row.ref_id or 0))
        anchor = (request.channel, request.message_ts) if request else (None, None)
    return Outgoing(row.id, row.method, dict(row.payload), row.ref_kind, row.attempts, anchor)


def deliver(client: WebClient, out: Outgoing) -> tuple[str | None, str | None]:
    """Send one row; returns where it landed (channel, ts)."""
    payload = dict(out.payload)
    if out.anchor is not None:
        channel, ts = out.anchor
        if not ts:
            raise Wait(f"outbox row {out.id}: its request message has not been posted yet")
        if out.ref_kind == "request_update":
            payload.update(channel=channel, ts=ts)
            _call(client, "chat.update", payload)
            return channel, ts
        payload.update(channel=channel, thread_ts=ts)
    if "user" in payload and "channel" not in payload and out.method == "chat.postMessage":
        payload["channel"] = _dm_channel(client, payload.pop("user"))
    data = _call(client, out.method, payload)
    landed = data.get("channel") or payload.get("channel")
    ts = data.get("ts") or data.get("message_ts")
    return (str(landed) if landed else None), (str(ts) if ts else None)


def _report_undeliverable_ask(
    session: Any, request_id: int, error: str | None, at: datetime
) -> None:
    """A sign-off request Slack refuses for good (a deactivated approver, say) would otherwise
    let the gate run out in silence: the pilot's business owner is told at once."""
    request = gates.find_request(session, request_id)
    if request is None:
        return
    gate = gates.get_gate(session, request.gate_id)
    pilot = pilots.get_pilot(session, gate.pilot_id)
    messages.notify(
        session,
        pilot.business_owner,
        f"{pilot.title}: the sign-off request to {request.approver} ({request.role}) could not "
        f"be delivered ({error}).",
        "The gate's deadline still holds: another member of the role can answer, or the "
        "programme office can update the policy's roles.",
        at,
        dedupe_key=Keys.undeliverable(request.id),
        pilot_id=pilot.id,
    )


def relay_outbox(
    db: Database,
    client: WebClient,
    now: Callable[[], datetime],
    *,
    limit: int = 200,
    lease: timedelta = timedelta(seconds=600),
) -> RelayReport:
    """Send what is due. No transaction is held open during a Slack call: a row is claimed
    (leased) in one short transaction and closed in another, so the listener's writes never
    wait behind Slack, and two relays never send the same row."""
    report = RelayReport()
    with db.session() as session:
        ids = [row.id for row in outbox.due_outbox(session, now(), limit)]
    for row_id in ids:
        with db.session() as session:
            if not outbox.claim_outbox(session, row_id, now=now(), lease_until=now() + lease):
                continue
            out = _outgoing(session, outbox.get_row(session, row_id))
        outcome: str
        channel = ts = None
        error: str | None = None
        delay: timedelta | None = None
        try:
            channel, ts = deliver(client, out)
            outcome = "sent"
        except Wait:
            outcome, delay = "wait", timedelta(seconds=1)
        except Transient as exc:
            outcome, error = "transient", str(exc)
            delay = (
                timedelta(seconds=exc.retry_after)
                if exc.retry_after
                else min(MAX_BACKOFF, timedelta(seconds=2 ** min(out.attempts, 10)))
            )
        except (SlackApiError, ValueError) as exc:
            error = str(exc.response.get("error") if isinstance(exc, SlackApiError) else exc)
            permanent = (
                error in PERMANENT or isinstance(exc, ValueError) or out.attempts >= MAX_ATTEMPTS
            )
            outcome = "dead" if permanent else "transient"
            delay = timedelta(seconds=2 ** min(out.attempts, 10))
        with db.session() as session:
            fresh = outbox.get_row(session, row_id)
            if outcome == "sent":
                outbox.mark_sent(session, fresh, channel=channel, ts=ts, now=now())
                if fresh.ref_kind == "request" and channel and ts:
                    gates.set_request_message(session, int(fresh.ref_id or 0), channel, ts)
                report.sent += 1
                log.info(
                    "delivered outbox=%s method=%s ref=%s:%s channel=%s ts=%s",
                    row_id,
                    fresh.method,
                    fresh.ref_kind or "-",
                    fresh.ref_id or "-",
                    channel or "-",
                    ts or "-",
                )
            elif outcome == "dead":
                outbox.mark_dead(session, fresh, error=error)
                report.dead += 1
                log.error(
                    "delivery failed outbox=%s method=%s ref=%s:%s outcome=dead error=%s",
                    row_id,
                    fresh.method,
                    fresh.ref_kind or "-",
                    fresh.ref_id or "-",
                    error,
                )
                if fresh.ref_kind == "request":
                    _report_undeliverable_ask(session, int(fresh.ref_id or 0), error, now())
            else:
                outbox.retry_later(
                    session,
                    fresh,
                    at=now() + (delay or timedelta(seconds=1)),
                    error=error,
                    attempt=outcome != "wait",
                )
                if outcome != "wait":
                    report.errors.append(error or "")
                report.waiting += 1
        if outcome == "transient":
            log.warning(
                "delivery deferred outbox=%s outcome=retry error=%s (Slack unavailable)",
                row_id,
                error,
            )
            break  # Slack is struggling: stop this round and keep the order.
    return report
