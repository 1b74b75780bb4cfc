"""Every query pilotgate makes, in one place.

Functions take a Session (the caller owns the transaction) and `now` (time is an input). Stage
changes and gate resolutions are conditional updates, so of two concurrent attempts exactly one
wins, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from lifecycle.deadlines import deploy_by
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
from lifecycle.policy import Policy
from lifecycle.proposal import Proposal
from lifecycle.stages import ACTIVE, TERMINAL, Stage, check_transition
from store import audit
from store.models import (
    Decision,
    FlowRequest,
    Gate,
    MetricObservation,
    OutboxMessage,
    Pilot,
    ReminderSent,
    SignoffRequest,
    StageChange,
)


class NotFound(LookupError):
    pass


class Conflict(RuntimeError):
    """The request is valid but the register's state does not allow it now."""


# ---------------------------------------------------------------- pilots


def new_pilot_id() -> str:
    return "pg-" + secrets.token_hex(4)


def _lock_portfolio(session: Session, portfolio: str) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:p))"), {"p": portfolio})


def active_count(session: Session, portfolio: str) -> int:
    return session.execute(
        select(func.count())
        .select_from(Pilot)
        .where(Pilot.portfolio == portfolio, Pilot.stage.in_([s.value for s in ACTIVE]))
    ).scalar_one()


def create_pilot(
    session: Session,
    proposal: Proposal,
    policy: Policy,
    *,
    actor: str,
    now: datetime,
    pilot_id: str | None = None,
) -> Pilot:
    """Record a proposal as a pilot in the proposal stage, within the portfolio's cap."""
    _lock_portfolio(session, proposal.portfolio)
    cap = policy.portfolio.cap_for(proposal.portfolio)
    active = active_count(session, proposal.portfolio)
    if active >= cap:
        raise Conflict(
            f"portfolio {proposal.portfolio!r} already has {active} active pilot(s), "
            f"its cap is {cap}: finish or terminate one first"
        )
    pilot = Pilot(
        id=pilot_id or new_pilot_id(),
        title=proposal.title,
        portfolio=proposal.portfolio,
        risk_tier=proposal.risk_tier.value,
        customer_facing=proposal.customer_facing,
        proposer=proposal.proposer.slack_id,
        business_owner=proposal.business_owner.slack_id,
        proposal=proposal.model_dump(mode="json"),
        stage=Stage.PROPOSAL.value,
        created_at=now,
    )
    session.add(pilot)
    session.flush()
    session.add(
        StageChange(
            pilot_id=pilot.id,
            from_stage=None,
            to_stage=Stage.PROPOSAL.value,
            actor=actor,
            reason="proposed",
            at=now,
        )
    )
    audit.append(
        session,
        actor=actor,
        action="pilot.proposed",
        pilot_id=pilot.id,
        data={"title": pilot.title, "portfolio": pilot.portfolio},
        now=now,
    )
    return pilot


def get_pilot(session: Session, pilot_id: str) -> Pilot:
    pilot = session.get(Pilot, pilot_id)
    if pilot is None:
        raise NotFound(f"no pilot with id {pilot_id!r} (see `pilotgate list`)")
    return pilot


def proposal_of(pilot: Pilot) -> Proposal:
    return Proposal.model_validate(pilot.proposal)


def list_pilots(session: Session, stage: Stage | None = None) -> Sequence[Pilot]:
    query = select(Pilot).order_by(Pilot.created_at, Pilot.id)
    if stage is not None:
        query = query.where(Pilot.stage == stage.value)
    return session.execute(query).scalars().all()


def stage_history(session: Session, pilot_id: str) -> Sequence[StageChange]:
    return (
        session.execute(
            select(StageChange)
            .where(StageChange.pilot_id == pilot_id)
            .order_by(StageChange.at, StageChange.id)
        )
        .scalars()
        .all()
    )


