"""The sweep: a pilot deploys or terminates; nothing lingers, even when nobody is watching.

Runs on a schedule (deployments/) and as `pilotgate sweep`. It enforces every deadline again from
the database, so a flow run that died cannot keep a pilot alive. One sweep runs at a time per
database (`sweep_lock`); a second one started meanwhile waits, then finds nothing left to do.

Its cost follows the due items, at a few statements each rather than a flow run each: the due
queries page through any backlog (no cap), and the work runs as batch tasks inside this one run
(`terminate-due-pilots`, `enforce-deadlines`: one task run and one progress line per batch, one
transaction per item). An expired gate is followed up (resolve-gate's step, then the
termination) in the expiry's own transaction, its flow requests marked done by this run.

Its run is named `sweep` (`sweep (dry run)`); it publishes what it did as the table artifact
`sweep-report` (`sweep-dry-run`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import flow

from config.clock import utcnow
from config.names import SWEEP
from flows.common import run_name, untagged_tasks
from lifecycle.stages import LIVE, Stage
from store.locks import sweep_lock
from tasks.absences import start_delegations
from tasks.artifacts import publish_gate_report, publish_sweep_report
from tasks.gates import deliver_messages
from tasks.inputs import ValueReviewsInput, WarningsInput
from tasks.logs import run_logger
from tasks.runtime import get_runtime
from tasks.sweep import (
    DeadlineBatch,
    DueTermination,
    SweepInput,
    SweepPlan,
    TerminationBatch,
    batches,
    enforce_deadlines,
    find_due_work,
    post_digest,
    requeue_stalled_gates,
    send_reminders,
    terminate_due_pilots,
)
from tasks.value_review import open_value_reviews
from tasks.warnings import warn_owners

Row = dict[str, object]


@flow(name=SWEEP, flow_run_name=run_name(SWEEP), persist_result=False)
def sweep_flow(now: datetime | None = None, dry_run: bool = False) -> dict[str, Any]:
    at = now or utcnow()
    with untagged_tasks():  # see flows.common.untagged_tasks
        return _run(at, dry_run)


def _run(at: datetime, dry_run: bool) -> dict[str, Any]:
    if dry_run:
        plan: SweepPlan = find_due_work(SweepInput(now=at))
        would_warn = warn_owners(WarningsInput(now=at, dry_run=True))
        would_review = open_value_reviews(ValueReviewsInput(now=at, dry_run=True))
        publish_sweep_report(
            _would(plan) + would_warn.report_rows(True) + would_review.report_rows(True),
            now=at,
            dry_run=True,
        )
        return {
            "dry_run": True,
            "plan": plan.model_dump(mode="json"),
            "warnings": would_warn.model_dump(mode="json")["warned"],
            "value_reviews": would_review.model_dump(mode="json")["reviews"],
        }
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


#: A settled gate's outcome as its report says it (flows/resolve_gate.py's words).
_SETTLED = {
    "terminate": "pilot terminated",
    "sent_back": "pilot sent back",
    "advanced": "pilot moved on",
}


#: Gate reports (the `gate-<pilot id>` artifacts) one sweep publishes. Each is an API call
#: (~35 ms here; 700 of them doubled a 1,000-item sweep), so a sweep that changes more gates
#: publishes the first ones and says how many it left out; its `sweep-report` table lists every
#: gate it changed either way, and the register has the full record.
GATE_REPORTS_PER_SWEEP = 50


class _GateReports:
    def __init__(self, at: datetime) -> None:
        self.at = at
        self.published = 0
        self.left_out = 0

    def publish(self, gate_id: int, event: str, outcome: str = "") -> None:
        if self.published >= GATE_REPORTS_PER_SWEEP:
            self.left_out += 1
            return
        self.published += 1
        publish_gate_report(gate_id, event, outcome=outcome, now=self.at)

    def summarise(self) -> None:
        if self.left_out:
            run_logger().info(
                "gate reports: published %d, left out %d more (limit %d per sweep); the sweep "
                "report lists every gate it changed",
                self.published,
                self.left_out,
                GATE_REPORTS_PER_SWEEP,
            )


def _progress(what: str, done: int, total: int) -> None:
    run_logger().info("%s: %d of %d done", what, done, total)


def _sweep(at: datetime) -> dict[str, Any]:
    plan = find_due_work(SweepInput(now=at))
    rows: list[Row] = []
    # The deploy-or-terminate date first: a pilot past it is not escalated or extended.
    # Terminations run in batches inside this run (one task run per batch, one transaction
    # per pilot), not as a flow run each: the terminate flow stays for single terminations.
    due = [
        DueTermination(
            pilot_id=p.pilot_id,
            title=p.title,
            reason=(
                f"deploy-or-terminate date {p.deploy_by:%Y-%m-%d} passed while in "
                f"{p.stage.value.replace('_', ' ')}"
            ),
        )
        for p in plan.overdue_pilots
    ] + [
        DueTermination(
            pilot_id=s.pilot_id,
            title=s.title,
            reason=(
                f"proposed {s.proposed_at:%Y-%m-%d} and never put to its proposal gate "
                f"within {get_runtime().policy.portfolio.proposal_days} days"
            ),
        )
        for s in plan.stale_proposals
    ]
    terminated: dict[str, str] = {}
    reports = _GateReports(at)
    titles = {d.pilot_id: d.title for d in due}
    failed = 0
    done = 0
    for batch in batches(due):
        results = terminate_due_pilots(TerminationBatch(now=at, due=batch))
        failed += len(batch) - len(results)
        for result in results:
            for gate_id in result.closed_gate_ids:  # as the terminate flow publishes them
                reports.publish(gate_id, "cancelled")
            if result.terminated:
                terminated[result.pilot_id] = (
                    f"{result.pilot_id} {titles[result.pilot_id]}: {result.reason}"
                )
                rows.append(
                    {
                        "action": "terminated",
                        "pilot": result.pilot_id,
                        "gate": ", ".join(str(g) for g in result.closed_gate_ids),
                        "detail": result.reason,
                    }
                )
        done += len(batch)
        _progress("terminations", done, len(due))
    actions = []
    gate_titles = {g.gate_id: g.title for g in plan.expired_gates}
    #: an expired value review (a gate of a live stage) ends nobody (tasks.review_outcome),
    #: whether its follow-up ran here or in the process that holds it.
    reviews_gates = {g.gate_id for g in plan.expired_gates if Stage(g.stage) in LIVE}
    done = 0
    for gate_ids in batches([g.gate_id for g in plan.expired_gates]):
        outcomes = enforce_deadlines(DeadlineBatch(now=at, gate_ids=gate_ids))
        failed += len(gate_ids) - len(outcomes)
        for outcome in outcomes:
            action = outcome.action
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
                reports.publish(action.gate_id, action.action)
            if action.action == "expired" and outcome.outcome:
                # What the resolve-gate run it stands in for would have published.
                reports.publish(action.gate_id, "settled", _SETTLED.get(outcome.outcome, ""))
            if action.action == "expired" and action.gate_id not in reviews_gates:
                # Followed up in the expiry's transaction (or by the resolve-gate flow it queued).
                terminated.setdefault(
                    action.pilot_id,
                    f"{action.pilot_id} {gate_titles[action.gate_id]}: {action.detail}",
                )
        done += len(gate_ids)
        _progress("gates past their deadline", done, len(plan.expired_gates))
    requeued = requeue_stalled_gates(SweepInput(now=at))
    rows += [
        {"action": "requeued", "gate": g, "detail": "follow-up queued again"} for g in requeued
    ]
    rows += start_delegations(SweepInput(now=at)).report_rows()
    reviews = open_value_reviews(ValueReviewsInput(now=at))
    rows += reviews.report_rows()
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
    warned = warn_owners(WarningsInput(now=at))
    rows += warned.report_rows()
    digest = post_digest(SweepInput(now=at), list(terminated.values()))
    if digest:
        rows.append({"action": "digest", "detail": "portfolio digest queued"})
    delivered = deliver_messages()
    reports.summarise()
    if failed:
        rows.append({"action": "failed", "detail": f"{failed} item(s); the next sweep retries"})
    run_logger().info(
        "sweep done: %d termination(s), %d deadline action(s), %d reminder(s), "
        "%d re-queued gate(s), %d failed item(s), digest %s, %d message(s) delivered",
        len(terminated),
        sum(1 for a in actions if a["action"] != "none"),
        reminders.sent,
        len(requeued),
        failed,
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
        "failed": failed,
        "plan": plan.model_dump(mode="json"),
        "warnings": warned.model_dump(mode="json")["warned"],
        "value_reviews": reviews.model_dump(mode="json")["reviews"],
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
