"""Read models: the narrow shapes that hot screens read, in one statement each.

Nothing here writes. A click on a sign-off button is screened on `click_target` (one indexed
join, no ORM loading) before any write, because most clicks a busy gate gets are refusals or
repeats.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, bindparam, select
from sqlalchemy.orm import Session

from store.models import Decision, Gate, Pilot, SignoffRequest


@dataclass(frozen=True)
class ClickTarget:
    """What screening a click needs: the request, its gate, and whether it was answered."""

    request_id: int
    gate_id: int
    approver: str
    channel: str | None
    pilot_id: str
    stage: str
    status: str
    deadline: datetime
    excluded: frozenset[str]
    answered: bool
    #: the request was handed to someone else (a delegate, a reassignment): closed to clicks.
    superseded: bool = False
    #: the approver this request stands in for, if any.
    on_behalf_of: str | None = None


#: Built once: this runs for every click, so it skips statement construction and ORM loading.
_CLICK_TARGET = (
    select(
        SignoffRequest.gate_id,
        SignoffRequest.approver,
        SignoffRequest.channel,
        Gate.pilot_id,
        Gate.stage,
        Gate.status,
        Gate.deadline,
        Gate.excluded,
        Decision.id,
        SignoffRequest.superseded_at,
        SignoffRequest.on_behalf_of,
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


def click_target(session: Session, request_id: int) -> ClickTarget | None:
    row = session.connection().execute(_CLICK_TARGET, {"request_id": request_id}).first()
    if row is None:
        return None
    (
        gate_id,
        approver,
        channel,
        pilot_id,
        stage,
        status,
        deadline,
        excluded,
        decision_id,
        superseded_at,
        on_behalf_of,
    ) = row
    return ClickTarget(
        request_id,
        gate_id,
        approver,
        channel,
        pilot_id,
        stage,
        status,
        deadline,
        frozenset(excluded or ()),
        decision_id is not None,
        superseded_at is not None,
        on_behalf_of,
    )


def pilot_title(session: Session, pilot_id: str) -> str:
    return str(session.execute(select(Pilot.title).where(Pilot.id == pilot_id)).scalar_one())
