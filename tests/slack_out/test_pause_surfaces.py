"""An installation-wide pause is said loudly: `serve`'s /healthz and `pilotgate status` (and the
relay's log, see test_relay_failures) name the error, since when and the fix; `policy check`
says when the bot cannot post to the digest channel."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from relay_world import EXAMPLES, World
from typer.testing import CliRunner

from slack_in.server import start_in_thread
from tasks.runtime import Runtime


def _paused(world: World) -> str:
    pilot_id, _ = world.ask()
    world.emu.revoke_token("token_revoked")
    assert world.relay().paused == "token_revoked"
    return pilot_id


def test_healthz_of_serve_reports_the_pause(world: World) -> None:
    runtime = Runtime(world.settings(), db=world.db, policy=world.policy)
    thread = start_in_thread(runtime, serving=True)
    try:
        health = httpx.get(thread.base_url + "/healthz").json()
        assert health["slack"] == {"state": "ok"}
        _paused(world)
        health = httpx.get(thread.base_url + "/healthz").json()
    finally:
        thread.stop(wait=False)
    assert health["ok"] is True  # the listener itself is up: restarting it would not help
    slack = health["slack"]
    assert slack["state"] == "paused" and slack["error"] == "token_revoked"
    assert "reinstall" in slack["detail"] and slack["since"]


def _cli(world: World, *args: str) -> Any:
    from pilotgate.cli import app

    env = {
        "PILOTGATE_DATABASE_URL": world.db.url,
        "PILOTGATE_POLICY": str(Path(EXAMPLES) / "policy.yaml"),
        "SLACK_BOT_TOKEN": world.token,
        "SLACK_API_URL": world.emu.api_url,
    }
    return CliRunner().invoke(app, list(args), env=env)


def test_status_says_slack_is_paused(world: World) -> None:
    pilot_id = _paused(world)
    result = _cli(world, "status", pilot_id)
    assert result.exit_code == 0, result.output
    assert "Slack sending is paused" in result.output and "token_revoked" in result.output
    data = _cli(world, "status", pilot_id, "--json")
    assert '"state": "paused"' in data.stdout


def test_policy_check_finds_the_bot_outside_the_digest_channel(world: World) -> None:
    world.emu.add_channel("C0PORTFOLIO", "ai-portfolio")
    world.emu.remove_bot_from("C0PORTFOLIO")
    policy = str(Path(EXAMPLES) / "policy.yaml")
    result = _cli(world, "policy", "check", policy, "--slack")
    assert result.exit_code == 1
    assert "not a member" in result.output and "/invite" in result.output
    world.emu.invite_bot("C0PORTFOLIO")
    result = _cli(world, "policy", "check", policy, "--slack")
    assert result.exit_code == 0, result.output
    assert "signed in as" in result.output and "the bot is a member" in result.output
    world.emu.revoke_token("token_revoked")
    result = _cli(world, "policy", "check", policy, "--slack")
    assert result.exit_code == 1 and "token_revoked" in result.output
    assert "reinstall" in result.output
