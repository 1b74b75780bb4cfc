"""The transition tasks: open a gate, ask for sign-offs, read decisions, enforce the deadline,
apply the outcome.

Each task is one database transaction that also writes the Slack messages (outbox) and the
follow-up flow requests the change calls for, so a crash between two tasks loses nothing: what
committed has its messages and its follow-up queued; what did not commit never happened.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from prefect import task
from sqlalchemy.orm import Session

from config.clock import utcnow
from config.names import STAGE_FLOWS, TERMINATE, Keys
from lifecycle.deadlines import next_reminder
from lifecycle.gates import GateStatus, plan_gate
from lifecycle.outcomes import (
    NextStep,
    Step,
    TimeoutStep,
    next_step,
    on_deadline,
    queues_entry_flow,
)
from lifecycle.policy_versions import stamp
from lifecycle.stages import LIVE, TERMINAL, Stage, next_stage
from lifecycle.statuses import GatePhase
from slack_out import messages
from slack_out.client import SlackNotConfigured, make_client
from slack_out.relay import relay_outbox
from store import flow_queue, gates, pilots
from store.errors import Conflict
from store.models import Gate
from tasks import home
from tasks.evidence import gather_evidence
from tasks.inputs import (
    Asked,
    DeadlineAction,
    GateInput,
    GateOpened,
    GateReading,
    OpenGateInput,
    RequestSignoffsInput,
    SignoffsSent,
    TransitionApplied,
)
from tasks.logs import run_logger
from tasks.review_outcome import settle_review_in
from tasks.runtime import get_runtime


def _by_role(asked: list[Asked]) -> str:
    """`programme_office: U0PMO0001, U0PMO0002; finance: U0FIN0001` (Slack user ids)."""
    roles: dict[str, list[str]] = {}
    for a in asked:
        roles.setdefault(a.role, []).append(a.approver)
    return "; ".join(f"{role}: {', '.join(who)}" for role, who in roles.items()) or "nobody"


@task(name="open-gate", persist_result=False)
def open_gate(inp: OpenGateInput) -> GateOpened:
    """Open the gate that leaves `inp.stage`, one request per approver, asks queued."""
    opened = _open_gate(inp)  # committed: what is logged happened
    logger = run_logger()
    if opened.already_open:
        logger.info(
            "gate %d (%s -> %s) of pilot %s was already open; nobody is asked twice",
            opened.gate_id,
            opened.stage.value,
            opened.target.value,
            opened.pilot_id,
        )
        return opened
    logger.info(
        "gate %d opened for pilot %s: %s -> %s, deadline %s; asked by role: %s; "
        "%d sign-off request(s) queued for Slack",
        opened.gate_id,
        opened.pilot_id,
        opened.stage.value,
        opened.target.value,
        f"{opened.deadline:%Y-%m-%d %H:%M} UTC",
        _by_role(opened.asked),
        len(opened.asked),
    )
    for warning in opened.warnings:
        logger.info("gate %d evidence warning: %s", opened.gate_id, warning)
    return opened


def _open_gate(inp: OpenGateInput) -> GateOpened:
    with get_runtime().db.session() as session:
        return open_gate_in(session, inp)


def open_gate_in(session: Session, inp: OpenGateInput) -> GateOpened:
    """Open the gate in the caller's transaction (the open-gate task runs it alone; the sweep
    opens a due value review in its own item's transaction). At a live stage (production) the
    gate is the value review: its target is the stage itself (sustained or adjusted), its
    rules `value.review`'s."""
    rt = get_runtime()
    now = inp.now or utcnow()
    policy = rt.policy
    pilot = pilots.get_pilot(session, inp.pilot_id)
    if Stage(pilot.stage) in TERMINAL:
        raise Conflict(f"pilot {pilot.id} is {pilot.stage}; it has no gates left")
    if pilot.stage != inp.stage.value:
        raise Conflict(f"pilot {pilot.id} is in {pilot.stage}, not {inp.stage.value}")
    existing = gates.open_gate_for(session, pilot.id) or gates.settled_gate_awaiting_follow_up(
        session, pilot.id
    )
    if existing is not None and existing.stage == inp.stage.value:
        # A re-run (a rescheduled run, a redelivered flow request) finds its gate open:
        # report it instead of failing; nobody is asked twice.
        return GateOpened(
            gate_id=existing.id,
            pilot_id=pilot.id,
            stage=inp.stage,
            target=Stage(existing.target),
            deadline=existing.deadline,
            asked=[
                Asked(approver=r.approver, role=r.role)
                for r in gates.active_requests_for(session, existing.id)
            ],
            warnings=list((existing.evidence or {}).get("warnings", [])),
            already_open=True,
        )
    proposal = pilots.proposal_of(pilot)
    target = inp.stage if inp.stage in LIVE else next_stage(inp.stage)
    if target is Stage.CUSTOMER_ROLLOUT and proposal.operations_owner is None:
        raise Conflict(
            f"pilot {pilot.id} has no operations owner: name one before customer rollout"
        )
    plan = plan_gate(policy, proposal, inp.stage, target)
    gate_policy = policy.gate(inp.stage)
    evidence = gather_evidence(session, pilot, inp.stage, policy, now)
    deadline = now + timedelta(days=gate_policy.deadline_days)
    first = next_reminder(now, deadline, gate_policy.reminders, now)
    gate = gates.open_gate(
        session,
        pilot.id,
        plan,
        deadline=deadline,
        next_reminder_at=first[1] if first else None,
        escalation_role=gate_policy.on_timeout.to_role,
        now=now,
        actor=inp.actor,
        evidence=evidence,
        policy=stamp(policy),
    )
    requests = gates.requests_for(session, gate.id)
    for request in requests:
        messages.ask(session, pilot, gate, request, now, policy=policy)
    home.refresh_pilot(session, pilot.id, now)
    return GateOpened(
        gate_id=gate.id,
        pilot_id=pilot.id,
        stage=inp.stage,
        target=target,
        deadline=gate.deadline,
        # who was actually asked: a delegate stands where an approver is away
        asked=[Asked(approver=r.approver, role=r.role) for r in requests],
        warnings=list((evidence or {}).get("warnings", [])),
    )


