"""The outbox relay: delivers queued Slack calls, once each, in order per channel.

Each row is sent in its own short transaction. A sign-off request keeps the `ts` Slack gave it,
so later changes to that message are `chat.update`s and a row that was already delivered is
never posted again.

What happens when Slack says no is decided by one table (`slack_out.slack_errors`):

* **message** errors (bad blocks, too long) and **recipient** errors (a deactivated approver,
  a channel the bot is not in) mark the row dead, with why; an undeliverable sign-off request
  is reported to the pilot's business owner at once.
* **installation** errors hold what they cover, no more: a revoked or invalid token pauses
  every call (probed with `auth.test`); a missing scope holds only the rows that call the
  method that was refused; the Messages tab switched off holds only DMs. The row goes back to
  pending with its attempt given back, the condition is recorded (`store.installation`, read
  by the log, `/healthz` and `pilotgate status`), and every PROBE_EVERY one row the condition
  covers is tried as the probe; the condition is closed only by a call it covers going through
  (so each keeps its own `since`), and then the same rows are sent.
* A user's App Home is replaced whole by each `views.publish`, so only the newest queued one
  for a user is sent (older ones are marked skipped, with why); a reminder whose request was
  answered, handed over or whose gate settled before it went out is skipped too.
* A tally refresh (`request_refresh`: the ask again, its tally as of a later decision) is a
  `chat.update` of the ask: it waits until the ask is posted, only the newest one of a request
  is sent, and it is skipped once the request is closed, so it never puts buttons back on a
  closed ask (if the request closes while the refresh is on its way, the close is sent again).
* A refresh, a close (`request_update`, `reminder_update`: the buttons replaced by what
  happened) and a Home are queued without their blocks and rendered here once claimed
  (`messages.as_sent`, in a reading session that on SQLite holds up no writer); the row keeps
  what was sent. So a decision does not render its close, every other approver's ask and the
  Homes it changes inside Slack's 3-second window, and each shows the register as it is when
  it goes out.
* **transient** answers: a 429 holds only its method and channel for its `Retry-After` (the
  relay never sleeps inside a call, so other channels are served meanwhile); an outage (5xx,
  dropped connections) stops the round and the row backs off exponentially.

A channel that has been rate limited is then paced at Slack's documented rate (one message a
second per channel for `chat.postMessage`) so it is not asked again too soon. The DM channel
of each user is kept (`store.dm_channels`), so a DM is one call. Every payload is fitted to its
method's documented text limits (`slack_out.limits`) on the way out.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from config.names import Keys
from lifecycle.policy import Policy
from lifecycle.statuses import OutboxStatus
from slack_out import messages
from slack_out.limits import fit_payload
from slack_out.slack_errors import (
    DM_KIND,
    SCOPE_PREFIX,
    TOKEN_KIND,
    Scope,
    classify,
    fix_for,
    pause_kind,
)
from store import dm_channels, gates, installation, outbox, pilots
from store.db import Database
from store.models import OutboxMessage

log = logging.getLogger("pilotgate.relay")

MAX_BACKOFF = timedelta(minutes=10)
MAX_ATTEMPTS = 50
#: while paused, how often the relay checks whether the installation works again.
PROBE_EVERY = timedelta(seconds=30)
#: seconds between calls of a method to one channel once Slack has rate limited that channel
#: (Slack documents chat.postMessage at about 1 message per second per channel).
PACE: dict[str, float] = {"chat.postMessage": 1.0}
#: how long a channel stays paced after its last 429.
PACED_FOR = timedelta(minutes=2)
#: conditions that hold every call (a bad token; a scope refusal whose method is unknown).
_GLOBAL_KINDS = frozenset({TOKEN_KIND, "scope"})

#: (method, channel or user or None)
RateKey = tuple[str, str | None]

#: rows that `chat.update` the ask of their request (ref_id), found by its channel and ts:
#: closing it (its buttons replaced by what happened) and refreshing its live tally.
REFRESH = "request_refresh"
_UPDATES = frozenset({"request_update", REFRESH})


class Transient(Exception):
    """Slack could not take the call now; try again later."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimited(Transient):
    """A 429 for one method (and channel): only that waits."""

    def __init__(self, method: str, message: str, retry_after: float | None) -> None:
        super().__init__(message, retry_after)
        self.method = method


