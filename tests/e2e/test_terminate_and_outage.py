"""Termination by a programme manager, illegal `advance`s, and a Slack outage."""

from __future__ import annotations

import os
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from store import gates, pilots
from store.models import OutboxMessage


@pytest.fixture
def cli(stack: Any, prefect_api: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The real `pilotgate` CLI (in process) pointed at the stack's register and emulator."""
    from pilotgate import commands
    from pilotgate.cli import app

    if not any(c.name == "advance" for c in app.registered_commands):
        commands.register(app)
    env = {
        "PILOTGATE_DATABASE_URL": stack.db.url,
        "SLACK_BOT_TOKEN": "xoxb-test-token",
        "SLACK_SIGNING_SECRET": "test-signing-secret",
        "SLACK_API_URL": stack.emulator.api_url,
        "PILOTGATE_POLICY": os.fspath(stack.runtime.settings.policy),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    runner = CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(app, list(args))

    return run


def test_terminate_closes_gates_messages_and_frees_the_cap(stack: Any, cli: Any) -> None:
    pilot_id = stack.propose("helpdesk-assistant")
    result = cli("advance", pilot_id)
    assert result.exit_code == 0, result.output
    assert "U0FIN0001 (finance)" in result.output and "deadline" in result.output
    requests = stack.open_requests(pilot_id)

    result = cli("terminate", pilot_id, "--reason", "budget moved to the claims pilot")
    assert result.exit_code == 0, result.output
    stack.dispatcher.drain()
    with stack.db.session() as session:
        pilot = pilots.get_pilot(session, pilot_id)
        assert pilot.stage == "terminated"
        assert pilot.end_reason == "budget moved to the claims pilot"
        assert [g.status for g in gates.gates_for(session, pilot_id)] == ["cancelled"]
        assert pilots.active_count(session, "it-operations") == 0
    for request in requests:
        with stack.db.session() as session:
            fresh = gates.get_request(session, request.id)
        message = stack.emulator.find_message(fresh.channel, fresh.message_ts)
        latest = message.versions[-1].blocks if message.versions else message.blocks
        assert not [b for b in latest if b.get("type") == "actions"]
        assert "terminated" in str(latest)
        # every approver of the gate was told, and the owner too
        assert any(
            "terminated" in m.text
            for m in stack.emulator.messages_in(fresh.channel)
            if m.ts != fresh.message_ts
        )
    owner = stack.emulator.dm_channel_for("U0BIZ0001")
    assert any("budget moved" in str(m.blocks) for m in stack.emulator.messages_in(owner))

    # the buttons are gone: there is nothing left to click
    from slackemu import NotFoundError

    with pytest.raises(NotFoundError):
        stack.click(requests[0])

    # advancing or terminating a terminated pilot is refused with a clear error
    result = cli("advance", pilot_id)
    assert result.exit_code == 4 and "terminated" in result.output
    result = cli("terminate", pilot_id, "--reason", "again please")
    assert result.exit_code == 4 and "already terminated" in result.output


def test_advance_while_a_gate_is_open_is_refused(stack: Any, cli: Any) -> None:
    pilot_id = stack.propose("helpdesk-assistant")
    assert cli("advance", pilot_id).exit_code == 0
    result = cli("advance", pilot_id)
    assert result.exit_code == 4
    assert "already has an open gate" in result.output
    with stack.db.session() as session:
        assert len(gates.gates_for(session, pilot_id)) == 1
    assert cli("advance", "pg-nope").exit_code == 3
    assert cli("terminate", pilot_id, "--reason", "").exit_code == 2


def test_slack_outage_delivers_everything_once_after_recovery(stack: Any) -> None:
    stack.emulator.outage(status=503)
    pilot_id = stack.propose("helpdesk-assistant")
    opened = stack.advance(pilot_id)  # the gate opens although Slack is down
    assert len(opened.asked) == 3
    stack.dispatcher.drain()
    with stack.db.session() as session:
        assert all(r.message_ts is None for r in gates.requests_for(session, opened.gate_id))
        pending = session.execute(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "pending")
        ).scalar_one()
        assert pending == 3
    assert not [m for m in stack.emulator.messages if m.channel.startswith("D")]

    stack.emulator.recover()
    stack.emulator.fail(status=429, count=3, retry_after=1)  # then rate limited for a moment
    stack.clock.advance(seconds=700)  # past the relay's backoff
    for _ in range(10):
        stack.dispatcher.drain()
        with stack.db.session() as session:
            if all(r.message_ts for r in gates.requests_for(session, opened.gate_id)):
                break
        stack.clock.advance(seconds=60)
    with stack.db.session() as session:
        requests = gates.requests_for(session, opened.gate_id)
        assert all(r.message_ts for r in requests)
    posts = [c for c in stack.emulator.calls if c.method == "chat.postMessage" and c.ok]
    asks = [c for c in posts if "Sign-off requested" in str(c.params.get("text", ""))]
    assert len(asks) == 3, "each request posted exactly once"
    assert len({r.approver for r in requests}) == 3
    # and the gate still works end to end
    stack.approve_gate(pilot_id)
    assert stack.stage(pilot_id) == "pilot"