def _relay() -> SignoffsSent:
    rt = get_runtime()
    try:
        client = make_client(rt.settings)
    except SlackNotConfigured as exc:  # `serve` (or a later run) delivers the queued rows
        return SignoffsSent(sent=0, waiting=0, errors=[str(exc)])
    report = relay_outbox(rt.db, client, utcnow, policy=rt.policy)
    return SignoffsSent(sent=report.sent, waiting=report.waiting, errors=report.errors)


def _log_delivery(what: str, sent: SignoffsSent) -> SignoffsSent:
    logger = run_logger()
    logger.info("%s: %d Slack message(s) delivered, %d waiting", what, sent.sent, sent.waiting)
    for error in sent.errors:
        logger.warning("%s: Slack delivery deferred: %s", what, error)
    return sent


@task(name="request-signoffs", persist_result=False)
def request_signoffs(inp: RequestSignoffsInput) -> SignoffsSent:
    """Deliver the gate's queued asks now. If Slack is down they stay queued for the relay."""
    return _log_delivery(f"gate {inp.gate_id} sign-off requests", _relay())


@task(name="deliver-messages", persist_result=False)
def deliver_messages() -> SignoffsSent:
    """Deliver whatever the last step queued (closed buttons, notices)."""
    return _log_delivery("queued messages", _relay())


