"""The inbound Slack side: a slack-bolt App that verifies, acks and records sign-off clicks.

Bolt's own style: each handler calls `ack()` first and is one small named function; `register`
wires them to the App. With `process_before_response=True` the HTTP answer goes back to Slack
only after the handler returned, so a decision is committed before Slack hears "200", and a
database error propagates as a 500 (Slack shows the user an error; nothing was accepted).

What reaches the database before the answer:
- `pilotgate_approve` (button): the decision, through `slackbot.decide.handle_decision`, in one
  transaction with its outbox messages and, when it settles the gate, the `resolve-gate` flow
  request; then `on_wake()` (keep it quick, e.g. set an Event: Slack is still waiting). No
  Slack call: replies go to the outbox. Refusals (not the clicker's request, proposer or owner,
  gate closed, deadline passed) and repeats are screened first on one small query, so the
  clicks a busy gate mostly gets stay cheap; only a first answer reaches handle_decision.
- `pilotgate_reject` (button): only a refusal for someone who may not decide (queued as an
  ephemeral); the approver gets the reason modal through `views.open`, the one Slack call on
  this path, because its `trigger_id` lives three seconds.
- `pilotgate_reject_modal` (view submission): the reason is checked (at least 10 characters
  after trimming, else the modal shows the error and nothing is recorded), then the rejection
  is recorded like an approval.

Security: bolt's RequestVerification checks the v0 HMAC signature against the signing secret
and refuses timestamps more than five minutes away from now with 401 (slack_sdk's
SignatureVerifier: `abs(now - timestamp) > 300`); slackbot.server answers 401 itself for a
timestamp that is not a number (bolt would fail on `int()` with a 500). Authorization is a
static `authorize` function that hands bolt the bot token: bolt's default single-team
authorization would call `auth.test` on the first request, i.e. a Slack call inside the ack
path, and a Slack outage would then refuse decisions.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from slack_bolt import Ack, App
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_sdk import WebClient
from sqlalchemy import and_, bindparam, select
from sqlalchemy.orm import Session

from lifecycle.gates import Verdict
from pilotgate.runtime import Runtime, utcnow
from slackbot import messages
from slackbot.decide import DecisionResult, handle_decision, refusal
from slackbot.render import render_view
from store.db import Database
from store.models import Decision, Gate, Pilot, SignoffRequest

log = logging.getLogger("pilotgate.listener")

APPROVE_ACTION = "pilotgate_approve"
REJECT_ACTION = "pilotgate_reject"
REJECT_MODAL = "pilotgate_reject_modal"
REASON_BLOCK = "reason"
REASON_INPUT = "reason_input"
MIN_REASON = 10
REASON_ERROR = f"Give a reason of at least {MIN_REASON} characters"
#: views.open runs inside Slack's 3-second window: fail fast rather than retry.
VIEWS_OPEN_TIMEOUT = 2


class ListenerNotConfigured(RuntimeError):
    pass


@dataclass(frozen=True)
class ListenerDeps:
    """What the handlers need besides the request: the register, the clock, the wake-up."""

    db: Database
    clock: Callable[[], datetime] = utcnow
    on_wake: Callable[[], None] | None = None
    #: SQLite has one writer at a time and every transaction here begins IMMEDIATE, so the
    #: listener's threads take turns on this lock instead of in SQLite's busy handler, which
    #: polls with sleeps of up to 100 ms. Measured with 10 threads dispatching clicks: 217
    #: clicks/s, p99 ~800 ms without the lock; 333-375 clicks/s, p99 ~110 ms with it.
    write_lock: AbstractContextManager[Any] = field(default_factory=nullcontext)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with self.write_lock, self.db.session() as session:
            yield session


def deps_for(
    db: Database,
    *,
    clock: Callable[[], datetime] = utcnow,
    on_wake: Callable[[], None] | None = None,
) -> ListenerDeps:
    lock: AbstractContextManager[Any] = (
        threading.Lock() if db.engine.dialect.name == "sqlite" else nullcontext()
    )
    return ListenerDeps(db=db, clock=clock, on_wake=on_wake, write_lock=lock)


def build_app(
    runtime: Runtime,
    *,
    on_wake: Callable[[], None] | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> App:
    """The bolt App with pilotgate's listeners; no Slack call is made to build it."""
    settings = runtime.settings
    if settings.slack_bot_token is None or settings.slack_signing_secret is None:
        raise ListenerNotConfigured(
            "SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET must be set to receive Slack clicks"
        )
    bot_token = settings.slack_bot_token.get_secret_value()
    # The App's client carries no token: `authorize` gives each request's client the bot token.
    # (Given a token, bolt would authorize with a lazy auth.test on the first click.)
    client = WebClient(base_url=settings.slack_api_url, timeout=VIEWS_OPEN_TIMEOUT)

    def authorize(enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
        return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_token=bot_token)

    app = App(
        name="pilotgate",
        signing_secret=settings.slack_signing_secret.get_secret_value(),
        client=client,
        authorize=authorize,
        process_before_response=True,
        token_verification_enabled=False,
        logger=_bolt_logger(),
    )
    register(app, deps_for(runtime.db, clock=clock, on_wake=on_wake))
    return app


