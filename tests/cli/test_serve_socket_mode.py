"""`pilotgate serve --socket-mode`, end to end: the real console script in its own process
opens its Socket Mode connection to the Slack emulator (`apps.connections.open`, then a real
WebSocket on loopback); a programme manager advances a pilot with `/pilotgate`, serve's
dispatcher runs the proposal flow on real Prefect and delivers the asks, an approver approves
over the socket, and serve's relay closes the buttons and publishes the App Home."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
from cli_harness import BOT_TOKEN, EXAMPLES_DIR, SIGNING_SECRET, Cli
from process_harness import CONSOLE_SCRIPT

from slackemu import SlackEmulator
from store import gates
from store.db import Database

APP_TOKEN = "xapp-1-A0EMUAPP1-serve-socket-mode"
PMO1, FIN = "U0PMO0001", "U0FIN0001"


def wait_for(predicate: Any, what: str, log: Any, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}: {log()[-3000:]}")


@pytest.fixture
def slack() -> Iterator[SlackEmulator]:
    emu = SlackEmulator(bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET).start()
    emu.allow_app_token(APP_TOKEN)
    yield emu
    emu.stop()


@pytest.mark.slow
def test_serve_socket_mode_end_to_end(
    migrated: Cli, slack: SlackEmulator, prefect_api: str
) -> None:
    result = migrated.run("propose", str(EXAMPLES_DIR / "helpdesk-assistant.yaml"))
    assert result.exit_code == 0, result.stderr
    pilot_id = result.stdout.strip()
    env = {
        **migrated.env,
        "SLACK_API_URL": slack.api_url,
        "SLACK_APP_TOKEN": APP_TOKEN,
        "PREFECT_API_URL": prefect_api,
        "PREFECT_HOME": str(migrated.tmp / "prefect-home"),
        "PILOTGATE_TICK_SECONDS": "0.2",
    }
    log_path = migrated.tmp / "serve.log"
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [str(CONSOLE_SCRIPT), "serve", "--socket-mode"],
            env=env, cwd=migrated.tmp, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def text() -> str:
        return log_path.read_text(errors="replace")

    db = Database(migrated.url)
    try:
        wait_for(lambda: slack.socket_connections == 1, "serve's socket", text)
        assert [c.method for c in slack.calls_to("apps.connections.open")] == [
            "apps.connections.open"]

        answer = slack.socket_command(PMO1, "/pilotgate", f"advance {pilot_id}")
        assert answer.text.startswith(f"Running the proposal flow for *IT help-desk assistant* "
                                      f"({pilot_id})"), answer.text

        def delivered_ask() -> Any:
            with db.session() as session:
                gate = gates.open_gate_for(session, pilot_id)
                if gate is None:
                    return None
                mine = [r for r in gates.requests_for(session, gate.id) if r.approver == PMO1]
                return mine[0] if mine and mine[0].message_ts else None

        ask = wait_for(delivered_ask, "the proposal flow's asks", text)
        slack.socket_click(PMO1, str(ask.channel), str(ask.message_ts), "pilotgate_approve")

        def closed() -> bool:
            message = slack.find_message(str(ask.channel), str(ask.message_ts))
            return message is not None and not any(
                b.get("type") == "actions" for b in message.blocks or [])

        wait_for(closed, "the ask's buttons to close", text)
        with db.session() as session:
            [decision] = gates.decisions_for(session, ask.gate_id)
            assert (decision.approver, decision.verdict) == (PMO1, "approve")

        slack.socket_home_opened(FIN)
        home = wait_for(lambda: slack.home_for(FIN), "FIN's App Home", text)
        assert home.view["blocks"][1]["text"]["text"] == "*Waiting for you* (1)"
    finally:
        db.dispose()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
    assert APP_TOKEN not in text() and BOT_TOKEN not in text()
