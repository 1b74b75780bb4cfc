"""Gates, their sign-off requests, decisions and reminders.

One decision per request and approver (a unique constraint, ON CONFLICT DO NOTHING), so double
clicks and redeliveries record once; resolving a gate and claiming its follow-up are conditional
updates with exactly one winner, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, and_, insert, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from lifecycle.delegation import Assignee, DelegationError, assignee
from lifecycle.evidence import verdict_digest
from lifecycle.gates import (
    DecisionView,
    Evaluation,
    GatePlan,
    GateState,
    GateStatus,
    RequestView,
    Verdict,
    evaluate_gate,
)
from lifecycle.policy_versions import PolicyStamp
from lifecycle.statuses import SETTLED, GatePhase
from store import audit, delegations
from store._rows import PAGE, after_key, fetch_all, get_or_raise, insert_ignore
from store.errors import Conflict, NotFound
from store.models import (
    Decision,
    Gate,
    Pilot,
    ReminderSent,
    SignoffRequest,
)


def open_gate_for(session: Session, pilot_id: str) -> Gate | None:
    return (
        session.execute(
            select(Gate)
            .where(Gate.pilot_id == pilot_id, Gate.status == GatePhase.OPEN)
            .order_by(Gate.id.desc())
        )
        .scalars()
        .first()
    )


def settled_gate_awaiting_follow_up(session: Session, pilot_id: str) -> Gate | None:
    """A gate that was decided (or expired) but whose outcome nobody has applied yet."""
    return (
        session.execute(
            select(Gate).where(
                Gate.pilot_id == pilot_id,
                Gate.continued_at.is_(None),
                Gate.status.in_(SETTLED),
            )
        )
        .scalars()
        .first()
    )


def gates_for(session: Session, pilot_id: str) -> Sequence[Gate]:
    return fetch_all(session, select(Gate).where(Gate.pilot_id == pilot_id).order_by(Gate.id))


def load_gates(session: Session, gate_ids: Collection[int]) -> Sequence[Gate]:
    """These gates in one read (into the session, for the lookups by id that follow)."""
    if not gate_ids:
        return []
    return fetch_all(session, select(Gate).where(Gate.id.in_(list(gate_ids))))


def get_gate(session: Session, gate_id: int) -> Gate:
    return get_or_raise(session, Gate, gate_id, f"no gate with id {gate_id}")


def open_gate(
    session: Session,
    pilot_id: str,
    plan: GatePlan,
    *,
    deadline: datetime,
    escalation_role: str | None,
    now: datetime,
    actor: str,
    evidence: dict[str, Any] | None = None,
    next_reminder_at: datetime | None = None,
    policy: PolicyStamp | None = None,
) -> Gate:
    """Open a gate and one sign-off request per ask. One open gate per pilot at a time.
    `policy` is the policy it opens under; the gate keeps it (and its quorum) until it
    settles, whatever the policy file says later."""
    pilot = session.execute(
        select(Pilot).where(Pilot.id == pilot_id).with_for_update()
    ).scalar_one_or_none()
    if pilot is None:
        raise NotFound(f"no pilot with id {pilot_id!r}")
    if pilot.stage != plan.stage.value:
        raise Conflict(f"pilot {pilot_id} is in {pilot.stage}, not {plan.stage.value}")
    settling = settled_gate_awaiting_follow_up(session, pilot_id)
    if settling is not None:
        raise Conflict(
            f"pilot {pilot_id}'s gate {settling.stage} -> {settling.target} was just "
            f"{settling.status}; its follow-up is still running (see `pilotgate status`)"
        )
    existing = open_gate_for(session, pilot_id)
    if existing is not None:
        raise Conflict(
            f"pilot {pilot_id} already has an open gate ({existing.stage} -> "
            f"{existing.target}, deadline {existing.deadline:%Y-%m-%d %H:%M} UTC)"
        )
    gate = Gate(
        pilot_id=pilot_id,
        stage=plan.stage.value,
        target=plan.target.value,
        status=GatePhase.OPEN,
        quorum=dict(plan.quorum),
        excluded=sorted(plan.excluded),
        firm_roles=sorted(plan.firm),
        any_rejection_rejects=plan.any_rejection_rejects,
        opened_at=now,
        deadline=deadline,
        escalation_role=escalation_role,
        evidence=evidence,
        next_reminder_at=next_reminder_at,
        policy_digest=policy.digest if policy else None,
        policy_version=policy.label if policy else None,
    )
    session.add(gate)
    session.flush()
    in_force = delegations.active(session, now, {a.approver for a in plan.asks})
    taken: dict[str, set[str]] = {}
    for ask in plan.asks:
        taken.setdefault(ask.role, set()).add(ask.approver)
    delegated: list[list[str]] = []
    passed_over: list[str] = []
    for ask in plan.asks:
        who = _assign(ask.approver, ask.role, in_force, plan.excluded, taken, now)
        if who.passed_over:
            passed_over.append(f"{ask.approver} ({ask.role}): {who.passed_over}")
        if who.on_behalf_of:
            delegated.append([who.asked, ask.role, who.on_behalf_of])
        session.add(
            SignoffRequest(
                gate_id=gate.id,
                approver=who.asked,
                role=ask.role,
                round=0,
                asked_at=now,
                on_behalf_of=who.on_behalf_of,
            )
        )
    session.flush()
    extra: dict[str, Any] = {}
    if delegated:
        extra["delegated"] = delegated
    if passed_over:
        extra["delegate_passed_over"] = passed_over
    audit.append(
        session,
        actor=actor,
        action="gate.opened",
        pilot_id=pilot_id,
        data={
            "gate_id": gate.id,
            "stage": plan.stage.value,
            "target": plan.target.value,
            "quorum": dict(plan.quorum),
            "deadline": deadline.isoformat(),
            "asked": [[a.approver, a.role] for a in plan.asks],
            **({"policy": policy.digest, "policy_version": policy.label} if policy else {}),
            **extra,
        },
        now=now,
    )
    return gate


def _assign(
    approver: str,
    role: str,
    in_force: Sequence[Any],
    excluded: frozenset[str],
    taken: dict[str, set[str]],
    now: datetime,
) -> Assignee:
    """Who is asked for `approver`'s sign-off in `role` (`lifecycle.delegation.assignee`);
    `taken[role]` (everyone asked, or to be asked, in that role) grows with the delegate."""
    in_role = taken.setdefault(role, set())
    try:
        who = assignee(
            approver,
            delegations=in_force,
            at=now,
            excluded=excluded,
            asked_in_role=frozenset(in_role - {approver}),
        )
    except DelegationError as exc:  # a cycle in the register: the approver is asked
        return Assignee(approver, chain=(approver,), passed_over=str(exc))
    in_role.add(who.asked)
    return who


def active_requests_for(session: Session, gate_id: int) -> list[SignoffRequest]:
    """The gate's requests that still count (not handed to someone else)."""
    return [r for r in requests_for(session, gate_id) if r.superseded_at is None]


