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

from lifecycle.deadlines import next_reminder
from lifecycle.gates import GateStatus, plan_gate
from lifecycle.stages import FORWARD, SEND_BACK, TERMINAL, Stage, next_stage
from pilotgate.runtime import get_runtime, utcnow
from slackbot import messages
from slackbot.client import SlackNotConfigured, make_client
from slackbot.relay import relay_outbox
from store import repo
from store.models import Gate, Pilot
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
from tasks.names import RESOLVE_GATE, STAGE_FLOWS, TERMINATE


@task(name="open-gate", persist_result=False)
def open_gate(inp: OpenGateInput) -> GateOpened:
    """Open the gate that leaves `inp.stage`, one request per approver, asks queued."""
    rt = get_runtime()
    now = inp.now or utcnow()
    policy = rt.policy
    with rt.db.session() as session:
        pilot = repo.get_pilot(session, inp.pilot_id)
        if Stage(pilot.stage) in TERMINAL:
            raise repo.Conflict(f"pilot {pilot.id} is {pilot.stage}; it has no gates left")
        if pilot.stage != inp.stage.value:
            raise repo.Conflict(f"pilot {pilot.id} is in {pilot.stage}, not {inp.stage.value}")
        existing = repo.open_gate_for(session, pilot.id) or repo.settled_gate_awaiting_follow_up(
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
                    for r in repo.requests_for(session, existing.id)
                ],
                warnings=list((existing.evidence or {}).get("warnings", [])),
            )
        proposal = repo.proposal_of(pilot)
        target = next_stage(inp.stage)
        if target is Stage.CUSTOMER_ROLLOUT and proposal.operations_owner is None:
            raise repo.Conflict(
                f"pilot {pilot.id} has no operations owner: name one before customer rollout"
            )
        plan = plan_gate(policy, proposal, inp.stage, target)
        gate_policy = policy.gate(inp.stage)
        evidence = gather_evidence(session, pilot, inp.stage, policy, now)
        deadline = now + timedelta(days=gate_policy.deadline_days)
        first = next_reminder(now, deadline, gate_policy.reminders, now)
        gate = repo.open_gate(
            session,
            pilot.id,
            plan,
            deadline=deadline,
            next_reminder_at=first[1] if first else None,
            escalation_role=gate_policy.on_timeout.to_role,
            now=now,
            actor=inp.actor,
            evidence=evidence,
        )
        for request in repo.requests_for(session, gate.id):
            messages.ask(session, pilot, gate, request, now)
        return GateOpened(
            gate_id=gate.id,
            pilot_id=pilot.id,
            stage=inp.stage,
            target=target,
            deadline=gate.deadline,
            asked=[Asked(approver=a.approver, role=a.role) for a in plan.asks],
            warnings=list((evidence or {}).get("warnings", [])),
        )


def _relay() -> SignoffsSent:
    rt = get_runtime()
    try:
        client = make_client(rt.settings)
    except SlackNotConfigured as exc:  # `serve` (or a later run) delivers the queued rows
        return SignoffsSent(sent=0, waiting=0, errors=[str(exc)])
    report = relay_outbox(rt.db, client, utcnow)
    return SignoffsSent(sent=report.sent, waiting=report.waiting, errors=report.errors)


@task(name="request-signoffs", persist_result=False)
def request_signoffs(inp: RequestSignoffsInput) -> SignoffsSent:
    """Deliver the gate's queued asks now. If Slack is down they stay queued for the relay."""
    return _relay()


@task(name="deliver-messages", persist_result=False)
def deliver_messages() -> SignoffsSent:
    """Deliver whatever the last step queued (closed buttons, notices)."""
    return _relay()


@task(name="collect-decisions", persist_result=False)
def collect_decisions(inp: GateInput) -> GateReading:
    """Read the gate back from the database: the only truth about who decided what."""
    rt = get_runtime()
    now = inp.now or utcnow()
    with rt.db.session() as session:
        gate = repo.get_gate(session, inp.gate_id)
        evaluation = repo.evaluate(session, gate, min(now, gate.resolved_at or now))
        return GateReading(
            gate_id=gate.id,
            status=gate.status,
            evaluation=evaluation.status.value,
            missing=evaluation.missing,
            reasons=evaluation.reasons,
        )


