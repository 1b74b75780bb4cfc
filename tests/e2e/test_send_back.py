"""A gate whose policy says `send_back` returns the pilot a stage instead of terminating it."""

from __future__ import annotations

from typing import Any

from lifecycle.policy import Policy
from store import gates, pilots


def test_rejection_at_readiness_review_sends_the_pilot_back(stack: Any) -> None:
    data = stack.policy.model_dump(mode="json")
    data["gates"]["readiness_review"]["on_reject"] = "send_back"
    stack.runtime.__dict__["policy"] = Policy.model_validate(data)

    pilot_id = stack.propose("helpdesk-assistant")
    stack.advance(pilot_id)
    stack.approve_gate(pilot_id)
    stack.advance(pilot_id)
    stack.approve_gate(pilot_id)
    assert stack.stage(pilot_id) == "readiness_review"
    architect = next(r for r in stack.open_requests(pilot_id) if r.role == "architecture")
    response = stack.reject(architect, "Latency p95 is 4 s; fix caching and come back")
    assert response.status_code == 200
    stack.dispatcher.drain()

    assert stack.stage(pilot_id) == "pilot"
    with stack.db.session() as session:
        last = pilots.stage_history(session, pilot_id)[-1]
        assert (last.from_stage, last.to_stage) == ("readiness_review", "pilot")
        assert "Latency p95" in last.reason
        assert gates.open_gate_for(session, pilot_id) is None  # the pilot gate opens on advance
        assert pilots.active_count(session, "it-operations") == 1
    owner = stack.emulator.dm_channel_for("U0BIZ0001")
    assert any("sent back" in m.text for m in stack.emulator.messages_in(owner))
    # the pilot can try again
    stack.advance(pilot_id)
    stack.approve_gate(pilot_id)
    assert stack.stage(pilot_id) == "readiness_review"