class Refused(Exception):
    """Slack answered ok=false with a documented error."""

    def __init__(self, method: str, error: str, detail: dict[str, Any] | None = None) -> None:
        super().__init__(f"{method}: {error}")
        self.method = method
        self.error = error
        self.scope = classify(method, error)
        self.detail = detail or {}


class Wait(Exception):
    """The row depends on another not yet delivered (e.g. an update before its post)."""


@dataclass
class RelayReport:
    sent: int = 0
    dead: int = 0
    waiting: int = 0
    errors: list[str] = field(default_factory=list)
    #: the installation-wide error that paused sending (None: not paused).
    paused: str | None = None
    #: conditions that hold part of what is sent (condition kind -> Slack's error).
    held_by: dict[str, str] = field(default_factory=dict)
    #: rows not sent on purpose (moot: a replaced Home view, a closed request's reminder).
    skipped: int = 0
    #: when the earliest pending row is due (a loop may sleep until then).
    next_due: datetime | None = None


class RateLimits:
    """What Slack has said about when each method and channel may be called again. Kept per
    client for the life of the process (a restart just meets one more 429)."""

    def __init__(self) -> None:
        self._until: dict[RateKey, datetime] = {}
        self._paced_until: dict[RateKey, datetime] = {}
        self._lock = threading.Lock()

    def blocked_until(self, key: RateKey, now: datetime) -> datetime | None:
        with self._lock:
            found = [u for u in (self._until.get(key), self._until.get((key[0], None))) if u]
        until = max(found) if found else None
        return until if until is not None and until > now else None

    def limited(self, key: RateKey, retry_after: float | None, now: datetime) -> datetime:
        wait = timedelta(seconds=retry_after if retry_after else 1.0)
        until = now + wait
        with self._lock:
            until = self._until[key] = max(until, self._until.get(key, until))
            self._paced_until[key] = now + PACED_FOR
        return until

    def succeeded(self, key: RateKey, now: datetime) -> None:
        pace = PACE.get(key[0])
        with self._lock:
            paced = self._paced_until.get(key)
            if pace and paced is not None and paced > now:
                self._until[key] = now + timedelta(seconds=pace)
            elif paced is not None and paced <= now:
                del self._paced_until[key]


_LIMITS: weakref.WeakKeyDictionary[WebClient, RateLimits] = weakref.WeakKeyDictionary()
_LIMITS_LOCK = threading.Lock()
_WARNED: set[tuple[str, str]] = set()


def rate_limits_for(client: WebClient) -> RateLimits:
    with _LIMITS_LOCK:
        found = _LIMITS.get(client)
        if found is None:
            found = _LIMITS[client] = RateLimits()
        return found


def _retry_after(exc: SlackApiError) -> float | None:
    headers = exc.response.headers or {}
    raw = headers.get("Retry-After") or headers.get("retry-after")
    try:
        return float(raw) if raw else None
    except (TypeError, ValueError):
        return None


def _warn(method: str, data: dict[str, Any]) -> None:
    """Slack's `warning` field (and response_metadata.warnings) on an accepted call: never a
    failure; a warning at the first sighting in this process, then at info."""
    found = [str(data["warning"])] if data.get("warning") else []
    meta = data.get("response_metadata")
    if isinstance(meta, dict):
        found += [str(w) for w in meta.get("warnings") or []]
    for warning in dict.fromkeys(",".join(found).split(",")):
        if not warning:
            continue
        level = logging.INFO if (method, warning) in _WARNED else logging.WARNING
        _WARNED.add((method, warning))
        log.log(
            level, "slack warning method=%s warning=%s (the call was accepted)", method, warning
        )