def move_stage(
    session: Session,
    pilot_id: str,
    *,
    expected: Stage,
    target: Stage,
    actor: str,
    reason: str,
    now: datetime,
    policy: Policy | None = None,
) -> bool:
    """Move a pilot if, and only if, it is still in `expected`. Returns whether this call won."""
    check_transition(expected, target)
    values: dict[str, Any] = {"stage": target.value}
    if target is Stage.PILOT and expected is Stage.PROPOSAL:
        limit = policy.portfolio.deploy_or_terminate_days if policy else 182
        values["pilot_started_at"] = now
        values["deploy_by"] = deploy_by(now, limit)
    if target in TERMINAL:
        values["ended_at"] = now
        values["end_reason"] = reason
    result = session.execute(
        update(Pilot)
        .where(Pilot.id == pilot_id, Pilot.stage == expected.value)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    session.add(
        StageChange(
            pilot_id=pilot_id,
            from_stage=expected.value,
            to_stage=target.value,
            actor=actor,
            reason=reason,
            at=now,
        )
    )
    audit.append(
        session,
        actor=actor,
        action="pilot.stage_changed",
        pilot_id=pilot_id,
        data={"from": expected.value, "to": target.value, "reason": reason},
        now=now,
    )
    session.expire_all()
    return True


def pilots_past_deploy_by(session: Session, now: datetime, limit: int = 500) -> Sequence[Pilot]:
    return (
        session.execute(
            select(Pilot)
            .where(Pilot.deploy_by < now, Pilot.stage.in_([s.value for s in ACTIVE]))
            .order_by(Pilot.deploy_by)
            .limit(limit)
        )
        .scalars()
        .all()
    )


def stale_proposals(
    session: Session, proposed_before: datetime, limit: int = 500
) -> Sequence[Pilot]:
    """Proposals older than the cutoff that were never put to their gate (no gate at all)."""
    return (
        session.execute(
            select(Pilot)
            .where(
                Pilot.stage == Stage.PROPOSAL.value,
                Pilot.created_at < proposed_before,
                ~select(Gate.id).where(Gate.pilot_id == Pilot.id).exists(),
            )
            .order_by(Pilot.created_at)
            .limit(limit)
        )
        .scalars()
        .all()
    )


def pilots_due_between(session: Session, start: datetime, end: datetime) -> Sequence[Pilot]:
    return (
        session.execute(
            select(Pilot)
            .where(
                Pilot.deploy_by >= start,
                Pilot.deploy_by < end,
                Pilot.stage.in_([s.value for s in ACTIVE]),
            )
            .order_by(Pilot.deploy_by)
        )
        .scalars()
        .all()
    )


# ---------------------------------------------------------------- gates


def open_gate_for(session: Session, pilot_id: str) -> Gate | None:
    return (
        session.execute(
            select(Gate)
            .where(Gate.pilot_id == pilot_id, Gate.status == "open")
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
                Gate.status.in_(["approved", "rejected", "expired"]),
            )
        )
        .scalars()
        .first()
    )


def gates_for(session: Session, pilot_id: str) -> Sequence[Gate]:
    return (
        session.execute(select(Gate).where(Gate.pilot_id == pilot_id).order_by(Gate.id))
        .scalars()
        .all()
    )


def get_gate(session: Session, gate_id: int) -> Gate:
    gate = session.get(Gate, gate_id)
    if gate is None:
        raise NotFound(f"no gate with id {gate_id}")
    return gate


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
) -> Gate:
    """Open a gate and one sign-off request per ask. One open gate per pilot at a time."""
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
        status="open",
        quorum=dict(plan.quorum),
        excluded=sorted(plan.excluded),
        firm_roles=sorted(plan.firm),
        any_rejection_rejects=plan.any_rejection_rejects,
        opened_at=now,
        deadline=deadline,
        escalation_role=escalation_role,
        evidence=evidence,
        next_reminder_at=next_reminder_at,
    )
    session.add(gate)
    session.flush()
    for ask in plan.asks:
        session.add(
            SignoffRequest(
                gate_id=gate.id, approver=ask.approver, role=ask.role, round=0, asked_at=now
            )
        )
    session.flush()
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
        },
        now=now,
    )
    return gate


def requests_for(session: Session, gate_id: int) -> Sequence[SignoffRequest]:
    return (
        session.execute(
            select(SignoffRequest)
            .where(SignoffRequest.gate_id == gate_id)
            .order_by(SignoffRequest.id)
        )
        .scalars()
        .all()
    )


def unanswered_requests(session: Session, gate_id: int) -> list[SignoffRequest]:
    """The gate's sign-off requests nobody has answered yet."""
    answered = {d.request_id for d in decisions_for(session, gate_id)}
    return [r for r in requests_for(session, gate_id) if r.id not in answered]