@task(name="collect-decisions", persist_result=False)
def collect_decisions(inp: GateInput) -> GateReading:
    """Read the gate back from the database: the only truth about who decided what."""
    rt = get_runtime()
    now = inp.now or utcnow()
    with rt.db.session() as session:
        gate = gates.get_gate(session, inp.gate_id)
        evaluation = gates.evaluate(session, gate, min(now, gate.resolved_at or now))
        reading = GateReading(
            gate_id=gate.id,
            status=gate.status,
            evaluation=evaluation.status.value,
            missing=evaluation.missing,
            reasons=evaluation.reasons,
        )
    missing = ", ".join(f"{role} {n}" for role, n in reading.missing.items() if n)
    run_logger().info(
        "gate %d is %s: %s",
        reading.gate_id,
        reading.status,
        "; ".join(reading.reasons)
        or (f"quorum missing: {missing}" if missing else "quorum reached"),
    )
    return reading


@task(name="enforce-deadline", persist_result=False)
def enforce_deadline(inp: GateInput) -> DeadlineAction:
    """Apply the gate's on_timeout once its deadline passed (`lifecycle.outcomes.on_deadline`
    decides): extend or escalate once, else expire (resolve-gate then terminates the pilot)."""
    action = _enforce_deadline(inp)  # committed: what is logged happened
    logger = run_logger()
    if action.action == "none":
        logger.info(
            "gate %d deadline: nothing to enforce%s",
            action.gate_id,
            f" ({action.detail})" if action.detail else "",
        )
    elif action.action == "expired":
        logger.info(
            "gate %d of pilot %s expired: %s; resolve-gate queued (it terminates the pilot)",
            action.gate_id,
            action.pilot_id,
            action.detail,
        )
    else:
        logger.info(
            "gate %d of pilot %s deadline passed: %s, new deadline %s%s",
            action.gate_id,
            action.pilot_id,
            action.detail,
            f"{action.new_deadline:%Y-%m-%d %H:%M} UTC" if action.new_deadline else "n/a",
            f"; asked by role: {_by_role(action.asked)}"
            if action.asked
            else "; unanswered approvers notified",
        )
    return action


def _enforce_deadline(inp: GateInput) -> DeadlineAction:
    with get_runtime().db.session() as session:
        return enforce_deadline_in(session, inp)


def enforce_deadline_in(session: Session, inp: GateInput) -> DeadlineAction:
    """The deadline rule in the caller's transaction (the sweep runs it for each gate of a
    batch, and may then act on an expiry in the same transaction)."""
    rt = get_runtime()
    now = inp.now or utcnow()
    gate = gates.get_gate(session, inp.gate_id)
    pilot_id = gate.pilot_id
    if gate.status != GatePhase.OPEN or now <= gate.deadline:
        return DeadlineAction(gate_id=gate.id, pilot_id=pilot_id, action="none")
    evaluation = gates.evaluate(session, gate, now)
    if evaluation.status is not GateStatus.EXPIRED:
        return DeadlineAction(
            gate_id=gate.id,
            pilot_id=pilot_id,
            action="none",
            detail=f"gate is {evaluation.status.value}",
        )
    gate_policy = rt.policy.gate(Stage(gate.stage))
    decision = on_deadline(
        gate_policy.on_timeout,
        deadline=gate.deadline,
        now=now,
        extended=gate.extended_at is not None,
        escalated=gate.escalated_at is not None,
    )
    if decision.step is TimeoutStep.EXPIRE:
        return _expire(session, gate, evaluation.reasons, now=now, actor=inp.actor)
    assert decision.new_deadline is not None
    upcoming = next_reminder(now, decision.new_deadline, gate_policy.reminders, now)
    if not gates.change_deadline(
        session,
        gate,
        deadline=decision.new_deadline,
        kind=decision.step.value,
        now=now,
        actor=inp.actor,
        expected_deadline=gate.deadline,
        next_reminder_at=upcoming[1] if upcoming else None,
    ):
        return DeadlineAction(
            gate_id=gate.id,
            pilot_id=pilot_id,
            action="none",
            detail="another process changed the deadline first",
        )
    pilot = pilots.get_pilot(session, pilot_id)
    asked: list[Asked] = []
    if decision.step is TimeoutStep.EXTEND:
        for request in gates.unanswered_requests(session, gate.id):
            messages.notify(
                session,
                request.approver,
                f"The deadline for {pilot.title} was extended once, to "
                f"{decision.new_deadline:%Y-%m-%d %H:%M} UTC. Your sign-off is still needed.",
                None,
                now,
                dedupe_key=Keys.extended(gate.id, request.id),
                pilot_id=pilot.id,
            )
        detail = f"extended once by {decision.days} days"
    else:
        role = decision.to_role or ""
        members = [m for m in rt.policy.members(role) if m not in set(gate.excluded)]
        added = gates.add_requests(session, gate, members, role, 1, now)
        for request in added:
            messages.ask(session, pilot, gate, request, now, policy=rt.policy)
            asked.append(Asked(approver=request.approver, role=request.role))
        # the asks already out show the escalation role in their tally too
        messages.refresh_asks(session, gate, now=now, skip={r.id for r in added})
        home.refresh_pilot(session, pilot.id, now)
        detail = f"escalated to {role} for {decision.days} days"
    return DeadlineAction(
        gate_id=gate.id,
        pilot_id=pilot_id,
        action=decision.action,
        new_deadline=decision.new_deadline,
        detail=detail,
        asked=asked,
    )


