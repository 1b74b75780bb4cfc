"""One approver's answer, wherever it comes from (a Slack click, a web page): screened once
against the rule of who may answer, then recorded with its replies and follow-up.

Database work only, in the caller's transaction (replies go to the outbox), and idempotent: a
double click or a redelivery records one decision. Most answers a busy gate receives are
refusals or repeats, so screening reads one small row (`store.read_models.click_target`) and
applies the pure rule `lifecycle.signoffs.refusal`; only a first answer pays for the ORM loads
and the gate's evaluation. When a decision settles the gate, the same transaction queues
`resolve-gate`, so the follow-up survives a crash of the process that took the answer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy.orm import Session

from lifecycle.gates import Verdict
from lifecycle.signoffs import Refusal, refusal
from lifecycle.statuses import GatePhase
from slack_out import messages
from store import flow_queue, gates
from store.read_models import ClickTarget, click_target
from tasks import home

log = logging.getLogger("pilotgate.answers")

ALREADY_ANSWERED = "Your answer was already recorded; it cannot be changed here."
LATE_TEXT = (
    "The gate was decided a moment before your answer arrived, so your answer was not "
    "counted. Nothing was recorded."
)
SELF_APPROVAL_TEXT = (
    "You proposed or own this pilot, so you cannot sign it off "
    "(separation of duties). Nothing was recorded."
)


class Answer(StrEnum):
    RECORDED = "recorded"
    DUPLICATE = "duplicate"
    REFUSED = "refused"
    #: the gate settled between screening and recording: not counted.
    LATE = "late"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class DecisionResult:
    answer: Answer
    text: str
    gate_resolved: bool = False


def refusal_text(why: Refusal, target: ClickTarget, handed_to: str | None = None) -> str:
    if why is Refusal.SELF_APPROVAL:
        return SELF_APPROVAL_TEXT
    if why is Refusal.NOT_YOURS:
        return (
            f"This sign-off is not yours to decide: it was asked of "
            f"<@{target.approver}>. Nothing was recorded."
        )
    if why is Refusal.CLOSED:
        return f"This gate is already closed ({target.status}). Nothing was recorded."
    if why is Refusal.HANDED_OVER and handed_to == target.approver:
        return (
            "The evidence changed after this message was sent, so you are asked again in a "
            "newer message with the new evidence; answer there. Nothing was recorded."
        )
    if why is Refusal.HANDED_OVER:
        to = f"<@{handed_to}>" if handed_to else "someone else"
        return (
            f"This sign-off was handed to {to} (out of office or reassigned), so it is "
            "closed here. Nothing was recorded."
        )
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
        superseded=target.superseded,
    )
    if why is None:
        return target, None
    handed_to = None
    if why is Refusal.HANDED_OVER:
        successor = gates.handed_to(session, gates.get_request(session, request_id))
        handed_to = successor.approver if successor else None
    return target, refusal_text(why, target, handed_to)


def record(
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
        if outcome.superseded:
            # Screened before the request was handed over; the hand-over took the lock first.
            successor = gates.handed_to(session, request)
            return DecisionResult(
                Answer.REFUSED,
                refusal_text(
                    Refusal.HANDED_OVER,
                    target,
                    successor.approver if successor else None,
                ),
            )
        if outcome.gate.status != GatePhase.OPEN:
            # Screened while open, settled by another answer before this one took the lock.
            return DecisionResult(Answer.LATE, LATE_TEXT)
        return DecisionResult(Answer.DUPLICATE, "Your answer was already recorded.")
    messages.close_request(
        session,
        request,
        messages.decision_outcome(
            request.approver, verdict.value, reason, now, on_behalf_of=request.on_behalf_of
        ),
        now,
    )
    if outcome.resolved_now:
        flow_queue.request_resolve_gate(session, target.gate_id, target.pilot_id, now=now)
    else:  # the gate still waits on the others: their asks show this answer in their tally
        messages.refresh_asks(session, outcome.gate, now=now)
    home.refresh_pilot(session, target.pilot_id, now)
    return DecisionResult(Answer.RECORDED, f"Recorded: {verdict.value}.", outcome.resolved_now)