def call(client: WebClient, method: str, payload: dict[str, Any]) -> dict[str, Any]:
    """One Web API call, its failure turned into Transient / RateLimited / Refused."""
    try:
        response = client.api_call(method, json=payload)
    except SlackApiError as exc:
        data = exc.response.data if isinstance(exc.response.data, dict) else {}
        status = exc.response.status_code
        error = str(data.get("error") or "unknown")
        if status == 429 or error in ("ratelimited", "rate_limited"):
            raise RateLimited(
                method, f"{method}: {status} ratelimited", _retry_after(exc)
            ) from None
        if status >= 500 or error.startswith("Received a response in a non-JSON format"):
            raise Transient(f"{method}: HTTP {status} {error[:80]}", _retry_after(exc)) from None
        refused = Refused(method, error, data)
        if refused.scope is Scope.TRANSIENT:
            raise Transient(f"{method}: {error}") from None
        raise refused from None
    except (OSError, TimeoutError) as exc:
        raise Transient(f"{method}: {type(exc).__name__}: {exc}") from None
    data = dict(response.data) if isinstance(response.data, dict) else {}
    _warn(method, data)
    return data


@dataclass(frozen=True)
class Outgoing:
    """A claimed row, detached from the database, with its target resolved."""

    id: int
    method: str
    payload: dict[str, Any]
    ref_kind: str | None
    attempts: int
    #: the (channel, ts) of the request message an update refers to.
    anchor: tuple[str | None, str | None] | None = None
    #: the cached DM channel of the payload's `user`, if any.
    dm_channel: str | None = None

    @property
    def user(self) -> str | None:
        user = self.payload.get("user")
        if self.method == "chat.postMessage" and "channel" not in self.payload and user:
            return str(user)
        return None

    @property
    def rate_key(self) -> RateKey:
        if self.anchor is not None:
            method = "chat.update" if self.ref_kind in _UPDATES else self.method
            return method, self.anchor[0]
        if self.user is not None:
            return self.method, self.dm_channel or self.user
        channel = self.payload.get("channel")
        return self.method, str(channel) if channel else None


def _outgoing(session: Any, row: OutboxMessage) -> Outgoing:
    anchor = None
    if row.ref_kind in _UPDATES:
        request = gates.find_request(session, int(row.ref_id or 0))
        anchor = (request.channel, request.message_ts) if request else (None, None)
    payload = dict(row.payload)
    if row.ref_kind == "reminder" and "user" not in payload and "channel" not in payload:
        # queued by the previous release, which threaded reminders under the ask: send it to
        # where the ask went (its DM channel), or to the approver
        request = gates.find_request(session, int(row.ref_id or 0))
        if request is not None and request.channel:
            payload["channel"] = request.channel
        elif request is not None:
            payload["user"] = request.approver
    out = Outgoing(row.id, row.method, payload, row.ref_kind, row.attempts, anchor)
    if out.user is not None:
        cached = dm_channels.get(session, out.user)
        if cached:
            out = Outgoing(row.id, row.method, payload, row.ref_kind, row.attempts, anchor, cached)
    return out


@dataclass
class Delivered:
    channel: str | None
    ts: str | None
    #: a DM channel learned on the way (to cache).
    opened: tuple[str, str] | None = None


def deliver(client: WebClient, out: Outgoing) -> Delivered:
    """Send one row; returns where it landed."""
    payload = dict(out.payload)
    if out.anchor is not None:
        channel, ts = out.anchor
        if not ts:
            raise Wait(f"outbox row {out.id}: its request message has not been posted yet")
        if out.ref_kind in _UPDATES:
            payload.update(channel=channel, ts=ts)
            call(client, "chat.update", fit_payload("chat.update", payload))
            return Delivered(channel, ts)
        payload.update(channel=channel, thread_ts=ts)
    opened = None
    user = out.user
    if user is not None:
        payload.pop("user")
        if out.dm_channel:
            payload["channel"] = out.dm_channel
        else:
            data = call(client, "conversations.open", {"users": user})
            payload["channel"] = str(data["channel"]["id"])
            opened = (user, payload["channel"])
    data = call(client, out.method, fit_payload(out.method, payload))
    landed = data.get("channel") or payload.get("channel")
    ts = data.get("ts") or data.get("message_ts")
    return Delivered(str(landed) if landed else None, str(ts) if ts else None, opened)


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


