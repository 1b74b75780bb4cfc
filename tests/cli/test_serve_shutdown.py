"""`pilotgate serve` leaves nothing behind: stopped with SIGTERM (a service manager) or SIGINT
(Ctrl-C), no process it started outlives it, the temporary Prefect API it starts for its flow
runs included.

serve is the real console script in its own session (so every process it starts is found by
its session id), with the Slack emulator and no PREFECT_API_URL: the case where Prefect starts
its temporary local API as a child process. A sweep is queued before serve starts (serve starts
the API only for a flow that has to run, tests/cli/test_serve_lazy_prefect.py), so the API is
running before the signal is sent.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_harness import BOT_TOKEN, SIGNING_SECRET, Cli
from process_harness import ServeProcess
from sqlalchemy import select

from config.clock import utcnow
from config.names import SWEEP
from slackemu import SlackEmulator
from store import flow_queue
from store.db import Database
from store.models import FlowRequest


def session_members(sid: int) -> list[tuple[int, str]]:
    """Every live process of session `sid`: (pid, command line)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getsid(int(entry.name)) != sid:
                continue
            stat = (entry / "stat").read_text()
            if stat.rsplit(")", 1)[1].split()[0] == "Z":  # exited, not yet reaped
                continue
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except (OSError, ProcessLookupError):
            continue
        found.append((int(entry.name), cmd))
    return found


@pytest.fixture
def slack() -> Iterator[SlackEmulator]:
    emu = SlackEmulator(bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET).start()
    yield emu
    emu.stop()


def _sweeps_finished(url: str) -> bool:
    db = Database(url)
    try:
        with db.session() as session:
            rows = session.execute(
                select(FlowRequest.status).where(FlowRequest.flow == "sweep")
            ).scalars()
            return any(s in ("done", "failed") for s in rows)
    finally:
        db.dispose()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_serve_leaves_no_process_behind(
    migrated: Cli, slack: SlackEmulator, tmp_path: Path, sig: signal.Signals
) -> None:
    env = {k: v for k, v in migrated.env.items() if k not in ("PREFECT_API_URL", "PREFECT_PROFILE")}
    env.update(
        {
            "SLACK_API_URL": slack.api_url,
            "PREFECT_HOME": str(tmp_path / "prefect-home"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        }
    )
    db = Database(migrated.url)
    try:
        with db.session() as session:
            flow_queue.request_flow(session, SWEEP, {}, now=utcnow(), dedupe_key="shutdown-test")
    finally:
        db.dispose()
    serve = ServeProcess(env, migrated.tmp, migrated.tmp / "serve.log").start()
    assert serve.proc is not None
    sid = os.getsid(serve.proc.pid)
    try:
        deadline = time.monotonic() + 180
        while not _sweeps_finished(migrated.url):
            assert time.monotonic() < deadline, serve.text()[-3000:]
            time.sleep(0.5)
        children = [p for p in session_members(sid) if p[0] != serve.proc.pid]
        assert any("prefect" in cmd for _, cmd in children), (
            "expected the temporary Prefect API to be running for serve's flow runs",
            children,
        )

        serve.proc.send_signal(sig)  # the serve process only, as a service manager does
        serve.proc.wait(60)

        deadline = time.monotonic() + 15
        while session_members(sid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert session_members(sid) == [], (
            f"left behind after {sig.name}",
            session_members(sid),
            serve.text()[-3000:],
        )
    finally:
        for pid, _ in session_members(sid):
            os.kill(pid, signal.SIGKILL)
        serve.stop()
