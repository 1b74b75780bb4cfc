"""Who may answer a sign-off request, and when: the rule the listener (and any other place a
person answers) screens every answer with before anything is written."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from lifecycle.statuses import GatePhase

#: a rejection goes on record with a reason of at least this many characters (after trimming),
#: wherever it is given (Slack's modal, the web page).
MIN_REASON = 10


class Refusal(StrEnum):
    #: the proposer or the business owner, even on a request addressed to them.
    SELF_APPROVAL = "self_approval"
    #: someone other than the approver the request was made of.
    NOT_YOURS = "not_yours"
    #: the gate is no longer open.
    CLOSED = "closed"
    #: the gate is open but its deadline has passed; a late answer would not count.
    LATE = "late"
    #: the request was handed to someone else (a delegate, a reassignment): closed.
    HANDED_OVER = "handed_over"


def refusal(
    *,
    approver: str,
    excluded: frozenset[str],
    status: str,
    deadline: datetime,
    user_id: str,
    now: datetime,
    superseded: bool = False,
) -> Refusal | None:
    """Why `user_id` may not answer a request now (None: they may)."""
    if user_id in excluded:
        # Even on a request addressed to them: the gate would ignore it anyway.
        return Refusal.SELF_APPROVAL
    if user_id != approver:
        return Refusal.NOT_YOURS
    if status != GatePhase.OPEN:
        return Refusal.CLOSED
    if superseded:
        return Refusal.HANDED_OVER
    if now > deadline:
        return Refusal.LATE
    return None