def _still_paused(db: Database, client: WebClient, now: datetime, report: RelayReport) -> bool:
    """While an installation-wide condition is open: probe at most every PROBE_EVERY. True
    when sending must stay paused this round."""
    with db.session() as session:
        found = [c for c in installation.open_conditions(session) if c.kind in _GLOBAL_KINDS]
        if not found:
            return False
        kind, error, last = found[0].kind, found[0].error, found[0].last_checked_at
    report.paused = error
    if now - _aware(last, now) < PROBE_EVERY:
        return True
    if kind == TOKEN_KIND:
        try:
            call(client, "auth.test", {})
        except Refused as exc:
            if exc.scope is Scope.INSTALLATION:
                _pause(db, exc, now, probe=True)
                return True
        except Transient:
            return True
        _resume(db, now, {TOKEN_KIND})
        report.paused = None
        return False
    return False  # the round's first call is the probe (a scope whose method is not known)


@dataclass
class _Held:
    """An open condition that covers part of what is sent, as this round sees it."""

    error: str
    #: when one covered row may be tried again as the probe.
    probe_at: datetime
    #: a covered row is out as the probe this round.
    probing: bool = False


def _methods_of(out: Outgoing) -> set[str]:
    """The Web API methods sending this row calls."""
    methods = {"chat.update" if out.ref_kind in _UPDATES else out.method}
    if out.user is not None and out.dm_channel is None:
        methods.add("conversations.open")
    return methods


def _covers(kind: str, out: Outgoing) -> bool:
    """Whether the condition `kind` holds this row."""
    if kind in _GLOBAL_KINDS:
        return True
    if kind == DM_KIND:
        channel = str(out.payload.get("channel") or (out.anchor or (None, None))[0] or "")
        is_dm = out.user is not None or channel.startswith("D")
        return is_dm and out.method == "chat.postMessage" and out.ref_kind not in _UPDATES
    if kind.startswith(SCOPE_PREFIX):
        return kind.removeprefix(SCOPE_PREFIX) in _methods_of(out)
    return True  # a kind this release does not know: hold everything rather than lose rows


def _held_conditions(session: Any, now: datetime) -> dict[str, _Held]:
    return {
        c.kind: _Held(c.error, _aware(c.last_checked_at, now) + PROBE_EVERY)
        for c in installation.open_conditions(session)
        if c.kind not in _GLOBAL_KINDS
    }


def _moot(session: Any, row: OutboxMessage) -> str | None:
    """Why a claimed row is not to be sent after all (None: send it)."""
    if row.ref_kind == "reminder":
        closed = gates.why_request_closed(session, int(row.ref_id or 0))
        return f"reminder not sent: {closed}" if closed else None
    if row.ref_kind == REFRESH:
        return _moot_refresh(session, row)
    if row.ref_kind == "request_update" and _ask_never_delivered(session, int(row.ref_id or 0)):
        return f"close not sent: the ask of request {row.ref_id} was never delivered"
    return None


def _moot_refresh(session: Any, row: OutboxMessage) -> str | None:
    """A tally refresh puts the ask's buttons back, so it goes out only while the request is
    open, only if it is the newest refresh of its request (an older one sent later would show
    an older tally), and only if the ask it updates was or will be posted."""
    request_id = int(row.ref_id or 0)
    closed = gates.why_request_closed(session, request_id)
    if closed:
        return f"tally refresh not sent: {closed}"
    newer = outbox.newer_of_kind(session, row)
    if newer is not None:
        return f"tally refresh not sent: superseded by outbox row {newer}"
    if _ask_never_delivered(session, request_id):
        return f"tally refresh not sent: the ask of request {request_id} was never delivered"
    return None