def get_request(session: Session, request_id: int) -> SignoffRequest:
    request = session.get(SignoffRequest, request_id)
    if request is None:
        raise NotFound(f"no sign-off request with id {request_id}")
    return request


def decisions_for(session: Session, gate_id: int) -> Sequence[Decision]:
    return (
        session.execute(
            select(Decision)
            .where(Decision.gate_id == gate_id)
            .order_by(Decision.decided_at, Decision.id)
        )
        .scalars()
        .all()
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
    requests = [
        RequestView(r.id, r.approver, r.role, r.round) for r in requests_for(session, gate.id)
    ]
    decisions = [
        DecisionView(d.request_id, d.approver, Verdict(d.verdict), d.decided_at, d.reason)
        for d in decisions_for(session, gate.id)
    ]
    return evaluate_gate(gate_state(gate), requests, decisions, now)


def _insert_ignore(session: Session, table: Any, values: dict[str, Any], index: list[str]) -> bool:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=index)
        .returning(*table.primary_key.columns)
    )
    # rowcount is unreliable with RETURNING on PostgreSQL (-1); a returned row is not.
    return session.execute(stmt).first() is not None


@dataclass(frozen=True)
class DecisionOutcome:
    recorded: bool
    gate: Gate
    evaluation: Evaluation
    #: this call moved the gate from open to a final status.
    resolved_now: bool


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
    # Lock the gate row: of two last approvals, the second waits and then sees the first.
    gate = session.execute(
        select(Gate).where(Gate.id == request.gate_id).with_for_update()
    ).scalar_one()
    recorded = False
    if gate.status == "open":
        recorded = _insert_ignore(
            session,
            Decision.__table__,
            {
                "request_id": request.id,
                "gate_id": gate.id,
                "approver": request.approver,
                "verdict": verdict.value,
                "reason": reason,
                "decided_at": now,
                "source": source,
            },
            ["request_id", "approver"],
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
    return DecisionOutcome(recorded, gate, evaluation, resolved_now)


def resolve_gate(
    session: Session, gate: Gate, status: str, reason: str, *, now: datetime, actor: str
) -> bool:
    result = session.execute(
        update(Gate)
        .where(Gate.id == gate.id, Gate.status == "open")
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
    session.refresh(gate)
    return True


def claim_continuation(session: Session, gate_id: int, now: datetime) -> bool:
    """Exactly one caller gets to act on a resolved gate (transition, terminate)."""
    result = session.execute(
        update(Gate)
        .where(Gate.id == gate_id, Gate.status != "open", Gate.continued_at.is_(None))
        .values(continued_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def unclaimed_resolved_gates(
    session: Session, limit: int = 100, resolved_before: datetime | None = None
) -> Sequence[Gate]:
    return (
        session.execute(
            select(Gate)
            .where(
                Gate.continued_at.is_(None),
                Gate.status.in_(["approved", "rejected", "expired"]),
                *([Gate.resolved_at < resolved_before] if resolved_before else []),
            )
            .order_by(Gate.resolved_at)
            .limit(limit)
        )
        .scalars()
        .all()
    )


def gates_whose_termination_stalled(
    session: Session, acted_before: datetime, limit: int = 100
) -> Sequence[Gate]:
    """Rejected or expired gates acted on a while ago whose pilot is still in the gate's stage:
    the termination they asked for never happened."""
    return (
        session.execute(
            select(Gate)
            .join(Pilot, Pilot.id == Gate.pilot_id)
            .where(
                Gate.status.in_(["rejected", "expired"]),
                Gate.continued_at < acted_before,
                Pilot.stage == Gate.stage,
            )
            .order_by(Gate.continued_at)
            .limit(limit)
        )
        .scalars()
        .all()
    )


def open_gates_past_deadline(session: Session, now: datetime, limit: int = 500) -> Sequence[Gate]:
    return (
        session.execute(
            select(Gate)
            .where(Gate.status == "open", Gate.deadline < now)
            .order_by(Gate.deadline)
            .limit(limit)
        )
        .scalars()
        .all()
    )


def gates_due_for_reminder(session: Session, now: datetime, limit: int = 500) -> Sequence[Gate]:
    return (
        session.execute(
            select(Gate)
            .where(Gate.status == "open", Gate.next_reminder_at <= now)
            .order_by(Gate.next_reminder_at)
            .limit(limit)
        )
        .scalars()
        .all()
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
    return (
        session.execute(select(Gate).where(Gate.status == "open").order_by(Gate.deadline))
        .scalars()
        .all()
    )


def gates_due_between(session: Session, start: datetime, end: datetime) -> Sequence[Gate]:
    return (
        session.execute(
            select(Gate)
            .where(Gate.status == "open", Gate.deadline >= start, Gate.deadline < end)
            .order_by(Gate.deadline)
        )
        .scalars()
        .all()
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
    guard = [Gate.id == gate.id, Gate.status == "open", Gate.deadline == expected_deadline]
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
    added = []
    for approver in approvers:
        request = SignoffRequest(
            gate_id=gate.id, approver=approver, role=role, round=round_, asked_at=now
        )
        session.add(request)
        added.append(request)
    session.flush()
    return added


def set_request_message(session: Session, request_id: int, channel: str, ts: str) -> None:
    session.execute(
        update(SignoffRequest)
        .where(SignoffRequest.id == request_id)
        .values(channel=channel, message_ts=ts)
    )


def mark_reminder(session: Session, request_id: int, point: float, now: datetime) -> bool:
    """True if this call is the first to send this reminder."""
    return _insert_ignore(
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


# ---------------------------------------------------------------- metrics


def record_metric(
    session: Session,
    pilot_id: str,
    *,
    metric: str,
    value: float,
    unit: str,
    observed_at: datetime,
    source: str | None,
    now: datetime,
    actor: str,
) -> MetricObservation:
    obs = MetricObservation(
        pilot_id=pilot_id,
        metric=metric,
        value=value,
        unit=unit,
        observed_at=observed_at,
        recorded_at=now,
        source=source,
    )
    session.add(obs)
    session.flush()
    return obs


def observations(
    session: Session, pilot_id: str, metric: str | None = None
) -> Sequence[MetricObservation]:
    query = select(MetricObservation).where(MetricObservation.pilot_id == pilot_id)
    if metric is not None:
        query = query.where(MetricObservation.metric == metric)
    return (
        session.execute(query.order_by(MetricObservation.observed_at, MetricObservation.id))
        .scalars()
        .all()
    )


# ---------------------------------------------------------------- outbox


def _add_once(session: Session, model: Any, values: dict[str, Any]) -> int | None:
    """Insert a row whose optional dedupe_key makes it happen once, even when two transactions
    race (ON CONFLICT DO NOTHING, not check-then-insert). Returns the new id, or None."""
    if values.get("dedupe_key") is None:
        row = model(**values)
        session.add(row)
        session.flush()
        return int(row.id)
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(model.__table__)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(model.__table__.c.id)
    )
    new_id = session.execute(stmt).scalar()
    return None if new_id is None else int(new_id)


def enqueue(
    session: Session,
    method: str,
    payload: dict[str, Any],
    *,
    now: datetime,
    ref_kind: str | None = None,
    ref_id: str | int | None = None,
    dedupe_key: str | None = None,
) -> int | None:
    """Queue a Slack call in the caller's transaction. A repeated dedupe_key queues nothing."""
    return _add_once(
        session,
        OutboxMessage,
        {
            "method": method,
            "payload": payload,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
            "ref_kind": ref_kind,
            "ref_id": None if ref_id is None else str(ref_id),
            "dedupe_key": dedupe_key,
        },
    )


def due_outbox(session: Session, now: datetime, limit: int = 100) -> Sequence[OutboxMessage]:
    """Rows to send: pending and due, or claimed by a relay whose lease ran out (it died)."""
    return (
        session.execute(
            select(OutboxMessage)
            .where(
                OutboxMessage.status.in_(["pending", "sending"]),
                OutboxMessage.next_attempt_at <= now,
            )
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
        .scalars()
        .all()
    )


def claim_outbox(session: Session, row_id: int, *, now: datetime, lease_until: datetime) -> bool:
    """Take one row for sending; of two relays exactly one gets it."""
    result = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == row_id,
            OutboxMessage.status.in_(["pending", "sending"]),
            OutboxMessage.next_attempt_at <= now,
        )
        .values(status="sending", next_attempt_at=lease_until, attempts=OutboxMessage.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def pending_outbox_count(session: Session) -> int:
    return session.execute(
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.status.in_(["pending", "sending"]))
    ).scalar_one()


# ---------------------------------------------------------------- flow requests


def request_flow(
    session: Session,
    flow: str,
    parameters: dict[str, Any],
    *,
    now: datetime,
    pilot_id: str | None = None,
    dedupe_key: str | None = None,
) -> int | None:
    """Ask for a flow run in the caller's transaction; a repeated dedupe_key asks nothing."""
    return _add_once(
        session,
        FlowRequest,
        {
            "flow": flow,
            "parameters": parameters,
            "pilot_id": pilot_id,
            "status": "pending",
            "created_at": now,
            "dedupe_key": dedupe_key,
        },
    )


def flow_request_in_flight(session: Session, dedupe_prefix: str) -> bool:
    """Whether a request whose dedupe key starts with the prefix is pending or running."""
    return (
        session.execute(
            select(FlowRequest.id).where(
                or_(
                    FlowRequest.dedupe_key == dedupe_prefix,
                    FlowRequest.dedupe_key.startswith(dedupe_prefix + ":", autoescape=True),
                ),
                FlowRequest.status.in_(["pending", "started"]),
            )
        ).first()
        is not None
    )


def claim_flow_requests(session: Session, now: datetime, limit: int = 20) -> list[FlowRequest]:
    """Mark up to `limit` pending requests started; SKIP LOCKED keeps two dispatchers apart."""
    query = (
        select(FlowRequest)
        .where(FlowRequest.status == "pending")
        .order_by(FlowRequest.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    claimed = list(session.execute(query).scalars())
    for fr in claimed:
        fr.status = "started"
        fr.started_at = now
    session.flush()
    return claimed


def finish_flow_request(
    session: Session,
    request_id: int,
    *,
    now: datetime,
    ok: bool,
    flow_run_id: str | None = None,
    error: str | None = None,
) -> None:
    session.execute(
        update(FlowRequest)
        .where(FlowRequest.id == request_id)
        .values(
            status="done" if ok else "failed", finished_at=now, flow_run_id=flow_run_id, error=error
        )
    )


def requeue_flow_request(session: Session, request_id: int, *, error: str) -> None:
    """The run could not be created (orchestrator unreachable): ask again later."""
    session.execute(
        update(FlowRequest)
        .where(FlowRequest.id == request_id, FlowRequest.status == "started")
        .values(status="pending", started_at=None, error=error)
    )


def requeue_started_flow_requests(session: Session) -> int:
    """After a crash of the only dispatcher (local mode): run interrupted requests again."""
    result = session.execute(
        update(FlowRequest)
        .where(FlowRequest.status == "started")
        .values(status="pending", started_at=None)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def flow_requests(session: Session, pilot_id: str | None = None) -> Sequence[FlowRequest]:
    query = select(FlowRequest).order_by(FlowRequest.id)
    if pilot_id is not None:
        query = query.where(FlowRequest.pilot_id == pilot_id)
    return session.execute(query).scalars().all()


def set_operations_owner(
    session: Session, pilot_id: str, *, name: str, slack_id: str, actor: str, now: datetime
) -> None:
    """Name the pilot's operations owner (required before customer rollout), on record."""
    pilot = session.execute(
        select(Pilot).where(Pilot.id == pilot_id).with_for_update()
    ).scalar_one_or_none()
    if pilot is None:
        raise NotFound(f"no pilot with id {pilot_id!r} (see `pilotgate list`)")
    if pilot.stage in {s.value for s in TERMINAL}:
        raise Conflict(f"pilot {pilot_id} is {pilot.stage}; its owners can no longer change")
    proposal = dict(pilot.proposal)
    previous = proposal.get("operations_owner")
    proposal["operations_owner"] = {"name": name, "slack_id": slack_id}
    Proposal.model_validate(proposal)  # the same rules as at proposal time
    pilot.proposal = proposal
    audit.append(
        session,
        actor=actor,
        action="pilot.operations_owner",
        pilot_id=pilot_id,
        data={"previous": previous, "now": proposal["operations_owner"]},
        now=now,
    )
