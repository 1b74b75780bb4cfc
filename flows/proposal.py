"""Proposal: programme office and finance decide whether the pilot may start, with its success
metrics and readiness criteria fixed now.
"""

from __future__ import annotations

from datetime import datetime

from prefect import flow

from config.names import STAGE_FLOWS
from flows.common import run_name, stage_gate
from lifecycle.stages import Stage
from tasks.inputs import GateOpened


@flow(
    name=STAGE_FLOWS[Stage.PROPOSAL],
    flow_run_name=run_name(STAGE_FLOWS[Stage.PROPOSAL]),
    persist_result=False,
)
def proposal_flow(
    pilot_id: str, now: datetime | None = None, actor: str = "pilotgate"
) -> GateOpened:
    """Open the gate that leaves the proposal stage and ask its approvers."""
    return stage_gate(pilot_id, Stage.PROPOSAL, now, actor)
