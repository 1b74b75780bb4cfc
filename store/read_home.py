"""What a person's App Home and the `/pilotgate` command show: read-only queries.

The App Home is one view per person, rebuilt whenever something it shows changes, so these
queries answer "what concerns this person now" in a handful of selects: their open sign-offs,
the pilots they proposed or own, and (for the programme office) the overdue gates with the
people still holding them up. `home_users` says who has a Home to refresh: anyone pilotgate has
ever published one for (the outbox keeps every `views.publish` row; the first carries an indexed
dedupe key).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from config.names import Keys
from lifecycle.stages import ACTIVE
from lifecycle.statuses import GatePhase, OutboxStatus
from store import gates as store_gates
from store._rows import fetch_all
from store.models import Decision, Gate, OutboxMessage, Pilot, SignoffRequest

#: the outbox `ref_kind` of a published App Home (`ref_id` is the person's user id).
HOME_REF = "home"


@dataclass(frozen=True)
class Waiting:
    """One open sign-off asked of the person."""

    request_id: int
    role: str
    on_behalf_of: str | None
    gate_id: int
    stage: str
    target: str
    deadline: datetime
    pilot_id: str
    title: str


@dataclass(frozen=True)
class Blocked:
    """An open gate and who has not answered it yet (by role)."""

    gate_id: int
    pilot_id: str
    title: str
    stage: str
    target: str
    deadline: datetime
    waiting_on: tuple[tuple[str, str], ...]  # (role, approver), role order then id


def waiting_for(session: Session, user_id: str) -> list[Waiting]:
    """`user_id`'s unanswered, not handed-over requests on open gates, soonest deadline first."""
    rows = session.execute(
        select(
            SignoffRequest.id,
            SignoffRequest.role,
            SignoffRequest.on_behalf_of,
            Gate.id,
            Gate.stage,
            Gate.target,
            Gate.deadline,
            Pilot.id,
            Pilot.title,
        )
        .join(Gate, Gate.id == SignoffRequest.gate_id)
        .join(Pilot, Pilot.id == Gate.pilot_id)
        .outerjoin(Decision, Decision.request_id == SignoffRequest.id)
        .where(
            SignoffRequest.approver == user_id,
            SignoffRequest.superseded_at.is_(None),
            Gate.status == GatePhase.OPEN,
            Decision.id.is_(None),
        )
        .order_by(Gate.deadline, SignoffRequest.id)
    )
    return [Waiting(r[0], r[1], r[2], r[3], str(r[4]), str(r[5]), r[6], r[7], r[8]) for r in rows]


def pilots_of(session: Session, user_id: str) -> Sequence[Pilot]:
    """Pilots `user_id` proposed or owns, active ones first, newest first within each."""
    rows = fetch_all(
        session,
        select(Pilot)
        .where(or_(Pilot.proposer == user_id, Pilot.business_owner == user_id))
        .order_by(Pilot.created_at.desc(), Pilot.id),
    )
    return sorted(rows, key=lambda p: p.stage not in ACTIVE)


def open_gates_of(session: Session, pilot_ids: Collection[str]) -> dict[str, Gate]:
    """The open gate of each of these pilots that has one."""
    if not pilot_ids:
        return {}
    rows = fetch_all(
        session,
        select(Gate).where(Gate.pilot_id.in_(list(pilot_ids)), Gate.status == GatePhase.OPEN),
    )
    return {g.pilot_id: g for g in rows}


def blocked(session: Session, gates: Sequence[Gate]) -> list[Blocked]:
    """For each gate, who it still waits on: the unanswered (not handed over) requests of the
    roles whose quorum is not met yet, by role then user id. A colleague's approval that met
    the role's quorum makes the others' requests moot: they block nothing."""
    if not gates:
        return []
    ids = [g.id for g in gates]
    rows = session.execute(
        select(SignoffRequest.gate_id, SignoffRequest.role, SignoffRequest.approver)
        .outerjoin(Decision, Decision.request_id == SignoffRequest.id)
        .where(
            SignoffRequest.gate_id.in_(ids),
            SignoffRequest.superseded_at.is_(None),
            Decision.id.is_(None),
        )
        .order_by(SignoffRequest.role, SignoffRequest.approver)
    )
    # (an escalation's role has no quorum entry: its requests count until the gate settles)
    missing = {g.id: store_gates.evaluate(session, g, g.opened_at).missing for g in gates}
    pending: dict[int, list[tuple[str, str]]] = {i: [] for i in ids}
    for gate_id, role, approver in rows.tuples():
        if missing[gate_id].get(role, 1) > 0:
            pending[gate_id].append((role, approver))
    titles = {
        pid: title
        for pid, title in session.execute(
            select(Pilot.id, Pilot.title).where(Pilot.id.in_({g.pilot_id for g in gates}))
        ).tuples()
    }
    return [
        Blocked(
            g.id,
            g.pilot_id,
            titles.get(g.pilot_id, g.pilot_id),
            str(g.stage),
            str(g.target),
            g.deadline,
            tuple(pending[g.id]),
        )
        for g in gates
    ]