def _expire(
    session: Session, gate: Gate, reasons: list[str], *, now: datetime, actor: str
) -> DeadlineAction:
    """Resolve a gate nobody settled in time as expired and queue its follow-up."""
    reason = (
        f"gate {gate.stage} -> {gate.target} passed its deadline "
        f"{gate.deadline:%Y-%m-%d %H:%M} UTC; " + "; ".join(reasons)
    )
    if not gates.resolve_gate(session, gate, GatePhase.EXPIRED, reason, now=now, actor=actor):
        return DeadlineAction(
            gate_id=gate.id,
            pilot_id=gate.pilot_id,
            action="none",
            detail="already resolved by another process",
        )
    flow_queue.request_resolve_gate(session, gate.id, gate.pilot_id, now=now)
    return DeadlineAction(gate_id=gate.id, pilot_id=gate.pilot_id, action="expired", detail=reason)


def _queue_entry_flow(
    session: Session, pilot_id: str, stage: Stage, gate_id: int, now: datetime
) -> str | None:
    """Queue the flow of the stage just entered, when its gate opens on entry."""
    if not queues_entry_flow(stage, get_runtime().policy):
        return None
    flow = STAGE_FLOWS[stage]
    flow_queue.request_flow(
        session,
        flow,
        {"pilot_id": pilot_id},
        now=now,
        pilot_id=pilot_id,
        dedupe_key=Keys.enter(gate_id),
    )
    return flow


#: what the pilot's business owner is told when a settled gate moved their pilot.
_MOVED_HEADLINE = {
    Step.ADVANCE: "{title} moved to {stage}.",
    Step.SEND_BACK: "{title} was sent back to {stage}.",
}
_MOVED_KEY = {Step.ADVANCE: Keys.moved, Step.SEND_BACK: Keys.sent_back}


@task(name="apply-transition", persist_result=False)
def apply_transition(inp: GateInput) -> TransitionApplied:
    """Act on a resolved gate, exactly once: the next step (`lifecycle.outcomes.next_step`)
    is advance, send back, terminate or nothing."""
    applied = _apply_transition(inp)  # committed: what is logged happened
    logger = run_logger()
    if not applied.claimed:
        logger.info("gate %d: %s; nothing done", applied.gate_id, applied.reason)
    elif applied.outcome in ("advanced", "sent_back"):
        logger.info(
            "gate %d settled: pilot %s %s %s (%s); owner notified, unanswered requests closed%s",
            applied.gate_id,
            applied.pilot_id,
            "moved to" if applied.outcome == "advanced" else "sent back to",
            applied.stage.value if applied.stage else "?",
            applied.reason,
            f"; {applied.next_flow} flow queued" if applied.next_flow else "",
        )
    elif applied.outcome == "terminate":
        logger.info(
            "gate %d settled: pilot %s is to be terminated (%s); terminate flow queued",
            applied.gate_id,
            applied.pilot_id,
            applied.reason,
        )
    elif applied.stage is Stage.RETIRED:
        logger.info(
            "gate %d settled: pilot %s retired (%s); owner and approvers told",
            applied.gate_id,
            applied.pilot_id,
            applied.reason,
        )
    else:
        logger.info("gate %d settled: %s; the pilot stays", applied.gate_id, applied.reason)
    return applied


