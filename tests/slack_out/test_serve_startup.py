"""`pilotgate serve` asks Slack before anything is queued (issue 18, item 3): a revoked token is
said at start-up and opens the relay's pause, visible on /healthz at once."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx

from slackemu import SlackEmulator
from store import installation
from store.db import Database
from store.migrate import upgrade

ROOT = Path(__file__).resolve().parents[2]
SERVE = ROOT / ".venv" / "bin" / "pilotgate"
TOKEN = "xoxb-serve-startup-token"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_start_up_says_a_revoked_token_and_pauses(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'pilotgate.db'}"
    upgrade(url)
    port = _port()
    log = tmp_path / "serve.log"
    with SlackEmulator(bot_token=TOKEN, signing_secret="serve-secret") as emu:
        emu.revoke_token("token_revoked")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PILOTGATE_", "SLACK_"))}
        env.update(
            {
                "PILOTGATE_DATABASE_URL": url,
                "PILOTGATE_POLICY": str(ROOT / "examples" / "policy.yaml"),
                # no flow runs, so no Prefect API is started for this test
                "PILOTGATE_RUN_MODE": "deployments",
                "SLACK_BOT_TOKEN": TOKEN,
                "SLACK_SIGNING_SECRET": "serve-secret",
                "SLACK_API_URL": emu.api_url,
            }
        )
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [str(SERVE), "serve", "--port", str(port)],
                env=env,
                cwd=tmp_path,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            health = None
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).json()
                    break
                except httpx.HTTPError:
                    time.sleep(0.2)
            assert health is not None, log.read_text()
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)
        assert [c.method for c in emu.calls][:1] == ["auth.test"]
    text = log.read_text()
    assert "Slack refuses SLACK_BOT_TOKEN (token_revoked)" in text and "reinstall" in text
    assert TOKEN not in text  # the secret is never printed
    assert health["slack"]["state"] == "paused" and health["slack"]["error"] == "token_revoked"
    db = Database(url)
    with db.session() as session:
        state = installation.current(session)
        assert state is not None and state.kind == "token"
    db.dispose()
