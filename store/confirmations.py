"""Criterion confirmations: who confirmed which readiness criterion of a pilot, how, and when.

Append-only (see store.models.CriterionConfirmation); every confirmation also writes an audit
row. Who may confirm what is decided in lifecycle.confirmations before anything is written.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from lifecycle.confirmations import Confirmation
from store import audit
from store._rows import fetch_all
from store.models import CriterionConfirmation


def confirmations_of(session: Session, pilot_id: str) -> list[Confirmation]:
    """This pilot's confirmations, oldest first."""
    rows = fetch_all(
        session,
        select(CriterionConfirmation)
        .where(CriterionConfirmation.pilot_id == pilot_id)
        .order_by(CriterionConfirmation.confirmed_at, CriterionConfirmation.id),
    )
    return [
        Confirmation(r.criterion, r.confirmed_by, r.role, r.confirmed_at, r.note, r.link)
        for r in rows
    ]


def record(
    session: Session,
    pilot_id: str,
    *,
    criterion: str,
    confirmed_by: str,
    role: str,
    note: str | None,
    link: str | None,
    now: datetime,
    actor: str,
) -> CriterionConfirmation:
    row = CriterionConfirmation(
        pilot_id=pilot_id,
        criterion=criterion,
        confirmed_by=confirmed_by,
        role=role,
        note=note,
        link=link,
        confirmed_at=now,
        actor=actor,
    )
    session.add(row)
    session.flush()
    audit.append(
        session,
        actor=actor,
        action="criterion.confirmed",
        pilot_id=pilot_id,
        data={
            "confirmation_id": row.id,
            "criterion": criterion,
            "confirmed_by": confirmed_by,
            "role": role,
            "note": note,
            "link": link,
        },
        now=now,
    )
    return row
