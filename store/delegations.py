"""Out-of-office delegations: recorded, listed, revoked, and the ones in force at a time.

A delegation is never deleted: revoking it stamps `revoked_at` / `revoked_by`, so the register
still says who stood in for whom and when. Every change is audited. The rules (what may be
recorded, who is asked) are `lifecycle.delegation`'s; this module only stores and reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from lifecycle import delegation as rules
from store import audit
from store._rows import fetch_all, get_or_raise
from store.errors import Conflict
from store.models import Delegation


def as_rule(row: Delegation) -> rules.Delegation:
    """The pure shape `lifecycle.delegation` reasons about."""
    return rules.Delegation(row.approver, row.delegate, row.starts_at, row.ends_at, row.revoked_at)


def add(
    session: Session,
    *,
    approver: str,
    delegate: str,
    starts_at: datetime,
    ends_at: datetime,
    reason: str,
    actor: str,
    now: datetime,
) -> Delegation:
    """Record a delegation (the caller has checked it with `lifecycle.delegation.check_new`)."""
    row = Delegation(
        approver=approver,
        delegate=delegate,
        starts_at=starts_at,
        ends_at=ends_at,
        reason=reason,
        created_by=actor,
        created_at=now,
    )
    session.add(row)
    session.flush()
    audit.append(
        session,
        actor=actor,
        action="delegation.created",
        pilot_id=None,
        data={
            "delegation_id": row.id,
            "approver": approver,
            "delegate": delegate,
            "starts_at": starts_at.isoformat(),
            "ends_at": ends_at.isoformat(),
            "reason": reason,
        },
        now=now,
    )
    return row


def get(session: Session, delegation_id: int) -> Delegation:
    return get_or_raise(
        session, Delegation, delegation_id, f"no delegation with id {delegation_id}"
    )


def list_all(
    session: Session, *, include_past: bool = True, now: datetime | None = None
) -> Sequence[Delegation]:
    """Every delegation, oldest first; with include_past=False only those not over at `now`
    and not revoked."""
    query = select(Delegation).order_by(Delegation.starts_at, Delegation.id)
    if not include_past:
        assert now is not None
        query = query.where(Delegation.ends_at > now, Delegation.revoked_at.is_(None))
    return fetch_all(session, query)


def live_overlapping(
    session: Session, starts_at: datetime, ends_at: datetime
) -> list[rules.Delegation]:
    """Unrevoked delegations whose period overlaps [starts_at, ends_at): what a new one is
    checked against (cycles, a second delegation of the same approver)."""
    rows = fetch_all(
        session,
        select(Delegation).where(
            Delegation.revoked_at.is_(None),
            Delegation.starts_at < ends_at,
            Delegation.ends_at > starts_at,
        ),
    )
    return [as_rule(r) for r in rows]


def active(
    session: Session, at: datetime, approvers: Iterable[str] | None = None
) -> list[rules.Delegation]:
    """The delegations in force at `at`. With `approvers`, those of these approvers and of
    whoever they delegate to, followed as deep as `lifecycle.delegation.MAX_DEPTH` (+1, so a
    cycle at the limit is still seen)."""
    base = select(Delegation).where(
        Delegation.starts_at <= at,
        Delegation.ends_at > at,
        or_(Delegation.revoked_at.is_(None), Delegation.revoked_at > at),
    )
    if approvers is None:
        return [as_rule(r) for r in fetch_all(session, base)]
    found: dict[int, Delegation] = {}
    frontier = set(approvers)
    seen: set[str] = set()
    for _ in range(rules.MAX_DEPTH + 1):
        frontier -= seen
        if not frontier:
            break
        seen |= frontier
        rows = fetch_all(session, base.where(Delegation.approver.in_(sorted(frontier))))
        for r in rows:
            found[r.id] = r
        frontier = {r.delegate for r in rows}
    return [as_rule(r) for r in sorted(found.values(), key=lambda r: r.id)]


def in_force_recorded_before_start(session: Session, at: datetime) -> Sequence[Delegation]:
    """Delegations in force at `at` that were recorded before their period began (an upcoming
    leave): the sweep re-asks their approvers' open requests. Oldest period first."""
    return fetch_all(
        session,
        select(Delegation)
        .where(
            Delegation.starts_at <= at,
            Delegation.ends_at > at,
            or_(Delegation.revoked_at.is_(None), Delegation.revoked_at > at),
            Delegation.starts_at > Delegation.created_at,
        )
        .order_by(Delegation.starts_at, Delegation.id),
    )


def revoke(session: Session, delegation_id: int, *, actor: str, now: datetime) -> Delegation:
    """Revoke a delegation once (a conditional update); requests already handed over stay with
    the delegate, new ones go to the approver again."""
    row = get(session, delegation_id)
    result = session.execute(
        update(Delegation)
        .where(Delegation.id == delegation_id, Delegation.revoked_at.is_(None))
        .values(revoked_at=now, revoked_by=actor)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(row)
        raise Conflict(
            f"delegation {delegation_id} was already revoked "
            f"({row.revoked_at:%Y-%m-%d %H:%M} UTC by {row.revoked_by})"
            if row.revoked_at
            else f"delegation {delegation_id} could not be revoked"
        )
    audit.append(
        session,
        actor=actor,
        action="delegation.revoked",
        pilot_id=None,
        data={
            "delegation_id": delegation_id,
            "approver": row.approver,
            "delegate": row.delegate,
        },
        now=now,
    )
    session.refresh(row)
    return row
