"""The sweep's steps, straight from the database.

Each query reads only what is due (indexed deadline columns: gates.status+deadline,
gates.next_reminder_at, pilots.deploy_by), so a sweep's cost follows the number of due items,
not the number of pilots. Every action is conditional, so two sweeps at once act once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from prefect import task

from lifecycle.deadlines import current_point, next_reminder
from lifecycle.stages import Stage
from pilotgate.runtime import get_runtime
from slackbot import messages
from store import repo
from tasks.inputs import TaskModel


class SweepInput(TaskModel):
    now: datetime


class DueGate(TaskModel):
    gate_id: int
    pilot_id: str
    title: str
    stage: Stage
    deadline: datetime
    on_timeout: str


class OverduePilot(TaskModel):
    pilot_id: str
    title: str
    stage: Stage
    deploy_by: datetime


class DueReminder(TaskModel):
    gate_id: int
    pilot_id: str
    title: str
    point: float
    approvers: list[str]


class SweepPlan(TaskModel):
    now: datetime
    expired_gates: list[DueGate] = []
    overdue_pilots: list[OverduePilot] = []
    reminders: list[DueReminder] = []


class RemindersSent(TaskModel):
    sent: int
    approvers: list[str] = []


def _on_timeout(policy_rule: object, gate: object) -> str:
    action = getattr(policy_rule, "action", "terminate")
    if action == "extend" and getattr(gate, "extended_at", None) is None:
        return f"extend by {getattr(policy_rule, 'days', 0)} days"
    if action == "escalate" and getattr(gate, "escalated_at", None) is None:
        return f"escalate to {getattr(policy_rule, 'to_role', '?')}"
    return "terminate"


@task(name="find-due-work", persist_result=False)
def find_due_work(inp: SweepInput) -> SweepPlan:
    """What is due at `inp.now`. Reads only; the --dry-run answer."""
    rt = get_runtime()
    now = inp.now
    with rt.db.session() as session:
        expired = []
        for gate in repo.open_gates_past_deadline(session, now):
            pilot = repo.get_pilot(session, gate.pilot_id)
            rule = rt.policy.gate(Stage(gate.stage)).on_timeout
            expired.append(DueGate(gate_id=gate.id, pilot_id=pilot.id, title=pilot.title,
                                   stage=Stage(gate.stage), deadline=gate.deadline,
                                   on_timeout=_on_timeout(rule, gate)))
        overdue = [OverduePilot(pilot_id=p.id, title=p.title, stage=Stage(p.stage),
                                deploy_by=p.deploy_by)
                   for p in repo.pilots_past_deploy_by(session, now) if p.deploy_by]
        reminders = []
        for gate in repo.gates_due_for_reminder(session, now):
            if gate.deadline < now:
                continue
            points = rt.policy.gate(Stage(gate.stage)).reminders
            point = current_point(gate.opened_at, gate.deadline, points, now)
            if point is None:
                point = points[0] if points else 0.5
            answered = {d.request_id for d in repo.decisions_for(session, gate.id)}
            waiting = [r.approver for r in repo.requests_for(session, gate.id)
                       if r.id not in answered]
            pilot = repo.get_pilot(session, gate.pilot_id)
            reminders.append(DueReminder(gate_id=gate.id, pilot_id=pilot.id, title=pilot.title,
                                         point=point, approvers=waiting))
    return SweepPlan(now=now, expired_gates=expired, overdue_pilots=overdue, reminders=reminders)


@task(name="send-reminders", persist_result=False)
def send_reminders(inp: SweepInput) -> RemindersSent:
    """Remind each unanswered approver once per reminder point, threaded under the request."""
    rt = get_runtime()
    now = inp.now
    sent = 0
    who: list[str] = []
    with rt.db.session() as session:
        gate_ids = [g.id for g in repo.gates_due_for_reminder(session, now)]
    for gate_id in gate_ids:
        with rt.db.session() as session:
            gate = repo.get_gate(session, gate_id)
            if gate.status != "open" or gate.next_reminder_at is None or gate.deadline < now:
                continue
            points = rt.policy.gate(Stage(gate.stage)).reminders
            point = current_point(gate.opened_at, gate.deadline, points, now)
            upcoming = next_reminder(gate.opened_at, gate.deadline, points, now)
            # Claim this gate's reminder round: a concurrent sweep gets False and moves on.
            if not repo.advance_reminder(session, gate, expected=gate.next_reminder_at,
                                         next_at=upcoming[1] if upcoming else None):
                continue
            if point is None:
                continue
            pilot = repo.get_pilot(session, gate.pilot_id)
            answered = {d.request_id for d in repo.decisions_for(session, gate.id)}
            for request in repo.requests_for(session, gate.id):
                if request.id in answered:
                    continue
                if repo.mark_reminder(session, request.id, point, now):
                    messages.remind(session, pilot, gate, request, point, now)
                    sent += 1
                    who.append(request.approver)
    return RemindersSent(sent=sent, approvers=who)


@task(name="post-digest", persist_result=False)
def post_digest(inp: SweepInput, terminated: list[str]) -> bool:
    """The portfolio channel's digest: terminations, what comes due in 7 days, caps."""
    rt = get_runtime()
    channel = rt.policy.portfolio.digest_channel
    if not channel:
        return False
    now = inp.now
    soon = now + timedelta(days=7)
    with rt.db.session() as session:
        due = [f"{g.pilot_id}: gate {g.stage} -> {g.target} due {g.deadline:%Y-%m-%d}"
               for g in repo.gates_due_between(session, now, soon)]
        due += [f"{p.id} {p.title}: deploy-or-terminate date {p.deploy_by:%Y-%m-%d}"
                for p in repo.pilots_due_between(session, now, soon) if p.deploy_by]
        portfolios = sorted({p.portfolio for p in repo.list_pilots(session)})
        caps = []
        for name in portfolios:
            active = repo.active_count(session, name)
            if active:
                caps.append(f"{name}: {active}/{rt.policy.portfolio.cap_for(name)} active")
        if not (terminated or due):
            return False
        messages.digest(session, channel, now=now, terminated=terminated, due=due, caps=caps,
                        dedupe_key=f"digest:{now:%Y%m%dT%H}")
    return True
