"""Customer-facing rollout: operations owner, plus security and compliance for high-risk or
customer-facing pilots, sign the hand-over to production.
"""

from __future__ import annotations

from datetime import datetime

from prefect import flow

from config.names import STAGE_FLOWS
from flows.common import run_name, stage_gate
from lifecycle.stages import Stage
from tasks.inputs import GateOpened


@flow(
    name=STAGE_FLOWS[Stage.CUSTOMER_ROLLOUT],
    flow_run_name=run_name(STAGE_FLOWS[Stage.CUSTOMER_ROLLOUT]),
    persist_result=False,
)
def customer_rollout_flow(
    pilot_id: str, now: datetime | None = None, actor: str = "pilotgate"
) -> GateOpened:
    """Open the gate that leaves the customer rollout stage and ask its approvers."""
    return stage_gate(pilot_id, Stage.CUSTOMER_ROLLOUT, now, actor)
