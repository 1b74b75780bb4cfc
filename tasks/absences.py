"""The sweep's side of out-of-office delegations: a leave recorded ahead of time takes effect.

`pilotgate delegate` re-asks the approver's open requests at once only when the period covers
now. A delegation recorded for next week starts while nobody is at a keyboard, so every sweep
hands the approver's still-open requests to the delegate once the period has begun
(`tasks.people.reask_for_started_delegations`: the same rules, the same closed buttons and
audit rows, actor `sweep`), in one transaction; running it again changes nothing.
"""

from __future__ import annotations

from prefect import task

from tasks.inputs import TaskModel
from tasks.logs import run_logger
from tasks.people import reask_for_started_delegations
from tasks.runtime import get_runtime
from tasks.sweep import SweepInput

ACTOR = "sweep"


class StartedHandOver(TaskModel):
    delegation_id: int
    request_id: int
    new_request_id: int
    pilot_id: str
    gate_id: int
    from_approver: str
    to: str


class StartedDelegations(TaskModel):
    handed: list[StartedHandOver] = []

    def report_rows(self) -> list[dict[str, object]]:
        return [
            {
                "action": "handed over",
                "pilot": h.pilot_id,
                "gate": h.gate_id,
                "detail": f"request {h.request_id} of {h.from_approver} re-asked of {h.to} "
                f"(request {h.new_request_id}, delegation {h.delegation_id})",
            }
            for h in self.handed
        ]


@task(name="start-delegations", persist_result=False)
def start_delegations(inp: SweepInput) -> StartedDelegations:
    """Re-ask, of their delegates, the open requests of approvers whose leave has begun."""
    rt = get_runtime()
    with rt.db.session() as session:
        done = reask_for_started_delegations(session, actor=ACTOR, now=inp.now)
        handed = [
            StartedHandOver(
                delegation_id=row.id,
                request_id=h.request_id,
                new_request_id=h.new_request_id,
                pilot_id=h.pilot_id,
                gate_id=h.gate_id,
                from_approver=h.from_approver,
                to=h.to,
            )
            for row, hand_overs, _ in done
            for h in hand_overs
        ]
    for h in handed:
        run_logger().info(
            "delegation %d has begun: request %d of %s re-asked of %s (request %d)",
            h.delegation_id,
            h.request_id,
            h.from_approver,
            h.to,
            h.new_request_id,
        )
    return StartedDelegations(handed=handed)