def requests_for(session: Session, gate_id: int) -> Sequence[SignoffRequest]:
    return fetch_all(
        session,
        select(SignoffRequest).where(SignoffRequest.gate_id == gate_id).order_by(SignoffRequest.id),
    )


def unanswered_requests(session: Session, gate_id: int) -> list[SignoffRequest]:
    """The gate's sign-off requests nobody has answered yet (and not handed to someone else),
    in one query: the sweep asks it of every gate it closes or reminds."""
    query = select(SignoffRequest).where(*_unanswered(gate_id)).order_by(SignoffRequest.id)
    return list(fetch_all(session, query))


def _unanswered(gate_id: int) -> list[ColumnElement[bool]]:
    """The gate's requests that still count (not handed over) and nobody has answered."""
    return [SignoffRequest.gate_id == gate_id, *_still_unanswered()]


def _still_unanswered() -> list[ColumnElement[bool]]:
    answered = select(Decision.id).where(Decision.request_id == SignoffRequest.id).exists()
    return [SignoffRequest.superseded_at.is_(None), ~answered]


def unanswered_approvers(session: Session, gate_ids: Collection[int]) -> dict[int, list[str]]:
    """Who each of these gates still waits on (`unanswered_requests`' approvers, in request
    order), in one query for all of them: the digest lists every gate due within the week."""
    waiting: dict[int, list[str]] = {gate_id: [] for gate_id in gate_ids}
    if not waiting:
        return waiting
    ids = list(waiting)
    for start in range(0, len(ids), PAGE):  # a bounded IN list, however many gates
        rows = session.execute(
            select(SignoffRequest.gate_id, SignoffRequest.approver)
            .where(SignoffRequest.gate_id.in_(ids[start : start + PAGE]), *_still_unanswered())
            .order_by(SignoffRequest.id)
        )
        for gate_id, approver in rows.tuples():
            waiting[gate_id].append(approver)
    return waiting