#: the programme office's Home lists the open gates due within this window (or past due).
AT_RISK = timedelta(days=7)


def at_risk(session: Session, now: datetime, limit: int = 100) -> list[Blocked]:
    """Open gates past their deadline (the deadline check has not acted yet) or due within
    AT_RISK, soonest first: what the programme office should chase, and whom."""
    gates = fetch_all(
        session,
        select(Gate)
        .where(Gate.status == GatePhase.OPEN, Gate.deadline < now + AT_RISK)
        .order_by(Gate.deadline, Gate.id)
        .limit(limit),
    )
    return blocked(session, gates)


def open_blocked(session: Session, limit: int = 100) -> list[Blocked]:
    """Every open gate with who it waits on, soonest deadline first."""
    gates = fetch_all(
        session,
        select(Gate)
        .where(Gate.status == GatePhase.OPEN)
        .order_by(Gate.deadline, Gate.id)
        .limit(limit),
    )
    return blocked(session, gates)


def home_users(session: Session, among: Collection[str]) -> set[str]:
    """Which of `among` have a Home pilotgate published (so it must be kept current): their
    first publish carries `Keys.home(user)`."""
    keys = {Keys.home(u): u for u in among}
    if not keys:
        return set()
    rows = session.execute(
        select(OutboxMessage.dedupe_key).where(OutboxMessage.dedupe_key.in_(sorted(keys)))
    ).scalars()
    return {keys[k] for k in rows if k in keys}


def people_of_pilot(session: Session, pilot_id: str) -> set[str]:
    """Everyone a change to this pilot concerns: its proposer, its owner and everyone asked."""
    # Two columns, not the Pilot (whose proposal is parsed on load): this runs on each decision.
    owners = session.execute(
        select(Pilot.proposer, Pilot.business_owner).where(Pilot.id == pilot_id)
    ).first()
    if owners is None:
        return set()
    asked = session.execute(
        select(SignoffRequest.approver)
        .join(Gate, Gate.id == SignoffRequest.gate_id)
        .where(Gate.pilot_id == pilot_id)
        .distinct()
    ).scalars()
    return {*owners, *asked}


def people_of_pilots(session: Session, pilot_ids: Collection[str]) -> set[str]:
    """`people_of_pilot` for many pilots at once (two queries, whatever their number)."""
    if not pilot_ids:
        return set()
    ids = sorted(pilot_ids)
    owners = session.execute(
        select(Pilot.proposer, Pilot.business_owner).where(Pilot.id.in_(ids))
    ).all()
    asked = session.execute(
        select(SignoffRequest.approver)
        .join(Gate, Gate.id == SignoffRequest.gate_id)
        .where(Gate.pilot_id.in_(ids))
        .distinct()
    ).scalars()
    return {person for row in owners for person in row} | set(asked)


def sent_reminders(session: Session, request_id: int) -> list[tuple[str, str]]:
    """Where the reminders of this sign-off request landed (channel, ts), oldest first: they
    carry the request's buttons, so they are closed with it. Found by their dedupe keys (one
    per reminder point sent), which are indexed."""
    keys = [Keys.remind(request_id, p) for p in store_gates.reminders_sent(session, request_id)]
    if not keys:
        return []
    rows = session.execute(
        select(OutboxMessage.result_channel, OutboxMessage.result_ts)
        .where(
            OutboxMessage.dedupe_key.in_(keys),
            OutboxMessage.status == OutboxStatus.SENT,
            OutboxMessage.result_ts.is_not(None),
        )
        .order_by(OutboxMessage.id)
    ).tuples()
    return [(str(c), str(t)) for c, t in rows if c and t]