def _ask_never_delivered(session: Any, request_id: int) -> bool:
    """The request's ask has no message and its outbox row was given up: nothing to update."""
    request = gates.find_request(session, request_id)
    return (
        request is not None and not request.message_ts and outbox.ask_given_up(session, request_id)
    )


def _rendered(
    db: Database,
    out: Outgoing,
    ref_id: str | None,
    policy: Policy | None,
    now: datetime,
    shared: dict[str, Any],
) -> tuple[Outgoing, str | None, bool]:
    """A claimed deferred row (a tally refresh, a close, a Home) rendered as the register stands
    now, in a reading session: on SQLite it holds up no click while it renders. Returns the row
    to send; why it is not sent after all (then it is marked skipped or dead), else None; and
    whether it was marked dead (it could not be rendered: a bug, logged with its traceback)."""
    try:
        with db.reading() as session:
            rendered = messages.as_sent(
                session, ref_id, out.payload, policy=policy, now=now, shared=shared
            )
    except Exception as exc:  # one row that cannot be rendered must not stop the round
        error = f"could not be rendered: {type(exc).__name__}: {exc}"
        with db.session() as session:
            outbox.mark_dead(session, outbox.get_row(session, out.id), error=error)
        log.error("delivery failed outbox=%s outcome=dead error=%s", out.id, error, exc_info=True)
        return out, error, True
    if rendered is not None:
        return replace(out, payload=rendered), None, False
    why = f"{out.ref_kind} not sent: request {ref_id} not found"
    with db.session() as session:
        outbox.mark_skipped(session, outbox.get_row(session, out.id), reason=why)
    return out, why, False


def _closed_after_refresh(session: Any, row: OutboxMessage, now: datetime) -> int | None:
    """A refresh that went out while its request closed (checked when claimed, closed by an
    answer before Slack took the update) may have put buttons back after the close: send the
    close again, after it. Returns the new row's id (None: the request is still open, or its
    close is still to be sent, after this refresh)."""
    if gates.why_request_closed(session, int(row.ref_id or 0)) is None:
        return None
    close = outbox.latest_of_kind(session, "request_update", str(row.ref_id))
    if close is None or close.status not in (OutboxStatus.SENT, OutboxStatus.SENDING):
        return None
    return outbox.enqueue(
        session,
        close.method,
        dict(close.payload),
        now=now,
        ref_kind="request_update",
        ref_id=row.ref_id,
    )


def _what_is_held(kind: str) -> str:
    if kind == DM_KIND:
        return "no DM is sent"
    if kind.startswith(SCOPE_PREFIX):
        return f"no {kind.removeprefix(SCOPE_PREFIX)} call is sent"
    return "nothing is sent"


def _aware(value: datetime, like: datetime) -> datetime:
    if value.tzinfo is None and like.tzinfo is not None:
        return value.replace(tzinfo=like.tzinfo)
    return value


def _pause(db: Database, exc: Refused, now: datetime, *, probe: bool = False) -> str:
    """Record the condition `exc` shows; returns its kind."""
    needed = exc.detail.get("needed")
    detail = f"{exc.method}: {exc.error}" + (f" (needs {needed})" if needed else "")
    detail += f"; fix: {fix_for(exc.error)}"
    kind = pause_kind(exc.error, exc.method)
    with db.session() as session:
        first = all(c.kind != kind for c in installation.open_conditions(session))
        installation.record(session, kind=kind, error=exc.error, detail=detail, now=now)
    if first or not probe:
        log.error(
            "slack paused error=%s method=%s kind=%s: %s until this is fixed; queued "
            "messages are kept and sent once a call works. %s",
            exc.error,
            exc.method,
            kind,
            _what_is_held(kind),
            detail,
        )
    return kind


