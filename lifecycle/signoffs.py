"""Who may answer a sign-off request, and when: the rule the listener (and any other place a
person answers) screens every answer with before anything is written."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from lifecycle.statuses import GatePhase


class Refusal(StrEnum):
    #: the proposer or the business owner, even on a request addressed to them.
    SELF_APPROVAL = "self_approval"
    #: someone other than the approver the request was made of.
    NOT_YOURS = "not_yours"
    #: the gate is no longer open.
    CLOSED = "closed"
    #: the gate is open but its deadline has passed; a late answer would not count.
    LATE = "late"


def refusal(
    *,
    approver: str,
    excluded: frozenset[str],
    status: str,
    deadline: datetime,
    user_id: str,
    now: datetime,
) -> Refusal | None:
    """Why `user_id` may not answer a request now (None: they may)."""
    if user_id in excluded:
        # Even on a request addressed to them: the gate would ignore it anyway.
        return Refusal.SELF_APPROVAL
    if user_id != approver:
        return Refusal.NOT_YOURS
    if status != GatePhase.OPEN:
        return Refusal.CLOSED
    if now > deadline:
        return Refusal.LATE
    return None
