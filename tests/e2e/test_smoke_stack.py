"""The stack fixture itself: a proposal gate approved through signed clicks."""

from __future__ import annotations

from typing import Any


def test_proposal_gate_approved_by_signed_clicks(stack: Any) -> None:
    pilot_id = stack.propose()
    stack.advance(pilot_id)
    stack.approve_gate(pilot_id)
    assert stack.stage(pilot_id) == "pilot"
