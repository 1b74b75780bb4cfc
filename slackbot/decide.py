"""One approver's answer, from a verified Slack interaction to the register.

Called by the listener inside Slack's 3-second window: it does database work only (no Slack
calls; replies go to the outbox) and it is idempotent, so a double click or a redelivery
records one decision. When a decision settles the gate, the same transaction asks for the
`resolve-gate` flow, so the gate's follow-up survives a crash of this process.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy.orm import Session

from lifecycle.gates import Verdict
from slackbot import messages
from store import repo


class Answer(StrEnum):
    RECORDED = "recorded"
    DUPLICATE = "duplicate"
    NOT_YOURS = "not_yours"
    SELF_APPROVAL = "self_approval"
    CLOSED = "closed"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class DecisionResult:
    answer: Answer
    text: str
    gate_resolved: bool = False


def handle_decision(
    session: Session,
    *,
    request_id: int,
    user_id: str,
    verdict: Verdict,
    reason: str | None,
    now: datetime,
    channel: str | None,
    source: str = "slack",
) -> DecisionResult:
    try:
        request = repo.get_request(session, request_id)
    except repo.NotFound:
        return DecisionResult(Answer.UNKNOWN, "This sign-off request no longer exists.")
    gate = repo.get_gate(session, request.gate_id)
    pilot = repo.get_pilot(session, gate.pilot_id)

    refused = refusal(
        approver=request.approver,
        excluded=frozenset(gate.excluded),
        status=gate.status,
        deadline=gate.deadline,
        user_id=user_id,
        now=now,
    )
    if refused is not None:
        answer, text = refused
        _tell(session, channel, user_id, text, now)
        return DecisionResult(answer, text)

    outcome = repo.record_decision(
        session, request, verdict=verdict, reason=reason, now=now, source=source
    )
    if not outcome.recorded:
        return DecisionResult(Answer.DUPLICATE, "Your answer was already recorded.")
    messages.close_request(
        session,
        pilot,
        gate,
        request,
        messages.decision_outcome(request.approver, verdict.value, reason, now),
        now,
    )
    if outcome.resolved_now:
        repo.request_flow(
            session,
            "resolve-gate",
            {"gate_id": gate.id},
            now=now,
            pilot_id=pilot.id,
            dedupe_key=f"resolve:{gate.id}",
        )
    return DecisionResult(Answer.RECORDED, f"Recorded: {verdict.value}.", outcome.resolved_now)


SELF_APPROVAL_TEXT = (
    "You proposed or own this pilot, so you cannot sign it off "
    "(separation of duties). Nothing was recorded."
)


def refusal(
    *,
    approver: str,
    excluded: frozenset[str],
    status: str,
    deadline: datetime,
    user_id: str,
    now: datetime,
) -> tuple[Answer, str] | None:
    """Why `user_id` may not answer a request now (None: they may). The one place these
    rules live: the listener screens clicks with it before any write."""
    if user_id in excluded:
        # Even on a request addressed to them: the gate would ignore it anyway.
        return Answer.SELF_APPROVAL, SELF_APPROVAL_TEXT
    if user_id != approver:
        return Answer.NOT_YOURS, (
            f"This sign-off is not yours to decide: it was asked of "
            f"<@{approver}>. Nothing was recorded."
        )
    if status != "open":
        return Answer.CLOSED, f"This gate is already closed ({status}). Nothing was recorded."
    if now > deadline:
        return Answer.CLOSED, "The deadline of this gate has passed; late answers do not count."
    return None


def _tell(session: Session, channel: str | None, user: str, text: str, now: datetime) -> None:
    if channel:
        messages.not_yours(session, channel, user, text, now)