def _resume(db: Database, now: datetime, kinds: set[str]) -> None:
    """Close the conditions a call just showed gone, and only those."""
    if not kinds:
        return
    with db.session() as session:
        closed = installation.clear(session, now=now, kinds=kinds)
        since = [(c.error, c.since) for c in closed]
    for error, since_at in since:
        log.warning("slack resumed error=%s since=%s: sending queued messages", error, since_at)


def relay_outbox(
    db: Database,
    client: WebClient,
    now: Callable[[], datetime],
    *,
    limit: int = 200,
    lease: timedelta = timedelta(seconds=600),
    limits: RateLimits | None = None,
    policy: Policy | None = None,
) -> RelayReport:
    """Send what is due. No transaction is held open during a Slack call: a row is claimed
    (leased) in one short transaction and closed in another, so the listener's writes never
    wait behind Slack, and two relays never send the same row. `policy`: the one the process
    runs under, for the names in a tally refresh (rendered when it is claimed)."""
    report = RelayReport()
    rates = limits if limits is not None else rate_limits_for(client)
    if _still_paused(db, client, now(), report):
        return _said(report)
    with db.session() as session:
        for row_id in outbox.supersede_older_publishes(session, now()):
            report.skipped += 1
            log.info("delivery skipped outbox=%s reason=a newer Home view is queued", row_id)
        planned = [_outgoing(session, row) for row in outbox.due_outbox(session, now(), limit)]
        conditions = _held_conditions(session, now())
    report.held_by.update({kind: c.error for kind, c in conditions.items()})
    held: dict[RateKey, list[int]] = {}
    hold_until: dict[RateKey, datetime] = {}
    #: what this round's renders share (`messages.as_sent`): read once, not once per row.
    shared: dict[str, Any] = {}
    condition_held: dict[datetime, list[int]] = {}

    def blocked(out: Outgoing) -> datetime | None:
        key = out.rate_key
        until = hold_until.get(key) or rates.blocked_until(key, now())
        if until is None and out.user is not None and out.dm_channel is None:
            until = rates.blocked_until(("conversations.open", None), now())
        return until

    for planned_row in planned:
        covering = [c for k, c in conditions.items() if _covers(k, planned_row)]
        if covering:
            if all(not c.probing and c.probe_at <= now() for c in covering):
                for c in covering:  # this row is the probe of what covers it
                    c.probing = True
            else:
                wake = max([now() + timedelta(seconds=1), *(c.probe_at for c in covering)])
                condition_held.setdefault(wake, []).append(planned_row.id)
                continue
        until = blocked(planned_row)
        if until is not None:  # its channel waits: no call, no claim
            held.setdefault(planned_row.rate_key, []).append(planned_row.id)
            hold_until[planned_row.rate_key] = until
            _probed(conditions, planned_row)
            continue
        with db.session() as session:
            if not outbox.claim_outbox(
                session, planned_row.id, now=now(), lease_until=now() + lease
            ):
                _probed(conditions, planned_row)
                continue
            row = outbox.get_row(session, planned_row.id)
            moot = _moot(session, row)
            if moot is not None:
                outbox.mark_skipped(session, row, reason=moot)
            out = _outgoing(session, row)
            ref_id = row.ref_id
        waits_for_ask = out.anchor is not None and not out.anchor[1]  # `deliver` says Wait
        if moot is None and not waits_for_ask and messages.is_deferred(out.payload):
            out, moot, dead = _rendered(db, out, ref_id, policy, now(), shared)
            if dead:  # marked dead, with why
                report.dead += 1
                _probed(conditions, out)
                continue
        if moot is not None:
            report.skipped += 1
            log.info("delivery skipped outbox=%s reason=%s", out.id, moot)
            _probed(conditions, out)
            continue
        until = blocked(out)
        if until is not None:  # its DM channel became known this round, and waits
            _put_back(db, out.id, until)
            hold_until[out.rate_key] = until
            report.waiting += 1
            _probed(conditions, out)
            continue
        hold, stop = _send(db, client, out, rates, now, report, conditions)
        _probed(conditions, out)
        if hold is not None:
            hold_until[out.rate_key] = hold
        if stop:
            break
    with db.session() as session:
        for key, ids in held.items():
            outbox.defer(session, ids, until=hold_until[key])
            report.waiting += len(ids)
        for wake, ids in condition_held.items():
            outbox.defer(session, ids, until=wake)
            report.waiting += len(ids)
        earliest = outbox.next_due_at(session)
    report.next_due = _aware(earliest, now()) if earliest is not None else None
    return _said(report)


