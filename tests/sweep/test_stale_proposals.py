"""Nothing lingers, proposals included: one never put to its gate is terminated by the sweep."""

from __future__ import annotations

from typing import Any

from flows.sweep import sweep_flow
from store import pilots


def test_a_proposal_never_advanced_is_terminated_after_proposal_days(stack: Any) -> None:
    forgotten = stack.propose("helpdesk-assistant")
    advanced = stack.propose("developer-productivity")
    stack.advance(advanced)  # its proposal gate is open: its own deadline governs it

    stack.clock.advance(days=29)
    plan = sweep_flow(now=stack.clock(), dry_run=True)["plan"]
    assert plan["stale_proposals"] == []

    stack.clock.advance(days=2)
    plan = sweep_flow(now=stack.clock(), dry_run=True)["plan"]
    assert [p["pilot_id"] for p in plan["stale_proposals"]] == [forgotten]
    assert stack.stage(forgotten) == "proposal"  # a dry run changes nothing

    result = sweep_flow(now=stack.clock())
    stack.dispatcher.drain()
    assert stack.stage(forgotten) == "terminated"
    with stack.db.session() as session:
        pilot = pilots.get_pilot(session, forgotten)
        assert "never put to its proposal gate within 30 days" in (pilot.end_reason or "")
        assert pilots.active_count(session, "it-operations") == 0
    assert any(forgotten in line for line in result["terminated"])
    # the advanced proposal was judged by its gate instead (14 days: expired -> terminated)
    assert "deadline passed" in (repo_reason(stack, advanced) or "")


def repo_reason(stack: Any, pilot_id: str) -> str | None:
    with stack.db.session() as session:
        return pilots.get_pilot(session, pilot_id).end_reason
