"""One approver's answer, from a verified Slack interaction to the register: the path every
listener shares.

Called inside Slack's 3-second window: database work only (replies go to the outbox) and
idempotent, so a double click or a redelivery records one decision. Most clicks a busy gate
receives are refusals (someone else's message, a closed gate) or repeats, so each click is
screened once, on one small query (`store.read_models.click_target`) and the pure rule
`lifecycle.signoffs.refusal`; only a first answer pays for the ORM loads and the gate's
evaluation. When a decision settles the gate, the same transaction queues `resolve-gate`, so
the follow-up survives a crash of this process.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy.orm import Session

from lifecycle.gates import Verdict
from lifecycle.signoffs import Refusal, refusal
from slack_in.deps import ListenerDeps
from slack_out import messages
from store import flow_queue, gates, pilots
from store.read_models import ClickTarget, click_target

log = logging.getLogger("pilotgate.listener")

ALREADY_ANSWERED = "Your answer was already recorded; it cannot be changed here."
SELF_APPROVAL_TEXT = (
    "You proposed or own this pilot, so you cannot sign it off "
    "(separation of duties). Nothing was recorded."
)


class Answer(StrEnum):
    RECORDED = "recorded"
    DUPLICATE = "duplicate"
    REFUSED = "refused"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class DecisionResult:
    answer: Answer
    text: str
    gate_resolved: bool = False


def refusal_text(why: Refusal, target: ClickTarget) -> str:
    if why is Refusal.SELF_APPROVAL:
        return SELF_APPROVAL_TEXT
    if why is Refusal.NOT_YOURS:
        return (
            f"This sign-off is not yours to decide: it was asked of "
            f"<@{target.approver}>. Nothing was recorded."
        )
    if why is Refusal.CLOSED:
        return f"This gate is already closed ({target.status}). Nothing was recorded."
    return "The deadline of this gate has passed; late answers do not count."


def screen(
    session: Session, request_id: int, user_id: str, now: datetime
) -> tuple[ClickTarget | None, str | None]:
    """The click's target and, if `user_id` may not answer it now, why (as the text they are
    told). (None, None) for an unknown request."""
    target = click_target(session, request_id)
    if target is None:
        log.info("click for unknown sign-off request %s; nothing recorded", request_id)
        return None, None
    why = refusal(
        approver=target.approver,
        excluded=target.excluded,
        status=target.status,
        deadline=target.deadline,
        user_id=user_id,
        now=now,
    )
    return target, None if why is None else refusal_text(why, target)


def tell(session: Session, channel: str | None, user_id: str, text: str, now: datetime) -> None:
    """An ephemeral answer to the clicker, through the outbox."""
    if channel:
        messages.not_yours(session, channel, user_id, text, now)


def decide(
    deps: ListenerDeps,
    request_id: int,
    user_id: str,
    verdict: Verdict,
    reason: str | None,
    channel: str | None,
) -> DecisionResult | None:
    """One transaction: screen, record, queue the replies and (if settled) the follow-up."""
    now = deps.clock()
    with deps.transaction() as session:
        target, refused = screen(session, request_id, user_id, now)
        if target is None:
            return None
        channel = channel or target.channel
        if refused is not None:
            tell(session, channel, user_id, refused, now)
            return DecisionResult(Answer.REFUSED, refused)
        if target.answered:
            return None  # a repeat: the first answer stands, silently
        result = _record(session, target, verdict=verdict, reason=reason, now=now)
    log.info("request %s: %s by %s -> %s", request_id, verdict.value, user_id, result.answer)
    if result.gate_resolved:
        _wake(deps)
    return result


def _record(
    session: Session,
    target: ClickTarget,
    *,
    verdict: Verdict,
    reason: str | None,
    now: datetime,
    source: str = "slack",
) -> DecisionResult:
    """Record a screened answer: the decision, the closed buttons and, if the decision settled
    the gate, the resolve-gate flow request."""
    request = gates.get_request(session, target.request_id)
    outcome = gates.record_decision(
        session, request, verdict=verdict, reason=reason, now=now, source=source
    )
    if not outcome.recorded:
        return DecisionResult(Answer.DUPLICATE, "Your answer was already recorded.")
    pilot = pilots.get_pilot(session, target.pilot_id)
    messages.close_request(
        session,
        pilot,
        outcome.gate,
        request,
        messages.decision_outcome(request.approver, verdict.value, reason, now),
        now,
    )
    if outcome.resolved_now:
        flow_queue.request_resolve_gate(session, target.gate_id, pilot.id, now=now)
    return DecisionResult(Answer.RECORDED, f"Recorded: {verdict.value}.", outcome.resolved_now)


def _wake(deps: ListenerDeps) -> None:
    """Wake the waiting flow. The flow request is already committed, so a failed wake-up only
    delays the follow-up until the dispatcher's next round; it must not fail the click."""
    if deps.on_wake is None:
        return
    try:
        deps.on_wake()
    except Exception:
        log.exception("on_wake failed; the resolve-gate flow request stays queued")
