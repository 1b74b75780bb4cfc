"""Resolve gate: the continuation after the decision (or the deadline) that settled a gate.

Queued in the same transaction that settled the gate, so it runs even if the process that
recorded the last click died right after. It re-reads the gate from the database and acts once.
"""

from __future__ import annotations

from datetime import datetime

from prefect import flow

from config.names import RESOLVE_GATE
from lifecycle.statuses import GatePhase
from tasks.gates import apply_transition, collect_decisions, deliver_messages
from tasks.inputs import GateInput, TransitionApplied


@flow(name=RESOLVE_GATE, persist_result=False, retries=2, retry_delay_seconds=5)
def resolve_gate_flow(gate_id: int, now: datetime | None = None) -> TransitionApplied | None:
    reading = collect_decisions(GateInput(gate_id=gate_id, now=now))
    if reading.status == GatePhase.OPEN:
        return None
    applied = apply_transition(GateInput(gate_id=gate_id, now=now, actor="gate"))
    deliver_messages()
    return applied
