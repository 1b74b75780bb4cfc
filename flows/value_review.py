"""Value review: a pilot in production meets its approvers again, with what it delivered.

Queued by the sweep when the review is due (`lifecycle.value_review.review_due`) and by
`pilotgate review PILOT`; the gate is an ordinary gate at production (the same asks,
reminders, deadline and quorum rules), whose answers are Sustain, Adjust and Retire. A flow
only sequences tasks: the same stage gate every stage flow opens.
"""

from __future__ import annotations

from datetime import datetime

from prefect import flow

from config.names import VALUE_REVIEW
from flows.common import run_name, stage_gate
from lifecycle.stages import Stage
from tasks.inputs import GateOpened


@flow(name=VALUE_REVIEW, flow_run_name=run_name(VALUE_REVIEW), persist_result=False)
def value_review_flow(
    pilot_id: str, now: datetime | None = None, actor: str = "pilotgate"
) -> GateOpened:
    """Open the pilot's value review and ask its approvers."""
    return stage_gate(pilot_id, Stage.PRODUCTION, now, actor)