@task(name="enforce-deadline", persist_result=False)
def enforce_deadline(inp: GateInput) -> DeadlineAction:
    """Apply the gate's on_timeout once its deadline passed: extend or escalate once, else
    expire (the resolve-gate flow then terminates the pilot)."""
    rt = get_runtime()
    now = inp.now or utcnow()
    with rt.db.session() as session:
        gate = repo.get_gate(session, inp.gate_id)
        pilot_id = gate.pilot_id
        if gate.status != "open" or now <= gate.deadline:
            return DeadlineAction(gate_id=gate.id, pilot_id=pilot_id, action="none")
        evaluation = repo.evaluate(session, gate, now)
        if evaluation.status is not GateStatus.EXPIRED:
            return DeadlineAction(
                gate_id=gate.id,
                pilot_id=pilot_id,
                action="none",
                detail=f"gate is {evaluation.status.value}",
            )
        rule = rt.policy.gate(Stage(gate.stage)).on_timeout
        pilot = repo.get_pilot(session, pilot_id)
        old = gate.deadline
        # A sweep that runs late must not eat into the extra time it grants.
        base = max(old, now)
        reminders = rt.policy.gate(Stage(gate.stage)).reminders
        if rule.action == "extend" and gate.extended_at is None and rule.days:
            new = base + timedelta(days=rule.days)
            upcoming = next_reminder(now, new, reminders, now)
            if repo.change_deadline(
                session,
                gate,
                deadline=new,
                kind="extend",
                now=now,
                actor=inp.actor,
                expected_deadline=old,
                next_reminder_at=upcoming[1] if upcoming else None,
            ):
                for request in repo.unanswered_requests(session, gate.id):
                    messages.notify(
                        session,
                        request.approver,
                        f"The deadline for {pilot.title} was extended once, to "
                        f"{new:%Y-%m-%d %H:%M} UTC. Your sign-off is still needed.",
                        None,
                        now,
                        dedupe_key=f"extended:{gate.id}:{request.id}",
                    )
                return DeadlineAction(
                    gate_id=gate.id,
                    pilot_id=pilot_id,
                    action="extended",
                    new_deadline=new,
                    detail=f"extended once by {rule.days} days",
                )
            return DeadlineAction(
                gate_id=gate.id,
                pilot_id=pilot_id,
                action="none",
                detail="another process changed the deadline first",
            )
        if rule.action == "escalate" and gate.escalated_at is None and rule.to_role and rule.days:
            new = base + timedelta(days=rule.days)
            upcoming = next_reminder(now, new, reminders, now)
            if repo.change_deadline(
                session,
                gate,
                deadline=new,
                kind="escalate",
                now=now,
                actor=inp.actor,
                expected_deadline=old,
                next_reminder_at=upcoming[1] if upcoming else None,
            ):
                members = [
                    m for m in rt.policy.members(rule.to_role) if m not in set(gate.excluded)
                ]
                for request in repo.add_requests(session, gate, members, rule.to_role, 1, now):
                    messages.ask(session, pilot, gate, request, now)
                return DeadlineAction(
                    gate_id=gate.id,
                    pilot_id=pilot_id,
                    action="escalated",
                    new_deadline=new,
                    detail=f"escalated to {rule.to_role} for {rule.days} days",
                )
            return DeadlineAction(
                gate_id=gate.id,
                pilot_id=pilot_id,
                action="none",
                detail="another process changed the deadline first",
            )
        reason = (
            f"gate {gate.stage} -> {gate.target} passed its deadline "
            f"{old:%Y-%m-%d %H:%M} UTC; " + "; ".join(evaluation.reasons)
        )
        if repo.resolve_gate(session, gate, "expired", reason, now=now, actor=inp.actor):
            repo.request_flow(
                session,
                RESOLVE_GATE,
                {"gate_id": gate.id},
                now=now,
                pilot_id=pilot_id,
                dedupe_key=f"resolve:{gate.id}",
            )
            return DeadlineAction(
                gate_id=gate.id, pilot_id=pilot_id, action="expired", detail=reason
            )
        return DeadlineAction(
            gate_id=gate.id,
            pilot_id=pilot_id,
            action="none",
            detail="already resolved by another process",
        )


def _queue_entry_flow(
    session: Session, pilot_id: str, stage: Stage, gate_id: int, now: datetime
) -> str | None:
    """Queue the flow of the stage just entered, when its gate opens on entry."""
    if stage not in FORWARD or not get_runtime().policy.gate(stage).open_on_entry:
        return None
    flow = STAGE_FLOWS[stage]
    repo.request_flow(
        session,
        flow,
        {"pilot_id": pilot_id},
        now=now,
        pilot_id=pilot_id,
        dedupe_key=f"enter:{gate_id}",
    )
    return flow


