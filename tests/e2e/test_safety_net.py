"""The sweep's safety net: a settled gate whose follow-up run failed is acted on later, once."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from flows.sweep import sweep_flow
from store import pilots
from store.models import FlowRequest


def test_settled_gate_with_a_failed_follow_up_is_resolved_by_the_sweep(stack: Any) -> None:
    pilot_id = stack.propose("helpdesk-assistant")
    stack.advance(pilot_id)
    requests = stack.open_requests(pilot_id)
    for role in ("programme_office", "finance"):
        request = next(r for r in requests if r.role == role)
        assert stack.click(request).status_code == 200
    # The follow-up run is lost (say its worker died and the orchestrator forgot it).
    with stack.db.session() as session:
        session.execute(
            update(FlowRequest).where(FlowRequest.flow == "resolve-gate").values(status="failed")
        )
    stack.dispatcher.drain()
    assert stack.stage(pilot_id) == "proposal"

    stack.clock.advance(seconds=5 * 60)  # within the grace period: nothing yet
    assert sweep_flow(now=stack.clock())["requeued_gates"] == []
    stack.clock.advance(seconds=6 * 60)
    result = sweep_flow(now=stack.clock())
    assert len(result["requeued_gates"]) == 1
    assert sweep_flow(now=stack.clock())["requeued_gates"] == []  # already in flight
    stack.dispatcher.drain()
    assert stack.stage(pilot_id) == "pilot"
    assert sweep_flow(now=stack.clock())["requeued_gates"] == []  # claimed: nothing left
    with stack.db.session() as session:
        assert [h.to_stage for h in pilots.stage_history(session, pilot_id)] == [
            "proposal",
            "pilot",
        ]
