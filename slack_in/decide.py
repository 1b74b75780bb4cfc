"""The path every Slack listener shares: one transaction that screens the click, records the
answer (`tasks.answers`) and queues the replies; then the wake-up of the dispatcher.

Called inside Slack's 3-second window, so nothing here calls Slack: replies, refusals
included, go to the outbox.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from lifecycle.gates import Verdict
from slack_in.deps import ListenerDeps
from slack_out import messages
from tasks.answers import Answer, DecisionResult, record, screen

log = logging.getLogger("pilotgate.listener")


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
            log.info(
                "decision request=%s pilot=%s approver=%s verdict=%s outcome=refused",
                request_id,
                target.pilot_id,
                user_id,
                verdict.value,
            )
            return DecisionResult(Answer.REFUSED, refused)
        if target.answered:
            return None  # a repeat: the first answer stands, silently
        result = record(session, target, verdict=verdict, reason=reason, now=now)
        if result.answer is Answer.LATE:
            tell(session, channel, user_id, result.text, now)
    log.info(
        "decision request=%s pilot=%s approver=%s verdict=%s outcome=%s gate_settled=%s",
        request_id,
        target.pilot_id,
        user_id,
        verdict.value,
        result.answer.value,
        result.gate_resolved,
    )
    if result.gate_resolved:
        wake(deps)
    return result


def wake(deps: ListenerDeps) -> None:
    """Wake the dispatcher (the waiting flow, the outbox). What it is woken for is already
    committed, so a failed wake-up only delays it until the dispatcher's next round; it must
    not fail the click."""
    if deps.on_wake is None:
        return
    try:
        deps.on_wake()
    except Exception:
        log.exception("on_wake failed; what it was woken for stays queued")