def _apply_transition(inp: GateInput) -> TransitionApplied:
    with get_runtime().db.session() as session:
        return apply_transition_in(session, inp)


def apply_transition_in(session: Session, inp: GateInput) -> TransitionApplied:
    """The follow-up of a settled gate in the caller's transaction (resolve-gate's task runs it
    alone; the sweep runs it right after expiring a gate, in the expiry's transaction)."""
    rt = get_runtime()
    now = inp.now or utcnow()
    gate = gates.get_gate(session, inp.gate_id)
    if not gates.claim_continuation(session, gate.id, now):
        return TransitionApplied(
            gate_id=gate.id,
            pilot_id=gate.pilot_id,
            claimed=False,
            outcome="none",
            reason="already handled",
        )
    session.refresh(gate)
    pilot = pilots.get_pilot(session, gate.pilot_id)
    stage = Stage(gate.stage)
    reason = gate.outcome_reason or gate.status
    outcome_text = messages.gate_outcome(gate.status, reason)
    for request in gates.unanswered_requests(session, gate.id):
        messages.close_request(session, request, outcome_text, now)
    home.refresh_pilot(session, pilot.id, now)

    first = next_step(
        gate.status,
        stage=stage,
        target=gate.target,
        pilot_stage=pilot.stage,
        on_reject=rt.policy.gate(stage).on_reject,
        outcome_reason=gate.outcome_reason,
    )
    if first.step in (Step.SUSTAIN, Step.RETIRE):  # a value review (tasks.review_outcome)
        return settle_review_in(session, gate, pilot, first, now)
    step: NextStep | None = first
    while step is not None and step.step in _MOVED_HEADLINE:
        assert step.target is not None and step.history_reason is not None
        if pilots.move_stage(
            session,
            pilot.id,
            expected=stage,
            target=step.target,
            actor="gate",
            reason=step.history_reason,
            now=now,
            policy=rt.policy,
        ):
            headline = _MOVED_HEADLINE[step.step].format(
                title=pilot.title, stage=messages.label(step.target)
            )
            messages.notify(
                session,
                pilot.business_owner,
                headline,
                step.reason,
                now,
                dedupe_key=_MOVED_KEY[step.step](gate.id),
                pilot_id=pilot.id,
            )
            home.refresh_pilot(session, pilot.id, now)  # its new stage
            return TransitionApplied(
                gate_id=gate.id,
                pilot_id=pilot.id,
                claimed=True,
                outcome=step.outcome,
                stage=step.target,
                next_flow=_queue_entry_flow(session, pilot.id, step.target, gate.id, now),
                reason=step.reason,
            )
        step = step.if_not_moved
    assert step is not None
    if step.step is Step.TERMINATE:
        flow_queue.request_flow(
            session,
            TERMINATE,
            {"pilot_id": pilot.id, "reason": step.reason, "actor": "gate"},
            now=now,
            pilot_id=pilot.id,
            dedupe_key=Keys.terminate_after_gate(gate.id),
        )
        return TransitionApplied(
            gate_id=gate.id,
            pilot_id=pilot.id,
            claimed=True,
            outcome=step.outcome,
            stage=Stage.TERMINATED,
            next_flow=TERMINATE,
            reason=step.reason,
        )
    return TransitionApplied(
        gate_id=gate.id,
        pilot_id=pilot.id,
        claimed=True,
        outcome=step.outcome,
        reason=step.reason,
    )
