"""Pilot: the pilot runs against its deploy-or-terminate date; when it has run, a programme manager
advances it to readiness review.
"""

from __future__ import annotations

from datetime import datetime

from prefect import flow

from config.names import STAGE_FLOWS
from flows.common import run_name, stage_gate
from lifecycle.stages import Stage
from tasks.inputs import GateOpened


@flow(
    name=STAGE_FLOWS[Stage.PILOT],
    flow_run_name=run_name(STAGE_FLOWS[Stage.PILOT]),
    persist_result=False,
)
def pilot_flow(pilot_id: str, now: datetime | None = None, actor: str = "pilotgate") -> GateOpened:
    """Open the gate that leaves the pilot stage and ask its approvers."""
    return stage_gate(pilot_id, Stage.PILOT, now, actor)
