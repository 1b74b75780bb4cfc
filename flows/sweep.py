"""The sweep: a pilot deploys or terminates; nothing lingers, even when nobody is watching.

Runs on a schedule (deployments/) and as `pilotgate sweep`. It enforces every deadline again from
the database, so a flow run that died cannot keep a pilot alive. One sweep runs at a time per
database (`sweep_lock`); a second one started meanwhile waits, then finds nothing left to do.

Its run is named `sweep` (`sweep (dry run)`); the terminate runs it starts carry their pilot's
tags; it publishes what it did as the table artifact `sweep-report` (`sweep-dry-run`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import flow, tags

from config.clock import utcnow
from config.names import SWEEP, TERMINATE
from flows.common import run_name
from flows.terminate import terminate_flow
from store.locks import sweep_lock
from tasks.artifacts import publish_gate_report, publish_sweep_report
from tasks.gates import deliver_messages, enforce_deadline
from tasks.inputs import GateInput, Terminated
from tasks.logs import run_logger
from tasks.run_tags import tags_for
from tasks.runtime import get_runtime
from tasks.sweep import (
    SweepInput,
    SweepPlan,
    find_due_work,
    post_digest,
    requeue_stalled_gates,
    send_reminders,
)

Row = dict[str, object]


@flow(name=SWEEP, flow_run_name=run_name(SWEEP), persist_result=False)
def sweep_flow(now: datetime | None = None, dry_run: bool = False) -> dict[str, Any]:
    at = now or utcnow()
    if dry_run:
        plan: SweepPlan = find_due_work(SweepInput(now=at))
        publish_sweep_report(_would(plan), now=at, dry_run=True)
        return {"dry_run": True, "plan": plan.model_dump(mode="json")}
    with sweep_lock(get_runtime().db) as held:
        if not held:
            skipped = "another sweep held the sweep lock throughout"
            run_logger().info("sweep skipped: %s", skipped)
            publish_sweep_report([{"action": "skipped", "detail": skipped}], now=at, dry_run=False)
            return {
                "dry_run": False,
                "skipped": skipped,
                "deadline_actions": [],
                "terminated": [],
                "reminders": 0,
                "digest": False,
                "delivered": 0,
                "plan": SweepPlan(now=at).model_dump(mode="json"),
            }
        return _sweep(at)


def _terminate(pilot_id: str, reason: str, at: datetime) -> Terminated:
    """A terminate subflow, tagged for its pilot like every other run of it."""
    with tags(*tags_for(TERMINATE, {"pilot_id": pilot_id})):
        return terminate_flow(pilot_id=pilot_id, reason=reason, actor="sweep", now=at)


def _sweep(at: datetime) -> dict[str, Any]:
    plan = find_due_work(SweepInput(now=at))
    rows: list[Row] = []
    # The deploy-or-terminate date first: a pilot past it is not escalated or extended.
    terminated: dict[str, str] = {}
    for pilot in plan.overdue_pilots:
        reason = (
            f"deploy-or-terminate date {pilot.deploy_by:%Y-%m-%d} passed while in "
            f"{pilot.stage.value.replace('_', ' ')}"
        )
        result = _terminate(pilot.pilot_id, reason, at)
        if result.terminated:
            terminated[pilot.pilot_id] = f"{pilot.pilot_id} {pilot.title}: {reason}"
            rows.append({"action": "terminated", "pilot": pilot.pilot_id, "detail": reason})
    for proposal in plan.stale_proposals:
        reason = (
            f"proposed {proposal.proposed_at:%Y-%m-%d} and never put to its proposal gate "
            f"within {get_runtime().policy.portfolio.proposal_days} days"
        )
        result = _terminate(proposal.pilot_id, reason, at)
        if result.terminated:
            terminated[proposal.pilot_id] = f"{proposal.pilot_id} {proposal.title}: {reason}"
            rows.append({"action": "terminated", "pilot": proposal.pilot_id, "detail": reason})
    actions = []
    for due in plan.expired_gates:
        action = enforce_deadline(GateInput(gate_id=due.gate_id, now=at, actor="sweep"))
        actions.append(action.model_dump(mode="json"))
        if action.action != "none":
            rows.append(
                {
                    "action": action.action,
                    "pilot": action.pilot_id,
                    "gate": action.gate_id,
                    "detail": action.detail
                    + (
                        f"; new deadline {action.new_deadline:%Y-%m-%d %H:%M} UTC"
                        if action.new_deadline
                        else ""
                    ),
                }
            )
        if action.action in ("extended", "escalated"):
            publish_gate_report(action.gate_id, action.action, now=at)
        if action.action == "expired":
            # The resolve-gate flow queued with the expiry terminates the pilot.
            terminated.setdefault(
                action.pilot_id, f"{action.pilot_id} {due.title}: {action.detail}"
            )
    requeued = requeue_stalled_gates(SweepInput(now=at))
    rows += [
        {"action": "requeued", "gate": g, "detail": "follow-up queued again"} for g in requeued
    ]
    reminders = send_reminders(SweepInput(now=at))
    rows += [
        {
            "action": "reminded",
            "pilot": r.pilot_id,
            "gate": r.gate_id,
            "detail": f"{', '.join(r.approvers)} ({round(r.point * 100)}% of the window)",
        }
        for r in reminders.rounds
    ]
    digest = post_digest(SweepInput(now=at), list(terminated.values()))
    if digest:
        rows.append({"action": "digest", "detail": "portfolio digest queued"})
    delivered = deliver_messages()
    run_logger().info(
        "sweep done: %d termination(s), %d deadline action(s), %d reminder(s), "
        "%d re-queued gate(s), digest %s, %d message(s) delivered",
        len(terminated),
        sum(1 for a in actions if a["action"] != "none"),
        reminders.sent,
        len(requeued),
        "queued" if digest else "not needed",
        delivered.sent,
    )
    publish_sweep_report(rows, now=at)
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


def _would(plan: SweepPlan) -> list[Row]:
    """A dry run's rows: what the sweep would do."""
    rows: list[Row] = []
    for p in plan.overdue_pilots:
        rows.append(
            {
                "action": "would terminate",
                "pilot": p.pilot_id,
                "detail": f"deploy-or-terminate date {p.deploy_by:%Y-%m-%d} passed",
            }
        )
    for s in plan.stale_proposals:
        rows.append(
            {
                "action": "would terminate",
                "pilot": s.pilot_id,
                "detail": f"proposed {s.proposed_at:%Y-%m-%d}, never put to its gate",
            }
        )
    for g in plan.expired_gates:
        rows.append(
            {
                "action": f"would {g.on_timeout}",
                "pilot": g.pilot_id,
                "gate": g.gate_id,
                "detail": f"deadline {g.deadline:%Y-%m-%d %H:%M} UTC passed",
            }
        )
    for r in plan.reminders:
        rows.append(
            {
                "action": "would remind",
                "pilot": r.pilot_id,
                "gate": r.gate_id,
                "detail": f"{', '.join(r.approvers) or 'nobody'} ({round(r.point * 100)}%)",
            }
        )
    return rows
