"""The sweep: a pilot deploys or terminates; nothing lingers, even when nobody is watching.

Runs on a schedule (deployments/) and as `pilotgate sweep`. It enforces every deadline again from
the database, so a flow run that died cannot keep a pilot alive. One sweep runs at a time per
database (`sweep_lock`); a second one started meanwhile waits, then finds nothing left to do.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import flow

from config.clock import utcnow
from config.names import SWEEP
from flows.terminate import terminate_flow
from store.locks import sweep_lock
from tasks.gates import deliver_messages, enforce_deadline
from tasks.inputs import GateInput
from tasks.runtime import get_runtime
from tasks.sweep import (
    SweepInput,
    SweepPlan,
    find_due_work,
    post_digest,
    requeue_stalled_gates,
    send_reminders,
)


@flow(name=SWEEP, persist_result=False)
def sweep_flow(now: datetime | None = None, dry_run: bool = False) -> dict[str, Any]:
    at = now or utcnow()
    if dry_run:
        plan: SweepPlan = find_due_work(SweepInput(now=at))
        return {"dry_run": True, "plan": plan.model_dump(mode="json")}
    with sweep_lock(get_runtime().db) as held:
        if not held:
            return {
                "dry_run": False,
                "skipped": "another sweep held the sweep lock throughout",
                "deadline_actions": [],
                "terminated": [],
                "reminders": 0,
                "digest": False,
                "delivered": 0,
                "plan": SweepPlan(now=at).model_dump(mode="json"),
            }
        return _sweep(at)


def _sweep(at: datetime) -> dict[str, Any]:
    plan = find_due_work(SweepInput(now=at))
    # The deploy-or-terminate date first: a pilot past it is not escalated or extended.
    terminated: dict[str, str] = {}
    for pilot in plan.overdue_pilots:
        reason = (
            f"deploy-or-terminate date {pilot.deploy_by:%Y-%m-%d} passed while in "
            f"{pilot.stage.value.replace('_', ' ')}"
        )
        result = terminate_flow(pilot_id=pilot.pilot_id, reason=reason, actor="sweep", now=at)
        if result.terminated:
            terminated[pilot.pilot_id] = f"{pilot.pilot_id} {pilot.title}: {reason}"
    for proposal in plan.stale_proposals:
        reason = (
            f"proposed {proposal.proposed_at:%Y-%m-%d} and never put to its proposal gate "
            f"within {get_runtime().policy.portfolio.proposal_days} days"
        )
        result = terminate_flow(pilot_id=proposal.pilot_id, reason=reason, actor="sweep", now=at)
        if result.terminated:
            terminated[proposal.pilot_id] = f"{proposal.pilot_id} {proposal.title}: {reason}"
    actions = []
    for due in plan.expired_gates:
        action = enforce_deadline(GateInput(gate_id=due.gate_id, now=at, actor="sweep"))
        actions.append(action.model_dump(mode="json"))
        if action.action == "expired":
            # The resolve-gate flow queued with the expiry terminates the pilot.
            terminated.setdefault(
                action.pilot_id, f"{action.pilot_id} {due.title}: {action.detail}"
            )
    requeued = requeue_stalled_gates(SweepInput(now=at))
    reminders = send_reminders(SweepInput(now=at))
    digest = post_digest(SweepInput(now=at), list(terminated.values()))
    delivered = deliver_messages()
    return {
        "dry_run": False,
        "deadline_actions": actions,
        "terminated": list(terminated.values()),
        "reminders": reminders.sent,
        "requeued_gates": requeued,
        "digest": digest,
        "delivered": delivered.sent,
        "plan": plan.model_dump(mode="json"),
    }
