"""Resolve gate: the continuation after the decision (or the deadline) that settled a gate.

Queued in the same transaction that settled the gate, so it runs even if the process that
recorded the last click died right after. It re-reads the gate from the database and acts once.
Its run is named `resolve-gate · pg-1a2b3c4d gate 12` (the pilot looked up from the gate).
"""

from __future__ import annotations

from datetime import datetime

from prefect import flow

from config.names import RESOLVE_GATE
from flows.common import run_name, untagged_tasks
from lifecycle.stages import stage_label
from lifecycle.statuses import GatePhase
from tasks.artifacts import publish_gate_report
from tasks.gates import apply_transition, collect_decisions, deliver_messages
from tasks.inputs import GateInput, TransitionApplied
from tasks.logs import run_logger


def _what_happened(applied: TransitionApplied) -> str:
    where = stage_label(applied.stage) if applied.stage else ""
    return {
        "advanced": f"pilot moved to {where}",
        "sent_back": f"pilot sent back to {where}",
        "terminate": "pilot terminated (terminate flow queued)",
        "sustained": "value review: pilot sustained",
        "adjusted": "value review: pilot to be adjusted",
        "unanswered": "value review unanswered: pilot sustained, asked again",
        "retired": "value review: pilot retired",
    }.get(applied.outcome, "")


@flow(
    name=RESOLVE_GATE,
    flow_run_name=run_name(RESOLVE_GATE),
    persist_result=False,
    retries=2,
    retry_delay_seconds=5,
)
def resolve_gate_flow(gate_id: int, now: datetime | None = None) -> TransitionApplied | None:
    with untagged_tasks():
        reading = collect_decisions(GateInput(gate_id=gate_id, now=now))
        if reading.status == GatePhase.OPEN:
            run_logger().info("gate %d is still open; nothing to resolve", gate_id)
            return None
        applied = apply_transition(GateInput(gate_id=gate_id, now=now, actor="gate"))
        deliver_messages()
        if applied.claimed:
            publish_gate_report(gate_id, "settled", outcome=_what_happened(applied), now=now)
    return applied