def unanswered_request_ids(session: Session, gate_id: int) -> list[int]:
    """`unanswered_requests`, as ids only (no ORM loads): what a decision needs to queue the
    other asks' refreshes."""
    rows = session.execute(
        select(SignoffRequest.id).where(*_unanswered(gate_id)).order_by(SignoffRequest.id)
    )
    return [int(i) for i in rows.scalars()]


def get_request(session: Session, request_id: int) -> SignoffRequest:
    return get_or_raise(
        session, SignoffRequest, request_id, f"no sign-off request with id {request_id}"
    )


def find_request(session: Session, request_id: int) -> SignoffRequest | None:
    return session.get(SignoffRequest, request_id)


def decisions_for(session: Session, gate_id: int) -> Sequence[Decision]:
    return fetch_all(
        session,
        select(Decision)
        .where(Decision.gate_id == gate_id)
        .order_by(Decision.decided_at, Decision.id),
    )


def gate_state(gate: Gate) -> GateState:
    return GateState(
        quorum=dict(gate.quorum),
        deadline=gate.deadline,
        any_rejection_rejects=gate.any_rejection_rejects,
        excluded=frozenset(gate.excluded),
        escalation_role=gate.escalation_role if gate.escalated_at else None,
        firm=frozenset(gate.firm_roles or []),
    )


def evaluate(session: Session, gate: Gate, now: datetime) -> Evaluation:
    # Columns, not ORM objects: this runs on every decision, and the rule needs only these.
    requests = [
        RequestView(r.id, r.approver, r.role, r.round)
        for r in session.execute(
            select(
                SignoffRequest.id,
                SignoffRequest.approver,
                SignoffRequest.role,
                SignoffRequest.round,
            )
            .where(SignoffRequest.gate_id == gate.id, SignoffRequest.superseded_at.is_(None))
            .order_by(SignoffRequest.id)
        )
    ]
    decisions = [
        DecisionView(d.request_id, d.approver, Verdict(d.verdict), d.decided_at, d.reason)
        for d in session.execute(
            select(
                Decision.request_id,
                Decision.approver,
                Decision.verdict,
                Decision.decided_at,
                Decision.reason,
            )
            .where(Decision.gate_id == gate.id)
            .order_by(Decision.decided_at, Decision.id)
        )
    ]
    return evaluate_gate(gate_state(gate), requests, decisions, now)


@dataclass(frozen=True)
class DecisionOutcome:
    recorded: bool
    gate: Gate
    evaluation: Evaluation
    #: this call moved the gate from open to a final status.
    resolved_now: bool
    #: the request had been handed to someone else before this answer took the lock.
    superseded: bool = False


