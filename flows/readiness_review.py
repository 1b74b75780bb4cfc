"""Readiness review: measured evidence against the targets and the readiness criteria decide
whether internal users get it.
"""

from __future__ import annotations

from datetime import datetime

from prefect import flow

from config.names import STAGE_FLOWS
from flows.common import run_name, stage_gate
from lifecycle.stages import Stage
from tasks.inputs import GateOpened


@flow(
    name=STAGE_FLOWS[Stage.READINESS_REVIEW],
    flow_run_name=run_name(STAGE_FLOWS[Stage.READINESS_REVIEW]),
    persist_result=False,
)
def readiness_review_flow(
    pilot_id: str, now: datetime | None = None, actor: str = "pilotgate"
) -> GateOpened:
    """Open the gate that leaves the readiness review stage and ask its approvers."""
    return stage_gate(pilot_id, Stage.READINESS_REVIEW, now, actor)
