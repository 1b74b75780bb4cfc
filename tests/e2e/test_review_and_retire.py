"""The value review of a pilot in production, end to end: the sweep opens it when the policy
says it is due, approvers answer with signed clicks on the real listener (Sustain, Adjust with
a note, Retire with a reason), and each answer has its recorded consequence. SQLite and
PostgreSQL (the `stack` runs on both). Only the calendar is simulated.

The example policy: review 90 days after go-live, then every 180 days (60 after an adjust);
finance 1 and operations 1; 14 days to answer, then escalate to the cio for 7 days.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from flows.sweep import sweep_flow
from lifecycle.stages import FORWARD, Stage
from pilotgate.dispatcher import sweep_work
from store import audit, metrics, pilots
from store import gates as gates_store
from store.models import AuditEntry, Decision, Gate, StageChange

FINANCE, OPERATIONS, CIO, OWNER = "U0FIN0001", "U0OPS0001", "U0CIO0001", "U0BIZ0001"


def _buttons(stack: Any, request: Any) -> list[str]:
    with stack.db.session() as session:
        fresh = gates_store.get_request(session, request.id)
    message = stack.emulator.find_message(fresh.channel, fresh.message_ts)
    blocks = message.versions[-1].blocks if message.versions else message.blocks
    return [
        e["action_id"]
        for b in blocks or []
        if b.get("type") == "actions"
        for e in b.get("elements", [])
    ]


def _to_production(stack: Any) -> tuple[str, datetime]:
    """A helpdesk pilot taken along the forward path to production (the stage flows are
    tested in test_lifecycle.py), with its resolution times measured in production."""
    pilot_id = stack.propose("helpdesk-assistant")
    now = stack.clock()
    with stack.db.session() as session:
        stage = Stage.PROPOSAL
        while stage in FORWARD:
            assert pilots.move_stage(
                session,
                pilot_id,
                expected=stage,
                target=FORWARD[stage],
                actor="test",
                reason="gate approved: test",
                now=now,
                policy=stack.policy,
            )
            stage = FORWARD[stage]
        # Time-travelling clock: observations are dated at the review, not now.
        for i, value in enumerate([1.4, 1.2, 1.1]):
            metrics.record_metric(
                session,
                pilot_id,
                metric="resolution_minutes",
                value=value,
                unit="minutes",
                observed_at=now + timedelta(days=85 + i),
                source="test",
                now=now,
                actor="test",
            )
    return pilot_id, now


def _sweep(stack: Any) -> dict[str, Any]:
    result = sweep_flow(now=stack.clock())
    stack.dispatcher.drain()
    return result


def _review_gate(stack: Any, pilot_id: str) -> Gate:
    with stack.db.session() as session:
        gate = gates_store.open_gate_for(session, pilot_id)
        assert gate is not None, f"{pilot_id} has no open review"
        session.expunge(gate)
        return gate


def _note(stack: Any, request: Any, action: str, text: str) -> None:
    assert stack.click(request, action).status_code == 200
    view = stack.emulator.latest_view_for(request.approver)
    assert view is not None and view.view["callback_id"] == "pilotgate_review_note"
    response = stack.emulator.submit_view(
        stack.listener.url, request.approver, view.id, {"reason_input": text}
    )
    assert response.status_code == 200, response.text
    stack.dispatcher.drain()


def _audit(stack: Any, pilot_id: str, action: str) -> list[AuditEntry]:
    with stack.db.session() as session:
        rows = (
            session.execute(
                select(AuditEntry)
                .where(AuditEntry.pilot_id == pilot_id, AuditEntry.action == action)
                .order_by(AuditEntry.id)
            )
            .scalars()
            .all()
        )
        for row in rows:
            session.expunge(row)
        return list(rows)


def _owner_dm(stack: Any) -> list[str]:
    return [m.text for m in stack.emulator.messages_in(stack.emulator.dm_channel_for(OWNER))]


def test_sustain_adjust_then_retire_through_signed_clicks(stack: Any) -> None:
    pilot_id, live = _to_production(stack)
    with stack.db.session() as session:
        assert pilots.active_count(session, "it-operations") == 0  # no cap place in production

    stack.clock.advance(days=89)
    with stack.db.session() as session:  # serve's idle check agrees: no review is due
        assert sweep_work(session, stack.clock(), stack.runtime.policy) != "a value review due"
    result = _sweep(stack)
    assert result["value_reviews"] == []  # not due yet
    with stack.db.session() as session:
        assert gates_store.open_gate_for(session, pilot_id) is None

    # ---- 90 days after go-live the sweep opens the review, with the realised evidence
    stack.clock.advance(days=1, seconds=60)
    with stack.db.session() as session:  # ...and now one is, so serve would sweep for it
        assert sweep_work(session, stack.clock(), stack.runtime.policy) == "a value review due"
    result = _sweep(stack)
    assert [r["pilot_id"] for r in result["value_reviews"]] == [pilot_id]
    first = _review_gate(stack, pilot_id)
    assert (first.stage, first.target, first.status) == ("production", "production", "open")
    assert first.quorum == {"finance": 1, "operations": 1}
    assert first.escalation_role == "cio"
    assert first.deadline - first.opened_at == timedelta(days=14)
    assert first.evidence is not None and first.evidence["kind"] == "value_review"
    resolution = next(m for m in first.evidence["metrics"] if m["name"] == "resolution_minutes")
    assert (resolution["baseline"], resolution["target"], resolution["current"]) == (11, 1, 1.2)
    assert resolution["status"] == "not_met"
    requests = stack.open_requests(pilot_id)
    assert sorted((r.approver, r.role) for r in requests) == [
        (FINANCE, "finance"),
        (OPERATIONS, "operations"),
    ]
    for request in requests:
        assert _buttons(stack, request) == [
            "pilotgate_approve",
            "pilotgate_adjust",
            "pilotgate_retire",
        ]
    # A second sweep opens nothing more: the review is open.
    assert _sweep(stack)["value_reviews"] == []

    # The business owner may not answer their own pilot's review (separation of duties).
    assert stack.click(requests[0], "pilotgate_adjust", user=OWNER).status_code == 200
    stack.dispatcher.drain()
    assert stack.emulator.latest_view_for(OWNER) is None

    # ---- Sustain: both approve
    for request in requests:
        assert stack.click(request).status_code == 200
    stack.dispatcher.drain()
    assert stack.stage(pilot_id) == "production"
    with stack.db.session() as session:
        gate = gates_store.get_gate(session, first.id)
        assert gate.status == "approved" and gate.resolved_at is not None
        sustained_at = gate.resolved_at
    [settled] = _audit(stack, pilot_id, "value_review.settled")
    assert settled.actor == "gate"
    assert settled.data == {
        "gate_id": first.id,
        "outcome": "sustained",
        "notes": [],
        "next_due": (sustained_at + timedelta(days=180)).isoformat(),
    }
    assert any("was sustained at its value review" in t for t in _owner_dm(stack))
    for request in requests:
        assert _buttons(stack, request) == []

    # ---- 180 days later: the next review; finance adjusts (with a note), operations sustains
    stack.clock.advance(days=179)
    assert _sweep(stack)["value_reviews"] == []
    stack.clock.advance(days=1, seconds=60)
    assert [r["pilot_id"] for r in _sweep(stack)["value_reviews"]] == [pilot_id]
    second = _review_gate(stack, pilot_id)
    requests = {r.approver: r for r in stack.open_requests(pilot_id)}
    _note(
        stack, requests[FINANCE], "pilotgate_adjust", "Route password resets to self-service first"
    )
    assert stack.click(requests[OPERATIONS]).status_code == 200
    stack.dispatcher.drain()
    assert stack.stage(pilot_id) == "production"
    with stack.db.session() as session:
        gate = gates_store.get_gate(session, second.id)
        assert gate.status == "approved"
        adjusted_at = gate.resolved_at
        assert adjusted_at is not None
        answers = sorted(
            (d.approver, d.verdict, d.reason)
            for d in session.execute(
                select(Decision).where(Decision.gate_id == second.id)
            ).scalars()
        )
    assert answers == [
        (FINANCE, "adjust", "Route password resets to self-service first"),
        (OPERATIONS, "approve", None),
    ]
    settled = _audit(stack, pilot_id, "value_review.settled")[-1]
    assert settled.data == {
        "gate_id": second.id,
        "outcome": "adjusted",
        "notes": [f"{FINANCE}: Route password resets to self-service first"],
        "next_due": (adjusted_at + timedelta(days=60)).isoformat(),
    }
    assert any(
        "is to be adjusted" in t and "self-service" not in t for t in _owner_dm(stack)
    )  # the headline; the note is in the message's detail block

    # ---- 60 days later (sooner, after the adjust): finance retires it
    stack.clock.advance(days=60, seconds=60)
    assert [r["pilot_id"] for r in _sweep(stack)["value_reviews"]] == [pilot_id]
    third = _review_gate(stack, pilot_id)
    requests = {r.approver: r for r in stack.open_requests(pilot_id)}
    _note(stack, requests[FINANCE], "pilotgate_retire", "Ticket volume moved to the new portal")
    assert stack.stage(pilot_id) == "retired"
    with stack.db.session() as session:
        pilot = pilots.get_pilot(session, pilot_id)
        assert pilot.end_reason is not None
        assert pilot.end_reason.startswith("retired at value review: ")
        assert "Ticket volume moved to the new portal" in pilot.end_reason
        gate = gates_store.get_gate(session, third.id)
        assert gate.status == "rejected" and gate.continued_at is not None
        last_move = (
            session.execute(
                select(StageChange)
                .where(StageChange.pilot_id == pilot_id)
                .order_by(StageChange.id.desc())
            )
            .scalars()
            .first()
        )
        assert last_move is not None
        assert (last_move.from_stage, last_move.to_stage, last_move.actor) == (
            "production",
            "retired",
            "gate",
        )
        [decision] = (
            session.execute(select(Decision).where(Decision.gate_id == third.id)).scalars().all()
        )
        assert (decision.approver, decision.verdict) == (FINANCE, "reject")
        assert audit.verify(session).ok
    [moved] = [
        e for e in _audit(stack, pilot_id, "pilot.stage_changed") if e.data["to"] == "retired"
    ]
    assert moved.data["from"] == "production" and moved.actor == "gate"
    assert any("was retired." in t for t in _owner_dm(stack))
    # operations' unanswered ask lost its buttons; nothing more is ever due
    assert _buttons(stack, requests[OPERATIONS]) == []
    stack.clock.advance(days=400)
    assert _sweep(stack)["value_reviews"] == []


def test_an_unanswered_review_escalates_then_sustains_and_is_asked_again(stack: Any) -> None:
    pilot_id, _ = _to_production(stack)
    stack.clock.advance(days=90, seconds=60)
    _sweep(stack)
    first = _review_gate(stack, pilot_id)
    stack.clock.advance(days=14, seconds=60)  # its 14 days pass: escalated to the cio
    result = _sweep(stack)
    assert [a["action"] for a in result["deadline_actions"]] == ["escalated"]
    stack.clock.advance(days=7, seconds=60)  # the cio's 7 days pass too: it expires
    # the dry run says so: an unanswered review sustains the pilot, it does not end it
    plan = sweep_flow(now=stack.clock(), dry_run=True)["plan"]
    assert [(g["pilot_id"], g["on_timeout"]) for g in plan["expired_gates"]] == [
        (pilot_id, "sustain unanswered, review asked again")
    ]
    result = _sweep(stack)
    assert [a["action"] for a in result["deadline_actions"]] == ["expired"]
    assert result["terminated"] == []  # nobody answering ends nobody
    assert stack.stage(pilot_id) == "production"
    with stack.db.session() as session:
        assert gates_store.get_gate(session, first.id).status == "expired"
        assert pilots.get_pilot(session, pilot_id).stage == "production"
    [settled] = _audit(stack, pilot_id, "value_review.settled")
    assert settled.data["outcome"] == "unanswered" and settled.data["notes"] == []
    # the owner and the programme office are told
    assert any("Nobody answered the value review" in t for t in _owner_dm(stack))
    pmo = stack.emulator.dm_channel_for("U0PMO0001")
    assert any(
        "Nobody answered the value review" in m.text for m in stack.emulator.messages_in(pmo)
    )
    # ...and the same sweep asks again (its review step runs after the deadlines), once
    assert [r["pilot_id"] for r in result["value_reviews"]] == [pilot_id]
    again = _review_gate(stack, pilot_id)
    assert again.id != first.id and again.stage == "production"
    assert _sweep(stack)["value_reviews"] == []


@pytest.fixture
def cli(stack: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    from pilotgate import commands
    from pilotgate.cli import app

    if not any(c.name == "advance" for c in app.registered_commands):
        commands.register(app)
    for key, value in {
        "PILOTGATE_DATABASE_URL": stack.db.url,
        "SLACK_BOT_TOKEN": "xoxb-test-token",
        "SLACK_SIGNING_SECRET": "test-signing-secret",
        "SLACK_API_URL": stack.emulator.api_url,
        "PILOTGATE_POLICY": os.fspath(stack.runtime.settings.policy),
    }.items():
        monkeypatch.setenv(key, value)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args))


def test_review_command_opens_it_now_and_refuses_what_it_cannot(stack: Any, cli: Any) -> None:
    early = stack.propose("helpdesk-assistant")
    result = cli("review", early)
    assert result.exit_code == 4
    assert f"pilot {early} is proposal: only a pilot in production has a value review" in (
        result.output
    )
    pilot_id, _ = _to_production(stack)
    result = cli("review", pilot_id, "--json")
    assert result.exit_code == 0, result.output
    assert '"stage": "production"' in result.output and '"target": "production"' in result.output
    result = cli("review", pilot_id)
    assert result.exit_code == 4
    assert "already has its value review open" in result.output
    assert "Traceback" not in result.output
    # advance still refuses a pilot in production, in its old words
    result = cli("advance", pilot_id)
    assert result.exit_code == 4
    assert f"pilot {pilot_id} is production: there is nothing to advance" in result.output
    result = cli("terminate", pilot_id, "--reason", "try to terminate a live service", "--yes")
    assert result.exit_code == 4
    assert f"pilot {pilot_id} is already production" in result.output


def test_adjust_on_a_stage_gate_is_refused_and_records_nothing(stack: Any) -> None:
    import json
    import time
    from urllib.parse import urlencode

    pilot_id = stack.propose("helpdesk-assistant")
    stack.advance(pilot_id)
    request = next(r for r in stack.open_requests(pilot_id) if r.role == "finance")
    with stack.db.session() as session:
        fresh = gates_store.get_request(session, request.id)
    # A genuine signed click whose action is Adjust: only a review's ask carries that button.
    payload = stack.emulator.build_block_actions(
        FINANCE, fresh.channel, fresh.message_ts, "pilotgate_approve"
    )
    payload["actions"][0]["action_id"] = "pilotgate_adjust"
    body = urlencode({"payload": json.dumps(payload, separators=(",", ":"))})
    now = str(int(time.time()))
    response = stack.emulator.send_raw(
        stack.listener.url, body, now, stack.emulator.sign(body, now)
    )
    assert response.status_code == 200
    stack.dispatcher.drain()
    assert stack.emulator.latest_view_for(FINANCE) is None  # no note form
    with stack.db.session() as session:
        assert session.execute(select(Decision)).scalars().all() == []
    told = stack.emulator.messages_in(fresh.channel, include_ephemeral=True)
    assert any("Adjust and Retire answer a value review" in m.text for m in told)