def lock_gate(session: Session, gate_id: int) -> Gate:
    """The gate row, locked until the transaction ends: of two writers that change what the
    gate decides (two last approvals, a hand-over and a click, a re-apply), the second waits
    and then sees the first. populate_existing: a Gate this session loaded before the lock
    must not hide what the first writer committed (a stale "open" would let a late answer
    count)."""
    return session.execute(
        select(Gate)
        .where(Gate.id == gate_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()


def supersede(session: Session, request_id: int, now: datetime) -> bool:
    """Mark a live request superseded (handed over, no longer needed, or asked again), so its
    answer no longer counts. False if it already was."""
    result = session.execute(
        update(SignoffRequest)
        .where(SignoffRequest.id == request_id, SignoffRequest.superseded_at.is_(None))
        .values(superseded_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def record_decision(
    session: Session,
    request: SignoffRequest,
    *,
    verdict: Verdict,
    reason: str | None,
    now: datetime,
    source: str,
) -> DecisionOutcome:
    """Record a decision once (redeliveries are no-ops) and resolve the gate if it is decided."""
    gate = lock_gate(session, request.gate_id)
    recorded = False
    # Read under the gate's lock, which every writer of this gate's decisions and hand-overs
    # takes first: what it shows cannot change before this transaction ends.
    answered = select(Decision.id).where(
        Decision.request_id == request.id, Decision.approver == request.approver
    )
    superseded_at, already = session.execute(
        select(SignoffRequest.superseded_at, answered.exists()).where(
            SignoffRequest.id == request.id
        )
    ).one()
    if gate.status == GatePhase.OPEN and superseded_at is None and not already:
        # A plain INSERT (compiled once, cached), not ON CONFLICT DO NOTHING (compiled anew
        # each time): the read above under the lock is what makes a redelivery a no-op; the
        # unique (request_id, approver) index still refuses a second row.
        recorded = True
        session.execute(
            insert(cast(Table, Decision.__table__)),
            {
                "request_id": request.id,
                "gate_id": gate.id,
                "approver": request.approver,
                "verdict": verdict.value,
                "reason": reason,
                "decided_at": now,
                "source": source,
                "policy_digest": gate.policy_digest,
                "evidence_digest": verdict_digest(gate.evidence),
            },
        )
        if recorded:
            audit.append(
                session,
                actor=request.approver,
                action=f"decision.{verdict.value}",
                pilot_id=gate.pilot_id,
                data={
                    "gate_id": gate.id,
                    "request_id": request.id,
                    "role": request.role,
                    "reason": reason,
                    "source": source,
                    **({"on_behalf_of": request.on_behalf_of} if request.on_behalf_of else {}),
                },
                now=now,
            )
    evaluation = evaluate(session, gate, now)
    resolved_now = False
    if recorded and evaluation.status in (GateStatus.APPROVED, GateStatus.REJECTED):
        resolved_now = resolve_gate(
            session,
            gate,
            evaluation.status.value,
            "; ".join(evaluation.reasons),
            now=now,
            actor=request.approver,
        )
    return DecisionOutcome(recorded, gate, evaluation, resolved_now, superseded_at is not None)


def resolve_gate(
    session: Session, gate: Gate, status: str, reason: str, *, now: datetime, actor: str
) -> bool:
    result = session.execute(
        update(Gate)
        .where(Gate.id == gate.id, Gate.status == GatePhase.OPEN)
        .values(status=status, resolved_at=now, outcome_reason=reason)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    audit.append(
        session,
        actor=actor,
        action=f"gate.{status}",
        pilot_id=gate.pilot_id,
        data={"gate_id": gate.id, "reason": reason},
        now=now,
    )
    # The update matched the open gate under its row lock, so these are now its values: set
    # them on the loaded Gate instead of reading the row back (a SELECT per settled gate).
    for key, value in (("status", status), ("resolved_at", now), ("outcome_reason", reason)):
        set_committed_value(gate, key, value)
    return True


def claim_continuation(session: Session, gate_id: int, now: datetime) -> bool:
    """Exactly one caller gets to act on a resolved gate (transition, terminate)."""
    result = session.execute(
        update(Gate)
        .where(Gate.id == gate_id, Gate.status != GatePhase.OPEN, Gate.continued_at.is_(None))
        .values(continued_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def unclaimed_resolved_gates(
    session: Session,
    limit: int = PAGE,
    resolved_before: datetime | None = None,
    after: tuple[datetime, int] | None = None,
) -> Sequence[Gate]:
    """One page, ordered by (resolved_at, id); pass the last row's key as `after` for the next."""
    return fetch_all(
        session,
        select(Gate)
        .where(
            Gate.continued_at.is_(None),
            Gate.status.in_(SETTLED),
            *([Gate.resolved_at < resolved_before] if resolved_before else []),
            *after_key(Gate.resolved_at, Gate.id, after),
        )
        .order_by(Gate.resolved_at, Gate.id)
        .limit(limit),
    )


def gates_whose_termination_stalled(
    session: Session,
    acted_before: datetime,
    limit: int = PAGE,
    after: tuple[datetime, int] | None = None,
) -> Sequence[Gate]:
    """Rejected or expired gates acted on a while ago whose pilot is still in the gate's stage:
    the termination they asked for never happened. One page, ordered by (continued_at, id)."""
    return fetch_all(
        session,
        select(Gate)
        .join(Pilot, Pilot.id == Gate.pilot_id)
        .where(
            Gate.status.in_([GatePhase.REJECTED, GatePhase.EXPIRED]),
            Gate.continued_at < acted_before,
            Pilot.stage == Gate.stage,
            *after_key(Gate.continued_at, Gate.id, after),
        )
        .order_by(Gate.continued_at, Gate.id)
        .limit(limit),
    )


def open_gates_past_deadline(
    session: Session, now: datetime, limit: int = PAGE, after: tuple[datetime, int] | None = None
) -> Sequence[Gate]:
    """One page of open gates past their deadline, ordered by (deadline, id); pass the last
    row's (deadline, id) as `after` for the next page."""
    return fetch_all(
        session,
        select(Gate)
        .where(
            Gate.status == GatePhase.OPEN,
            Gate.deadline < now,
            *after_key(Gate.deadline, Gate.id, after),
        )
        .order_by(Gate.deadline, Gate.id)
        .limit(limit),
    )


def gates_due_for_reminder(
    session: Session, now: datetime, limit: int = PAGE, after: tuple[datetime, int] | None = None
) -> Sequence[Gate]:
    """One page of open gates whose next reminder is due, ordered by (next_reminder_at, id)."""
    return fetch_all(
        session,
        select(Gate)
        .where(
            Gate.status == GatePhase.OPEN,
            Gate.next_reminder_at <= now,
            *after_key(Gate.next_reminder_at, Gate.id, after),
        )
        .order_by(Gate.next_reminder_at, Gate.id)
        .limit(limit),
    )


def advance_reminder(
    session: Session, gate: Gate, *, expected: datetime, next_at: datetime | None
) -> bool:
    """Move a gate's reminder clock on; conditional so two sweeps remind once."""
    result = session.execute(
        update(Gate)
        .where(Gate.id == gate.id, Gate.next_reminder_at == expected)
        .values(next_reminder_at=next_at)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def open_gates(session: Session) -> Sequence[Gate]:
    return fetch_all(
        session, select(Gate).where(Gate.status == GatePhase.OPEN).order_by(Gate.deadline)
    )


def gates_due_between(session: Session, start: datetime, end: datetime) -> Sequence[Gate]:
    return fetch_all(
        session,
        select(Gate)
        .where(Gate.status == GatePhase.OPEN, Gate.deadline >= start, Gate.deadline < end)
        .order_by(Gate.deadline),
    )


def change_deadline(
    session: Session,
    gate: Gate,
    *,
    deadline: datetime,
    kind: str,
    now: datetime,
    actor: str,
    expected_deadline: datetime,
    next_reminder_at: datetime | None = None,
) -> bool:
    """Escalate or extend a gate once; conditional so two sweeps cannot both do it."""
    values: dict[str, Any] = {"deadline": deadline, "next_reminder_at": next_reminder_at}
    guard = [Gate.id == gate.id, Gate.status == GatePhase.OPEN, Gate.deadline == expected_deadline]
    if kind == "escalate":
        values["escalated_at"] = now
        guard.append(Gate.escalated_at.is_(None))
    else:
        values["extended_at"] = now
        guard.append(Gate.extended_at.is_(None))
    result = session.execute(
        update(Gate)
        .where(and_(*guard))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    audit.append(
        session,
        actor=actor,
        action={"extend": "gate.extended", "escalate": "gate.escalated"}[kind],
        pilot_id=gate.pilot_id,
        data={
            "gate_id": gate.id,
            "old_deadline": expected_deadline.isoformat(),
            "new_deadline": deadline.isoformat(),
        },
        now=now,
    )
    session.refresh(gate)
    return True


def add_requests(
    session: Session, gate: Gate, approvers: Sequence[str], role: str, round_: int, now: datetime
) -> list[SignoffRequest]:
    """Ask `approvers` in `role` (an escalation); an approver away is replaced by their
    delegate (on_behalf_of), as when the gate opened."""
    in_force = delegations.active(session, now, approvers)
    taken = {role: {r.approver for r in requests_for(session, gate.id) if r.role == role}}
    taken[role] |= set(approvers)
    added = []
    for approver in approvers:
        who = _assign(approver, role, in_force, frozenset(gate.excluded), taken, now)
        request = SignoffRequest(
            gate_id=gate.id,
            approver=who.asked,
            role=role,
            round=round_,
            asked_at=now,
            on_behalf_of=who.on_behalf_of,
        )
        session.add(request)
        added.append(request)
    session.flush()
    return added


def handed_to(session: Session, request: SignoffRequest) -> SignoffRequest | None:
    """The request that replaced a superseded one (same gate, role and round, later, standing
    in for the same approver): a delegate's or reassignee's, or the same person's asked again
    after the evidence changed (store.gate_evidence)."""
    principal = request.on_behalf_of or request.approver
    return (
        session.execute(
            select(SignoffRequest)
            .where(
                SignoffRequest.gate_id == request.gate_id,
                SignoffRequest.role == request.role,
                SignoffRequest.round == request.round,
                SignoffRequest.id > request.id,
                or_(
                    SignoffRequest.on_behalf_of == principal,
                    and_(
                        SignoffRequest.approver == request.approver,
                        SignoffRequest.on_behalf_of.is_(None)
                        if request.on_behalf_of is None
                        else SignoffRequest.on_behalf_of == request.on_behalf_of,
                    ),
                ),
            )
            .order_by(SignoffRequest.id)
        )
        .scalars()
        .first()
    )


def hand_over(
    session: Session,
    request: SignoffRequest,
    *,
    to: str,
    now: datetime,
    actor: str,
    reason: str,
    action: str,
) -> SignoffRequest:
    """Supersede an open, unanswered request and ask `to` in its place (same role and round,
    on behalf of the approver the original stood for). Locks the gate row, so a click on the
    original either lands first (then this refuses) or is refused as handed over."""
    gate = lock_gate(session, request.gate_id)
    session.refresh(request)
    if gate.status != GatePhase.OPEN:
        raise Conflict(f"request {request.id}'s gate is {gate.status}; nothing to hand over")
    if request.superseded_at is not None:
        raise Conflict(f"request {request.id} was already handed to someone else")
    if any(d.request_id == request.id for d in decisions_for(session, gate.id)):
        raise Conflict(f"request {request.id} is already answered by {request.approver}")
    if any(
        r.approver == to and r.role == request.role and r.round == request.round
        for r in requests_for(session, gate.id)
    ):
        raise Conflict(
            f"{to} is already asked in role {request.role} of gate {gate.id} (nobody counts twice)"
        )
    if not supersede(session, request.id, now):
        raise Conflict(f"request {request.id} was already handed to someone else")
    principal = request.on_behalf_of or request.approver
    new = SignoffRequest(
        gate_id=gate.id,
        approver=to,
        role=request.role,
        round=request.round,
        asked_at=now,
        on_behalf_of=principal,
    )
    session.add(new)
    session.flush()
    session.refresh(request)
    audit.append(
        session,
        actor=actor,
        action=action,
        pilot_id=gate.pilot_id,
        data={
            "gate_id": gate.id,
            "request_id": request.id,
            "from": request.approver,
            "to": to,
            "on_behalf_of": principal,
            "role": request.role,
            "new_request_id": new.id,
            "reason": reason,
        },
        now=now,
    )
    return new


def open_unanswered_requests_of(session: Session, approver: str) -> list[SignoffRequest]:
    """`approver`'s requests in open gates, unanswered and not handed over, oldest first."""
    rows = fetch_all(
        session,
        select(SignoffRequest)
        .join(Gate, Gate.id == SignoffRequest.gate_id)
        .where(
            Gate.status == GatePhase.OPEN,
            SignoffRequest.approver == approver,
            SignoffRequest.superseded_at.is_(None),
        )
        .order_by(SignoffRequest.id),
    )
    answered = set(
        session.execute(
            select(Decision.request_id).where(Decision.request_id.in_([r.id for r in rows]))
        ).scalars()
    )
    return [r for r in rows if r.id not in answered]


def set_request_message(session: Session, request_id: int, channel: str, ts: str) -> None:
    session.execute(
        update(SignoffRequest)
        .where(SignoffRequest.id == request_id)
        .values(channel=channel, message_ts=ts)
    )


def mark_reminder(session: Session, request_id: int, point: float, now: datetime) -> bool:
    """True if this call is the first to send this reminder."""
    return insert_ignore(
        session,
        ReminderSent.__table__,
        {"request_id": request_id, "point": f"{point:.3f}", "sent_at": now},
        ["request_id", "point"],
    )


def reminders_sent(session: Session, request_id: int) -> list[float]:
    return [
        float(p)
        for p in session.execute(
            select(ReminderSent.point).where(ReminderSent.request_id == request_id)
        ).scalars()
    ]


def why_request_closed(session: Session, request_id: int) -> str | None:
    """Why a reminder about this request is moot (None: the request still waits on its
    approver): it is gone, was handed to someone else, was answered, or its gate settled."""
    request = session.get(SignoffRequest, request_id)
    if request is None:
        return f"request {request_id} not found"
    if request.superseded_at is not None:
        return f"request {request_id} was superseded"
    answered = session.execute(
        select(Decision.id).where(Decision.request_id == request_id).limit(1)
    ).first()
    if answered is not None:
        return f"request {request_id} was answered"
    gate = session.get(Gate, request.gate_id)
    if gate is not None and gate.status != GatePhase.OPEN:
        return f"its gate is {gate.status}"
    return None