def _said(report: RelayReport) -> RelayReport:
    """A pause is an error of the round too, so callers that print errors say it."""
    if report.paused is not None:
        report.errors.append(
            f"Slack sending is paused ({report.paused}): {fix_for(report.paused)}; "
            "queued messages are kept"
        )
    for kind, error in report.held_by.items():
        report.errors.append(
            f"Slack: {_what_is_held(kind)} ({error}): {fix_for(error)}; queued messages are kept"
        )
    return report


def _probed(conditions: dict[str, _Held], out: Outgoing) -> None:
    """The row that was to probe the conditions covering it is done with (sent, refused, or not
    tried after all): another covered row may probe them. A condition it was refused with again
    was replaced meanwhile, with its next probe PROBE_EVERY away."""
    for kind, condition in conditions.items():
        if condition.probing and _covers(kind, out):
            condition.probing = False


def _put_back(db: Database, row_id: int, until: datetime) -> None:
    with db.session() as session:
        fresh = outbox.get_row(session, row_id)
        outbox.retry_later(session, fresh, at=until, error=None, attempt=False)


def _send(
    db: Database,
    client: WebClient,
    out: Outgoing,
    rates: RateLimits,
    now: Callable[[], datetime],
    report: RelayReport,
    conditions: dict[str, _Held],
) -> tuple[datetime | None, bool]:
    """Deliver one claimed row and record the outcome. Returns (hold its key until, stop the
    round)."""
    key = out.rate_key
    try:
        delivered = deliver(client, out)
    except Wait:
        _put_back(db, out.id, now() + timedelta(seconds=1))
        report.waiting += 1
        return None, False
    except RateLimited as exc:
        # chat.postMessage is limited per channel; every other method per workspace (its tier)
        per_channel = exc.method == key[0] and exc.method in PACE
        limited_key: RateKey = (exc.method, key[1] if per_channel else None)
        until = rates.limited(limited_key, exc.retry_after, now())
        _put_back(db, out.id, until)
        report.waiting += 1
        log.info(
            "delivery deferred outbox=%s method=%s channel=%s outcome=rate_limited retry_in=%.1fs",
            out.id,
            exc.method,
            limited_key[1] or "-",
            (until - now()).total_seconds(),
        )
        return until, False
    except Transient as exc:
        error = str(exc)
        delay = (
            timedelta(seconds=exc.retry_after)
            if exc.retry_after
            else min(MAX_BACKOFF, timedelta(seconds=2 ** min(out.attempts, 10)))
        )
        dead = out.attempts >= MAX_ATTEMPTS
        with db.session() as session:
            fresh = outbox.get_row(session, out.id)
            if dead:
                outbox.mark_dead(session, fresh, error=error)
            else:
                outbox.retry_later(session, fresh, at=now() + delay, error=error, attempt=True)
        if dead:
            report.dead += 1
            log.error("delivery failed outbox=%s outcome=dead error=%s (gave up)", out.id, error)
            return None, False
        report.errors.append(error)
        report.waiting += 1
        log.warning(
            "delivery deferred outbox=%s outcome=retry error=%s (Slack unavailable)", out.id, error
        )
        return now() + delay, True  # Slack is struggling: stop this round and keep the order.
    except Refused as exc:
        return _refused(db, out, exc, now, report, conditions)
    except ValueError as exc:
        return _dead(db, out, str(exc), now, report)
    stamp = now()
    rates.succeeded(key, stamp)
    with db.session() as session:
        fresh = outbox.get_row(session, out.id)
        if messages.is_deferred(fresh.payload):  # the row keeps what was sent
            fresh.payload = out.payload
        outbox.mark_sent(session, fresh, channel=delivered.channel, ts=delivered.ts, now=stamp)
        if fresh.ref_kind == "request" and delivered.channel and delivered.ts:
            gates.set_request_message(
                session, int(fresh.ref_id or 0), delivered.channel, delivered.ts
            )
        reclose = (
            _closed_after_refresh(session, fresh, stamp) if fresh.ref_kind == REFRESH else None
        )
        if delivered.opened is not None:
            dm_channels.remember(session, *delivered.opened)
        ref_id = fresh.ref_id
    # what this call went through shows gone: the conditions covering it, no others
    gone = {k for k in conditions if _covers(k, out)}
    for kind in gone:
        del conditions[kind]
        report.held_by.pop(kind, None)
    if report.paused is not None:
        gone |= _GLOBAL_KINDS
        report.paused = None
    _resume(db, stamp, gone)
    report.sent += 1
    if reclose is not None:
        log.info(
            "request %s closed while its tally refresh outbox=%s was sent: close queued again "
            "outbox=%s",
            ref_id,
            out.id,
            reclose,
        )
    log.info(
        "delivered outbox=%s method=%s ref=%s:%s channel=%s ts=%s",
        out.id,
        out.method,
        out.ref_kind or "-",
        ref_id or "-",
        delivered.channel or "-",
        delivered.ts or "-",
    )
    return None, False


