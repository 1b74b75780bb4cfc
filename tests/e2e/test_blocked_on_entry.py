"""A gate that opens on entry but is blocked by missing evidence does not fail silently."""

from __future__ import annotations

from typing import Any

from lifecycle.policy import Policy
from store import flow_queue, gates


def test_blocked_readiness_gate_tells_the_business_owner(stack: Any) -> None:
    data = stack.policy.model_dump(mode="json")
    data["evidence"]["missing_evidence"] = "block"
    stack.runtime.__dict__["policy"] = Policy.model_validate(data)

    pilot_id = stack.propose("helpdesk-assistant")
    stack.advance(pilot_id)
    stack.approve_gate(pilot_id)
    stack.advance(pilot_id)  # pilot gate; no metrics were ever recorded
    stack.approve_gate(pilot_id)

    assert stack.stage(pilot_id) == "readiness_review"
    with stack.db.session() as session:
        assert gates.open_gate_for(session, pilot_id) is None  # blocked, not opened
        failed = [fr for fr in flow_queue.flow_requests(session, pilot_id) if fr.status == "failed"]
        assert [fr.flow for fr in failed] == ["readiness-review"]
        assert "resolution_minutes" in (failed[0].error or "")
    owner = stack.emulator.dm_channel_for("U0BIZ0001")
    notices = [m for m in stack.emulator.messages_in(owner) if "could not run" in m.text]
    assert len(notices) == 1
    assert "resolution_minutes" in str(notices[0].blocks)
