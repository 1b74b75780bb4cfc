"""The sweep: a pilot deploys or terminates; nothing lingers, even when nobody is watching.

Runs on a schedule (deployments/) and as `pilotgate sweep`. It enforces every deadline again from
the database, so a flow run that died cannot keep a pilot alive.
"""

from __future__ import annotations

from datetime import datetime

from prefect import flow

from flows.terminate import terminate_flow
from pilotgate.runtime import utcnow
from tasks.gates import deliver_messages, enforce_deadline
from tasks.inputs import GateInput
from tasks.sweep import SweepInput, SweepPlan, find_due_work, post_digest, send_reminders


@flow(name="sweep", persist_result=False)
def sweep_flow(now: datetime | None = None, dry_run: bool = False) -> dict[str, object]:
    at = now or utcnow()
    plan: SweepPlan = find_due_work(SweepInput(now=at))
    if dry_run:
        return {"dry_run": True, "plan": plan.model_dump(mode="json")}
    actions = []
    for due in plan.expired_gates:
        action = enforce_deadline(GateInput(gate_id=due.gate_id, now=at, actor="sweep"))
        actions.append(action.model_dump(mode="json"))
    terminated = []
    for pilot in plan.overdue_pilots:
        reason = (f"deploy-or-terminate date {pilot.deploy_by:%Y-%m-%d} passed while in "
                  f"{pilot.stage.value.replace('_', ' ')}")
        result = terminate_flow(pilot_id=pilot.pilot_id, reason=reason, actor="sweep", now=at)
        if result.terminated:
            terminated.append(f"{pilot.pilot_id} {pilot.title}: {reason}")
    for a in actions:
        if a["action"] == "expired":
            terminated.append(f"{a['pilot_id']}: {a['detail']}")
    reminders = send_reminders(SweepInput(now=at))
    digest = post_digest(SweepInput(now=at), terminated)
    delivered = deliver_messages()
    return {"dry_run": False, "deadline_actions": actions, "terminated": terminated,
            "reminders": reminders.sent, "digest": digest, "delivered": delivered.sent,
            "plan": plan.model_dump(mode="json")}
