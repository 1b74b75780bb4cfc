"""`pilotgate serve` killed with SIGKILL while a gate waits: nothing lost, deadlines hold.

The serve process is the real console script in its own process group, running flows against
the test session's Prefect API; the emulator plays Slack in this process.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from store import flow_queue, gates
from store.models import Decision, StageChange

PILOTGATE = Path(sys.executable).parent / "pilotgate"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Serve:
    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        self.env, self.port, self.log = env, port, log
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/slack/events"

    def start(self) -> None:
        handle = self.log.open("ab")
        self.proc = subprocess.Popen(
            [str(PILOTGATE), "serve", "--port", str(self.port)],
            env=self.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"serve did not start: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


@pytest.fixture
def serve(stack: Any, prefect_api: str, tmp_path: Path) -> Iterator[Serve]:
    env = dict(os.environ)
    env.update(
        {
            "PILOTGATE_DATABASE_URL": stack.db.url,
            "SLACK_BOT_TOKEN": "xoxb-test-token",
            "SLACK_SIGNING_SECRET": "test-signing-secret",
            "SLACK_API_URL": stack.emulator.api_url,
            "PILOTGATE_POLICY": os.fspath(stack.runtime.settings.policy),
            "PREFECT_API_URL": prefect_api,
            "PILOTGATE_TICK_SECONDS": "0.2",
        }
    )
    server = Serve(env, _free_port(), tmp_path / "serve.log")
    yield server
    server.kill()


def _wait_for(predicate: Any, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    raise AssertionError("timed out waiting")


def _click(stack: Any, serve: Serve, request: Any) -> httpx.Response:
    with stack.db.session() as session:
        fresh = gates.get_request(session, request.id)
    return stack.emulator.click(
        serve.url, fresh.approver, fresh.channel, fresh.message_ts, "pilotgate_approve"
    )


def test_sigkill_while_a_gate_waits_loses_nothing(stack: Any, serve: Serve) -> None:
    pilot_id = stack.propose("helpdesk-assistant")
    stack.advance(pilot_id)
    requests = stack.open_requests(pilot_id)
    pmo = next(r for r in requests if r.role == "programme_office")
    finance = next(r for r in requests if r.role == "finance")

    serve.start()
    assert _click(stack, serve, pmo).status_code == 200
    serve.kill()
    with pytest.raises(httpx.HTTPError):  # Slack would show the approver an error: retry later
        _click(stack, serve, finance)

    serve.start()
    with stack.db.session() as session:
        decided = session.execute(select(Decision.approver)).scalars().all()
    assert decided == [pmo.approver], "the decision taken before the crash survived"
    assert _click(stack, serve, finance).status_code == 200
    serve.kill()  # right after the deciding click: the follow-up may be mid-flight
    serve.start()
    _wait_for(lambda: stack.stage(pilot_id) == "pilot")

    with stack.db.session() as session:
        moves = session.execute(
            select(func.count())
            .select_from(StageChange)
            .where(StageChange.pilot_id == pilot_id, StageChange.to_stage == "pilot")
        ).scalar_one()
        assert moves == 1
        assert session.execute(select(func.count()).select_from(Decision)).scalar_one() == 2

    def all_done() -> bool:
        with stack.db.session() as session:
            return all(fr.status == "done" for fr in flow_queue.flow_requests(session))

    _wait_for(all_done)


def test_deadline_holds_while_serve_is_down(stack: Any, serve: Serve, prefect_api: str) -> None:
    pilot_id = stack.propose("helpdesk-assistant")
    stack.advance(pilot_id)
    serve.start()
    serve.kill()  # nobody is listening while the gate's deadline passes
    with stack.db.session() as session:
        deadline = gates.open_gate_for(session, pilot_id).deadline  # type: ignore[union-attr]
    later = (deadline + timedelta(hours=1)).isoformat()
    result = subprocess.run(
        [str(PILOTGATE), "sweep", "--now", later],
        env=serve.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "terminate" in result.stdout
    assert stack.stage(pilot_id) == "terminated"
    with stack.db.session() as session:
        assert gates.gates_for(session, pilot_id)[0].status == "expired"
