"""The gate every stage flow ends in."""

from __future__ import annotations

from datetime import datetime

from lifecycle.stages import Stage
from tasks.gates import open_gate, request_signoffs
from tasks.inputs import GateOpened, OpenGateInput, RequestSignoffsInput


def stage_gate(pilot_id: str, stage: Stage, now: datetime | None, actor: str) -> GateOpened:
    opened = open_gate(OpenGateInput(pilot_id=pilot_id, stage=stage, actor=actor, now=now))
    request_signoffs(RequestSignoffsInput(gate_id=opened.gate_id))
    return opened
