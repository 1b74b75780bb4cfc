"""The whole lifecycle under real Prefect, the real bolt listener over HTTP and the emulator.

Every sign-off here is a signed Slack interaction payload sent to the listener; the only
thing simulated is the calendar.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import func, select

from store import audit, flow_queue, pilots
from store import gates as gates_store
from store.models import Decision, FlowRequest, StageChange


def _history(stack: Any, pilot_id: str) -> list[tuple[str | None, str, str]]:
    with stack.db.session() as session:
        return [
            (h.from_stage, h.to_stage, h.actor) for h in pilots.stage_history(session, pilot_id)
        ]


def _buttons(message: Any) -> list[str]:
    blocks = message.versions[-1].blocks if message.versions else message.blocks
    return [
        e["action_id"]
        for b in blocks or []
        if b.get("type") == "actions"
        for e in b.get("elements", [])
    ]


def test_proposal_to_production_through_signed_clicks(stack: Any) -> None:
    pilot_id = stack.propose("helpdesk-assistant")
    opened = stack.advance(pilot_id)
    assert {a.role for a in opened.asked} == {"programme_office", "finance"}
    # separation of duties: neither the proposer nor the business owner is asked
    assert not {a.approver for a in opened.asked} & {"U0PRO0001", "U0BIZ0001"}

    stack.approve_gate(pilot_id)
    assert stack.stage(pilot_id) == "pilot"
    with stack.db.session() as session:
        pilot = pilots.get_pilot(session, pilot_id)
        assert pilot.deploy_by is not None and pilot.pilot_started_at is not None
        assert (pilot.deploy_by - pilot.pilot_started_at).days == 182

    stack.advance(pilot_id)  # the pilot gate opens on `advance`
    stack.approve_gate(pilot_id)
    assert stack.stage(pilot_id) == "readiness_review"
    # readiness_review's gate opened on entry, through the queued flow
    assert stack.open_requests(pilot_id)
    stack.approve_gate(pilot_id)
    assert stack.stage(pilot_id) == "internal_rollout"
    stack.advance(pilot_id)
    stack.approve_gate(pilot_id)
    assert stack.stage(pilot_id) == "customer_rollout"
    stack.advance(pilot_id)
    stack.approve_gate(pilot_id)
    assert stack.stage(pilot_id) == "production"

    assert [(f, t) for f, t, _ in _history(stack, pilot_id)] == [
        (None, "proposal"),
        ("proposal", "pilot"),
        ("pilot", "readiness_review"),
        ("readiness_review", "internal_rollout"),
        ("internal_rollout", "customer_rollout"),
        ("customer_rollout", "production"),
    ]
    with stack.db.session() as session:
        assert audit.verify(session).ok
        gates = gates_store.gates_for(session, pilot_id)
        assert [g.status for g in gates] == ["approved"] * 5
        # every decision came through Slack
        sources = set(session.execute(select(Decision.source)).scalars())
        assert sources == {"slack"}
        flows = [fr.flow for fr in flow_queue.flow_requests(session, pilot_id)]
        assert flows.count("resolve-gate") == 5 and flows.count("readiness-review") == 1
        assert all(fr.status == "done" for fr in flow_queue.flow_requests(session, pilot_id))
    # every answered request message was updated to show who decided; none keeps buttons
    for message in stack.emulator.messages:
        if message.channel.startswith("D") and message.text.startswith("Sign-off requested"):
            pass  # original text; the latest version is what people see
    with stack.db.session() as session:
        requests = [
            r
            for g in gates_store.gates_for(session, pilot_id)
            for r in gates_store.requests_for(session, g.id)
        ]
    for request in requests:
        message = stack.emulator.find_message(request.channel, request.message_ts)
        assert _buttons(message) == [], f"request {request.id} still has buttons"


def test_rejection_terminates_with_the_reason_on_record(stack: Any) -> None:
    pilot_id = stack.propose("clinical-documentation")
    stack.advance(pilot_id)
    stack.approve_gate(pilot_id)
    stack.advance(pilot_id)
    stack.approve_gate(pilot_id)
    assert stack.stage(pilot_id) == "readiness_review"
    requests = stack.open_requests(pilot_id)
    # high risk: security and compliance, plus the clinical-workflow review it asked for
    assert {"security", "compliance", "clinical_workflow"} <= {r.role for r in requests}
    security = next(r for r in requests if r.role == "security")
    response = stack.reject(security, "PHI is logged outside the EHR; fails security review")
    assert response.status_code == 200
    stack.dispatcher.drain()

    assert stack.stage(pilot_id) == "terminated"
    with stack.db.session() as session:
        pilot = pilots.get_pilot(session, pilot_id)
        assert "PHI is logged outside the EHR" in (pilot.end_reason or "")
        decision = session.execute(
            select(Decision).where(Decision.verdict == "reject")
        ).scalar_one()
        assert decision.approver == "U0SEC0001" and "PHI" in (decision.reason or "")
        assert pilots.active_count(session, "clinical") == 0
    # the business owner was told why
    owner_dm = stack.emulator.dm_channel_for("U0BIZ0003")
    assert any("terminated" in m.text for m in stack.emulator.messages_in(owner_dm))
    # nobody can still click on the closed gate's requests
    for request in requests:
        with stack.db.session() as session:
            fresh = gates_store.get_request(session, request.id)
        assert _buttons(stack.emulator.find_message(fresh.channel, fresh.message_ts)) == []


def test_gate_past_deadline_applies_on_timeout_terminate(stack: Any) -> None:
    pilot_id = stack.propose("helpdesk-assistant")
    stack.advance(pilot_id)
    requests = stack.open_requests(pilot_id)
    first = next(r for r in requests if r.role == "programme_office")
    late = next(r for r in requests if r.role == "finance")
    assert stack.click(first).status_code == 200  # one of two roles answers
    stack.clock.advance(days=15)  # the proposal gate's 14 days pass
    assert stack.click(late).status_code == 200  # too late: refused, not counted
    stack.dispatcher.drain()  # sees the expired gate, runs the sweep, terminates

    assert stack.stage(pilot_id) == "terminated"
    with stack.db.session() as session:
        gate = gates_store.gates_for(session, pilot_id)[0]
        assert gate.status == "expired"
        assert (
            session.execute(
                select(func.count()).select_from(Decision).where(Decision.gate_id == gate.id)
            ).scalar_one()
            == 1
        )
        pilot = pilots.get_pilot(session, pilot_id)
        assert "deadline" in (pilot.end_reason or "")
    assert any("deadline" in e.text for e in stack.emulator.ephemerals_for(late.approver))


def test_two_final_approvals_at_once_make_one_transition(stack: Any) -> None:
    pilot_id = stack.propose("helpdesk-assistant")
    stack.advance(pilot_id)
    stack.approve_gate(pilot_id)
    stack.advance(pilot_id)  # pilot gate: programme_office 1 of 2 members
    requests = stack.open_requests(pilot_id)
    assert len(requests) == 2
    barrier = threading.Barrier(2)
    codes: list[int] = []

    def click(request: Any) -> None:
        barrier.wait()
        codes.append(stack.click(request).status_code)

    threads = [threading.Thread(target=click, args=(r,)) for r in requests]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [200, 200]
    stack.dispatcher.drain()

    assert stack.stage(pilot_id) == "readiness_review"
    with stack.db.session() as session:
        moves = session.execute(
            select(func.count())
            .select_from(StageChange)
            .where(StageChange.pilot_id == pilot_id, StageChange.to_stage == "readiness_review")
        ).scalar_one()
        assert moves == 1
        next_flows = session.execute(
            select(func.count())
            .select_from(FlowRequest)
            .where(FlowRequest.pilot_id == pilot_id, FlowRequest.flow == "readiness-review")
        ).scalar_one()
        assert next_flows == 1
        assert (
            len(
                [
                    g
                    for g in gates_store.gates_for(session, pilot_id)
                    if g.stage == "readiness_review"
                ]
            )
            == 1
        )