def _refused(
    db: Database,
    out: Outgoing,
    exc: Refused,
    now: Callable[[], datetime],
    report: RelayReport,
    conditions: dict[str, _Held],
) -> tuple[datetime | None, bool]:
    if exc.scope is Scope.INSTALLATION:
        kind = pause_kind(exc.error, exc.method)
        if kind in _GLOBAL_KINDS:  # every call would fail: stop, keep every row as it is
            _pause(db, exc, now(), probe=report.paused is not None)
            _put_back(db, out.id, now())
            report.paused = exc.error
            report.waiting += 1
            return None, True
        # only what this condition covers waits (until its next probe); the round goes on
        _pause(db, exc, now(), probe=kind in conditions)
        probe_at = now() + PROBE_EVERY
        conditions[kind] = _Held(exc.error, probe_at)
        report.held_by[kind] = exc.error
        _put_back(db, out.id, probe_at)
        report.waiting += 1
        return None, False
    if exc.error == "channel_not_found" and out.dm_channel and out.user:
        # the cached DM channel is gone: ask for it again next time
        with db.session() as session:
            dm_channels.forget(session, out.user)
            fresh = outbox.get_row(session, out.id)
            outbox.retry_later(session, fresh, at=now(), error=exc.error, attempt=True)
        report.waiting += 1
        return None, False
    return _dead(db, out, exc.error, now, report, scope=exc.scope)


def _dead(
    db: Database,
    out: Outgoing,
    error: str,
    now: Callable[[], datetime],
    report: RelayReport,
    *,
    scope: Scope = Scope.MESSAGE,
) -> tuple[datetime | None, bool]:
    with db.session() as session:
        fresh = outbox.get_row(session, out.id)
        outbox.mark_dead(session, fresh, error=error)
        ref_kind, ref_id = fresh.ref_kind, fresh.ref_id
        if ref_kind == "request":
            _report_undeliverable_ask(session, int(ref_id or 0), error, now())
    report.dead += 1
    channel = out.rate_key[1]
    hint = ""
    if error == "not_in_channel":
        hint = f" fix: invite the bot to {channel} (/invite @<the app> in that channel)"
    elif error == "not_enabled":
        hint = f" fix: {fix_for(error)}"
    log.error(
        "delivery failed outbox=%s method=%s ref=%s:%s outcome=dead scope=%s error=%s%s",
        out.id,
        out.method,
        ref_kind or "-",
        ref_id or "-",
        scope.value,
        error,
        hint,
    )
    return None, False
