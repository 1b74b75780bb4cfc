"""`pilotgate serve` starts Prefect's temporary local API only when a flow has to run.

With nothing due, serve's start-up sweep is decided from the database (`sweep_work`) and not
queued, so serve answers `/healthz` and signed Slack requests with no Prefect API child
process; the first flow request it is asked to run starts it, and the flow runs. `sweep_work`
itself is checked on both databases: nothing due says None, a due item names itself.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from cli_harness import BOT_TOKEN, SIGNING_SECRET, Cli
from process_harness import ServeProcess
from sqlalchemy import select
from sqlalchemy.orm import Session
from test_serve_shutdown import session_members

from config.clock import utcnow
from config.names import SWEEP
from config.settings import Settings
from lifecycle.policy import Policy
from lifecycle.proposal import load_proposal
from pilotgate.dispatcher import Dispatcher, LocalLauncher, sweep_work
from slackemu import SlackEmulator
from store import flow_queue, pilots
from store.db import Database
from store.models import FlowRequest
from tasks.runtime import Runtime

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def slack() -> Iterator[SlackEmulator]:
    emu = SlackEmulator(bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET).start()
    yield emu
    emu.stop()


def _sweep_statuses(url: str) -> list[str]:
    db = Database(url)
    try:
        with db.session() as session:
            return list(
                session.execute(
                    select(FlowRequest.status).where(FlowRequest.flow == SWEEP)
                ).scalars()
            )
    finally:
        db.dispose()


def test_serve_with_nothing_due_starts_no_prefect_api_until_a_flow_runs(
    migrated: Cli, slack: SlackEmulator, tmp_path: Path
) -> None:
    env = {k: v for k, v in migrated.env.items() if k not in ("PREFECT_API_URL", "PREFECT_PROFILE")}
    env.update(
        {
            "SLACK_API_URL": slack.api_url,
            "PREFECT_HOME": str(tmp_path / "prefect-home"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        }
    )
    serve = ServeProcess(env, migrated.tmp, migrated.tmp / "serve.log").start()
    assert serve.proc is not None
    sid = os.getsid(serve.proc.pid)
    try:
        deadline = time.monotonic() + 60
        while "sweep not needed: nothing due" not in serve.text():
            assert time.monotonic() < deadline, serve.text()[-3000:]
            time.sleep(0.2)
        health = serve.health()
        assert health["ok"] is True and health["dispatcher"] is True, health
        # The listener answers a signed Events API request (Slack's URL check) meanwhile.
        body = json.dumps({"type": "url_verification", "challenge": "lazy-prefect"})
        stamp = str(int(time.time()))
        signature = hmac.new(
            SIGNING_SECRET.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256
        ).hexdigest()
        answer = httpx.post(
            serve.base_url + "/slack/events",
            content=body,
            headers={
                "Content-Type": "application/json",
                "X-Slack-Request-Timestamp": stamp,
                "X-Slack-Signature": f"v0={signature}",
            },
            timeout=10,
        )
        assert answer.status_code == 200 and "lazy-prefect" in answer.text, answer.text[:500]
        assert _sweep_statuses(migrated.url) == []  # the start-up sweep was not queued
        assert [p for p in session_members(sid) if p[0] != serve.proc.pid] == [], (
            "serve started a process with nothing due",
            session_members(sid),
        )

        # A flow request (as a command or a click queues one) makes serve start Prefect.
        db = Database(migrated.url)
        try:
            with db.session() as session:
                flow_queue.request_flow(session, SWEEP, {}, now=utcnow(), dedupe_key="lazy-test")
        finally:
            db.dispose()
        httpx.post(serve.base_url + "/internal/wake", timeout=5)
        deadline = time.monotonic() + 180
        while _sweep_statuses(migrated.url) != ["done"]:
            assert time.monotonic() < deadline, (
                _sweep_statuses(migrated.url),
                serve.text()[-3000:],
            )
            time.sleep(0.5)
        children = [p for p in session_members(sid) if p[0] != serve.proc.pid]
        assert any("prefect" in cmd for _, cmd in children), (children, serve.text()[-3000:])
    finally:
        if serve.proc.poll() is None:
            serve.proc.send_signal(signal.SIGTERM)
            serve.proc.wait(60)
        for pid, _ in session_members(sid):
            os.kill(pid, signal.SIGKILL)
        serve.stop()


def test_sweep_work_is_none_only_when_nothing_is_due(session: Session, policy: Policy) -> None:
    now = utcnow()
    assert sweep_work(session, now, policy) is None  # an empty register
    proposal = load_proposal(EXAMPLES / "helpdesk-assistant.yaml")
    pilots.create_pilot(session, proposal, policy, actor="test", now=now)
    session.flush()
    assert sweep_work(session, now, policy) is None  # a fresh proposal: nothing to do yet
    later = now + timedelta(days=policy.portfolio.proposal_days, hours=1)
    assert sweep_work(session, later, policy) == "a proposal never put to its gate"


def test_an_idle_scheduled_sweep_is_not_queued_but_a_due_one_is(
    db: Database, policy: Policy
) -> None:
    runtime = Runtime(Settings(_env_file=None), db=db, policy=policy)
    now = utcnow()
    clock = [now]
    dispatcher = Dispatcher(
        runtime,
        client=None,
        launcher=LocalLauncher(),
        clock=lambda: clock[0],
        skip_idle_sweeps=True,
    )
    assert not dispatcher.tick().swept
    with db.session() as session:
        assert flow_queue.flow_requests(session) == []
        proposal = load_proposal(EXAMPLES / "helpdesk-assistant.yaml")
        pilots.create_pilot(session, proposal, policy, actor="test", now=now)
    clock[0] = now + timedelta(days=policy.portfolio.proposal_days, hours=1)
    assert dispatcher.tick().swept  # an hour on and a proposal gone stale: queued
    with db.session() as session:
        assert [(r.flow, r.status) for r in flow_queue.flow_requests(session)] == [
            (SWEEP, "pending")
        ]
