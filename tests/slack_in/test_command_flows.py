"""`/pilotgate advance` and `terminate` end to end: the Slack command queues the very flow the
CLI runs, the dispatcher runs it on real Prefect, and the register records the Slack user as
the actor of every step; the App Home follows along."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from store import gates, pilots
from store.models import AuditEntry, FlowRequest, StageChange

PMO1, FIN = "U0PMO0001", "U0FIN0001"


def say(stack: Any, user: str, text: str) -> str:
    answer = stack.emulator.slash_command(stack.listener.url, user, "/pilotgate", text)
    assert answer.response.status_code == 200, answer.response.text
    return str(answer.text)


def test_a_programme_manager_runs_a_pilot_from_slack(stack: Any) -> None:
    emu, url = stack.emulator, stack.listener.url
    pilot_id = stack.propose()
    assert emu.open_home(url, PMO1).status_code == 200

    said = say(stack, PMO1, f"advance {pilot_id}")
    assert said.startswith(f"Running the proposal flow for *IT help-desk assistant* ({pilot_id})")
    stack.dispatcher.drain()  # runs the proposal flow, relays the asks and the Home
    with stack.db.session() as session:
        gate = gates.open_gate_for(session, pilot_id)
        assert gate is not None and (gate.stage, gate.target) == ("proposal", "pilot")
        opened = session.execute(
            select(AuditEntry).where(AuditEntry.action == "gate.opened")
        ).scalar_one()
        assert opened.actor == PMO1 and opened.pilot_id == pilot_id
        [request] = session.execute(select(FlowRequest)).scalars().all()
        assert (request.flow, request.status) == ("proposal", "done")
        asked = {r.approver for r in gates.requests_for(session, gate.id)}
    assert PMO1 in asked
    home = emu.home_for(PMO1)
    assert home is not None and len(home.versions) == 2  # opened, then the gate opened
    assert home.view["blocks"][1]["text"]["text"] == "*Waiting for you* (1)"
    assert "Gate proposal → pilot" in say(stack, FIN, f"status {pilot_id}")

    assert say(stack, PMO1, f"terminate {pilot_id}").startswith("Give the reason")
    view = emu.latest_view_for(PMO1)
    reason = "Budget moved to the <FY28> plan & beyond"
    done = emu.submit_view(url, PMO1, view.id, {"terminate_reason_input": reason})
    assert done.status_code == 200 and done.text == ""
    stack.dispatcher.drain()  # runs the terminate flow
    with stack.db.session() as session:
        pilot = pilots.get_pilot(session, pilot_id)
        assert pilot.stage == "terminated" and pilot.end_reason == reason
        change = session.execute(
            select(StageChange).where(StageChange.to_stage == "terminated")
        ).scalar_one()
        assert (change.actor, change.reason) == (PMO1, reason)
        actions = [
            (a.actor, a.action)
            for a in session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars()
            if a.actor == PMO1
        ]
        assert gates.open_gate_for(session, pilot_id) is None
    assert ("U0PMO0001", "slack.advance") in actions and ("U0PMO0001", "slack.terminate") in actions
    home = emu.home_for(PMO1)
    assert home is not None and home.view["blocks"][1]["text"]["text"] == "*Waiting for you* (0)"
    assert "already terminated" in say(stack, PMO1, f"terminate {pilot_id}")