def _move_pilot(
    session: Session,
    pilot: Pilot,
    gate: Gate,
    stage: Stage,
    target: Stage,
    *,
    outcome: str,
    history_reason: str,
    headline: str,
    notice_key: str,
    reason: str,
    now: datetime,
) -> TransitionApplied | None:
    """Move the pilot on a settled gate, tell its owner, queue the new stage's flow. None when
    the pilot was no longer in `stage` (another process moved it)."""
    if not repo.move_stage(
        session,
        pilot.id,
        expected=stage,
        target=target,
        actor="gate",
        reason=history_reason,
        now=now,
        policy=get_runtime().policy,
    ):
        return None
    messages.notify(session, pilot.business_owner, headline, reason, now, dedupe_key=notice_key)
    return TransitionApplied(
        gate_id=gate.id,
        pilot_id=pilot.id,
        claimed=True,
        outcome=outcome,
        stage=target,
        next_flow=_queue_entry_flow(session, pilot.id, target, gate.id, now),
        reason=reason,
    )


@task(name="apply-transition", persist_result=False)
def apply_transition(inp: GateInput) -> TransitionApplied:
    """Act on a resolved gate, exactly once: advance, send back, or ask for termination."""
    rt = get_runtime()
    now = inp.now or utcnow()
    with rt.db.session() as session:
        gate = repo.get_gate(session, inp.gate_id)
        if not repo.claim_continuation(session, gate.id, now):
            return TransitionApplied(
                gate_id=gate.id,
                pilot_id=gate.pilot_id,
                claimed=False,
                outcome="none",
                reason="already handled",
            )
        session.refresh(gate)
        pilot = repo.get_pilot(session, gate.pilot_id)
        stage = Stage(gate.stage)
        reason = gate.outcome_reason or gate.status
        outcome_text = {
            "approved": ":white_check_mark: Gate approved: " + reason,
            "rejected": ":x: Gate rejected: " + reason,
            "expired": ":hourglass: Gate expired: " + reason,
        }[gate.status]
        for request in repo.unanswered_requests(session, gate.id):
            messages.close_request(session, pilot, gate, request, outcome_text, now)

        if gate.status == "approved":
            target = Stage(gate.target)
            moved = _move_pilot(
                session,
                pilot,
                gate,
                stage,
                target,
                outcome="advanced",
                history_reason=f"gate approved: {reason}",
                headline=f"{pilot.title} moved to {messages.label(target)}.",
                notice_key=f"moved:{gate.id}",
                reason=reason,
                now=now,
            )
            return moved or TransitionApplied(
                gate_id=gate.id,
                pilot_id=pilot.id,
                claimed=True,
                outcome="none",
                reason=f"pilot no longer in {stage}",
            )

        gate_policy = rt.policy.gate(stage)
        if (
            gate.status == "rejected"
            and gate_policy.on_reject == "send_back"
            and stage in SEND_BACK
        ):
            back = SEND_BACK[stage]
            sent_back = _move_pilot(
                session,
                pilot,
                gate,
                stage,
                back,
                outcome="sent_back",
                history_reason=f"sent back: {reason}",
                headline=f"{pilot.title} was sent back to {messages.label(back)}.",
                notice_key=f"sentback:{gate.id}",
                reason=reason,
                now=now,
            )
            if sent_back is not None:
                return sent_back
        if pilot.stage != gate.stage:
            # The pilot moved on (or ended) since this gate opened: its outcome is history.
            return TransitionApplied(
                gate_id=gate.id,
                pilot_id=pilot.id,
                claimed=True,
                outcome="none",
                reason=f"pilot is in {pilot.stage}, no longer in {gate.stage}",
            )
        why = (
            f"{'rejected' if gate.status == 'rejected' else 'deadline passed'} at "
            f"{messages.label(stage)}: {reason}"
        )
        repo.request_flow(
            session,
            TERMINATE,
            {"pilot_id": pilot.id, "reason": why, "actor": "gate"},
            now=now,
            pilot_id=pilot.id,
            dedupe_key=f"terminate:{gate.id}",
        )
        return TransitionApplied(
            gate_id=gate.id,
            pilot_id=pilot.id,
            claimed=True,
            outcome="terminate",
            stage=Stage.TERMINATED,
            next_flow=TERMINATE,
            reason=why,
        )