class _TokenFromClientNotice(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN from the environment by itself and warns that it is unused
    next to `client`; that is intended here (the token reaches requests via `authorize`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != warning_client_prioritized_and_token_skipped()


def _bolt_logger() -> logging.Logger:
    logger = logging.getLogger("pilotgate.bolt")
    if not any(isinstance(f, _TokenFromClientNotice) for f in logger.filters):
        logger.addFilter(_TokenFromClientNotice())
    return logger


def register(app: App, deps: ListenerDeps) -> None:
    """Wire the handlers to `app`; each closure only forwards to its named function."""

    @app.action(APPROVE_ACTION)
    def on_approve(ack: Ack, body: dict[str, Any]) -> None:
        approve(ack, body, deps)

    @app.action(REJECT_ACTION)
    def on_reject(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        open_reject_modal(ack, body, client, deps)

    @app.view(REJECT_MODAL)
    def on_reject_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        submit_reject(ack, body, view, deps)


# ---------------------------------------------------------------- handlers


def approve(ack: Ack, body: dict[str, Any], deps: ListenerDeps) -> None:
    ack()
    request_id = _request_id(_button_value(body))
    user_id = _user_id(body)
    if request_id is None or user_id is None:
        log.info("approve click without a usable request id or user; nothing recorded")
        return
    _decide(deps, request_id, user_id, Verdict.APPROVE, None, _channel(body))


def open_reject_modal(
    ack: Ack, body: dict[str, Any], client: WebClient, deps: ListenerDeps
) -> None:
    ack()
    request_id = _request_id(_button_value(body))
    user_id = _user_id(body)
    trigger_id = body.get("trigger_id")
    if request_id is None or user_id is None or not isinstance(trigger_id, str):
        log.info("reject click without a usable request id, user or trigger; nothing recorded")
        return
    now = deps.clock()
    with deps.transaction() as session:
        target = _target(session, request_id)
        if target is None:
            return
        refusal = refusal_for(target, user_id, now) or (
            ALREADY_ANSWERED if target.answered else None
        )
        if refusal is not None:
            _tell(session, _channel(body), user_id, refusal, now)
            return
        title = session.execute(select(Pilot.title).where(Pilot.id == target.pilot_id)).scalar_one()
    view = render_view(
        "slack/reject_modal.json.j2",
        request_id=request_id,
        title=title,
        stage_label=messages.label(target.stage),
    )
    # After the transaction: no database connection is held during the Slack call.
    client.views_open(trigger_id=trigger_id, view=view)


def submit_reject(ack: Ack, body: dict[str, Any], view: dict[str, Any], deps: ListenerDeps) -> None:
    reason = _reason(view)
    if len(reason) < MIN_REASON:
        ack(response_action="errors", errors={REASON_BLOCK: REASON_ERROR})
        return
    ack()
    request_id = _request_id(view.get("private_metadata"))
    user_id = _user_id(body)
    if request_id is None or user_id is None:
        log.info("reject submission without a usable request id or user; nothing recorded")
        return
    # A modal has no channel: refusals go to the approver's DM the request was posted in.
    _decide(deps, request_id, user_id, Verdict.REJECT, reason, channel=None)


# ---------------------------------------------------------------- the shared path


def _decide(
    deps: ListenerDeps,
    request_id: int,
    user_id: str,
    verdict: Verdict,
    reason: str | None,
    channel: str | None,
) -> DecisionResult | None:
    """One transaction: screen, record, queue the replies and (if settled) the follow-up.

    Most clicks a busy gate receives are refusals (someone else's message, a closed gate) or
    repeats (double clicks, redeliveries). They are screened on one small query, so only a
    first answer pays for handle_decision's ORM loads and the gate's evaluation."""
    now = deps.clock()
    with deps.transaction() as session:
        target = _target(session, request_id)
        if target is None:
            return None
        channel = channel or target.channel
        refusal = refusal_for(target, user_id, now)
        if refusal is not None:
            _tell(session, channel, user_id, refusal, now)
            return None
        if target.answered:
            return None  # a repeat: the first answer stands, silently (as handle_decision)
        result = handle_decision(
            session,
            request_id=request_id,
            user_id=user_id,
            verdict=verdict,
            reason=reason,
            now=now,
            channel=channel,
        )
    log.info("request %s: %s by %s -> %s", request_id, verdict.value, user_id, result.answer)
    if result.gate_resolved:
        _wake(deps)
    return result


def _wake(deps: ListenerDeps) -> None:
    """Wake the waiting flow. The flow request is already committed, so a failed wake-up only
    delays the follow-up until the dispatcher's next round; it must not fail the click."""
    if deps.on_wake is None:
        return
    try:
        deps.on_wake()
    except Exception:
        log.exception("on_wake failed; the resolve-gate flow request stays queued")


ALREADY_ANSWERED = "Your answer was already recorded; it cannot be changed here."


@dataclass(frozen=True)
class Target:
    """What screening a click needs: the request, its gate, and whether it was answered."""

    request_id: int
    approver: str
    channel: str | None
    pilot_id: str
    stage: str
    status: str
    deadline: datetime
    excluded: frozenset[str]
    answered: bool


#: Built once: this runs for every click, so it skips statement construction and ORM loading.
_TARGET = (
    select(
        SignoffRequest.approver,
        SignoffRequest.channel,
        Gate.pilot_id,
        Gate.stage,
        Gate.status,
        Gate.deadline,
        Gate.excluded,
        Decision.id,
    )
    .join(Gate, Gate.id == SignoffRequest.gate_id)
    .outerjoin(
        Decision,
        and_(
            Decision.request_id == SignoffRequest.id, Decision.approver == SignoffRequest.approver
        ),
    )
    .where(SignoffRequest.id == bindparam("request_id"))
    .limit(1)
)


def _target(session: Session, request_id: int) -> Target | None:
    row = session.connection().execute(_TARGET, {"request_id": request_id}).first()
    if row is None:
        log.info("click for unknown sign-off request %s; nothing recorded", request_id)
        return None
    approver, channel, pilot_id, stage, status, deadline, excluded, decision_id = row
    return Target(
        request_id,
        approver,
        channel,
        pilot_id,
        stage,
        status,
        deadline,
        frozenset(excluded or ()),
        decision_id is not None,
    )


def refusal_for(target: Target, user_id: str, now: datetime) -> str | None:
    """Why `user_id` may not answer the request now (None: they may); see decide.refusal."""
    refused = refusal(
        approver=target.approver,
        excluded=frozenset(target.excluded),
        status=target.status,
        deadline=target.deadline,
        user_id=user_id,
        now=now,
    )
    return refused[1] if refused else None


def _tell(session: Session, channel: str | None, user_id: str, text: str, now: datetime) -> None:
    if channel:
        messages.not_yours(session, channel, user_id, text, now)


# ---------------------------------------------------------------- payload reading


def _request_id(value: object) -> int | None:
    """A sign-off request id from a button value or private_metadata; None if malformed."""
    if not isinstance(value, str) or not value.isascii() or not value.strip().isdigit():
        return None
    number = int(value)
    return number if 0 < number < 2**63 else None


def _button_value(body: Mapping[str, Any]) -> object:
    actions = body.get("actions")
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], dict):
        return None
    return actions[0].get("value")


def _user_id(body: Mapping[str, Any]) -> str | None:
    user = body.get("user")
    user_id = user.get("id") if isinstance(user, dict) else None
    return user_id if isinstance(user_id, str) and user_id else None


def _channel(body: Mapping[str, Any]) -> str | None:
    container = body.get("container")
    channel = container.get("channel_id") if isinstance(container, dict) else None
    return channel if isinstance(channel, str) and channel else None


def _reason(view: Mapping[str, Any]) -> str:
    try:
        value = view["state"]["values"][REASON_BLOCK][REASON_INPUT]["value"]
    except (KeyError, TypeError):
        return ""
    return value.strip() if isinstance(value, str) else ""
