"""Terminate: record the reason, close open gates and their Slack buttons, tell the owner and
the approvers, free the pilot's place under the portfolio cap."""

from __future__ import annotations

from datetime import datetime

from prefect import flow

from config.names import TERMINATE
from flows.common import run_name, untagged_tasks
from tasks.artifacts import publish_gate_report
from tasks.gates import deliver_messages
from tasks.inputs import Terminated, TerminateInput
from tasks.terminate import terminate_pilot


@flow(
    name=TERMINATE,
    flow_run_name=run_name(TERMINATE),
    persist_result=False,
    retries=2,
    retry_delay_seconds=5,
)
def terminate_flow(
    pilot_id: str, reason: str, actor: str = "pilotgate", now: datetime | None = None
) -> Terminated:
    with untagged_tasks():
        result = terminate_pilot(
            TerminateInput(pilot_id=pilot_id, reason=reason, actor=actor, now=now)
        )
        if result.terminated:
            deliver_messages()
            for gate_id in result.closed_gate_ids:
                publish_gate_report(gate_id, "cancelled", now=now)
    return result
