"""Staged internal rollout: internal users first; customers only after internal targets held."""

from __future__ import annotations

from datetime import datetime

from prefect import flow

from config.names import STAGE_FLOWS
from flows.common import run_name, stage_gate
from lifecycle.stages import Stage
from tasks.inputs import GateOpened


@flow(
    name=STAGE_FLOWS[Stage.INTERNAL_ROLLOUT],
    flow_run_name=run_name(STAGE_FLOWS[Stage.INTERNAL_ROLLOUT]),
    persist_result=False,
)
def internal_rollout_flow(
    pilot_id: str, now: datetime | None = None, actor: str = "pilotgate"
) -> GateOpened:
    """Open the gate that leaves the internal rollout stage and ask its approvers."""
    return stage_gate(pilot_id, Stage.INTERNAL_ROLLOUT, now, actor)
