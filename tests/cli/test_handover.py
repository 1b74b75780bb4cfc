"""Hand-over: where `pilotgate serve` runs against the same register, `advance` and `terminate`
queue their flow for serve's dispatcher (and wake it) instead of starting Prefect themselves;
where it serves another register, or nothing answers, they run the flow as before.

The serve here is the real console script in its own process, on a free loopback port, with
the Slack emulator in this process and the test session's Prefect API; the CLI runs in a fresh
interpreter that reports what it imported (`process_harness.run_cli`).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from cli_harness import BOT_TOKEN, EXAMPLES_DIR, SIGNING_SECRET, Cli
from process_harness import ServeProcess, free_port, run_cli
from sqlalchemy import select

from config.clock import utcnow
from config.settings import Settings
from pilotgate import commands
from slack_in import server
from slackemu import SlackEmulator
from store import flow_queue, gates, pilots
from store.db import Database, register_fingerprint
from store.errors import Conflict
from store.migrate import upgrade
from store.models import FlowRequest, OutboxMessage
from tasks.runtime import Runtime

HELPDESK = EXAMPLES_DIR / "helpdesk-assistant.yaml"
#: serve's idle tick in these tests: far longer than a woken hand-over may take.
SLOW_TICK = "30"


def propose(cli: Cli) -> str:
    result = cli.run("propose", str(HELPDESK))
    assert result.exit_code == 0, result.stderr
    return result.stdout.strip()


def requests_in(url: str) -> list[FlowRequest]:
    db = Database(url)
    try:
        with db.session() as session:
            return list(flow_queue.flow_requests(session))
    finally:
        db.dispose()


def wait_for(predicate: Any, timeout: float = 120, what: str = "it") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def slack() -> Iterator[SlackEmulator]:
    emu = SlackEmulator(bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET).start()
    yield emu
    emu.stop()


@pytest.fixture
def flow_env(migrated: Cli, slack: SlackEmulator, prefect_api: str) -> dict[str, str]:
    """What both serve and the CLI need to run flows: Slack (the emulator) and Prefect."""
    return {
        **migrated.env,
        "SLACK_API_URL": slack.api_url,
        "PREFECT_API_URL": prefect_api,
        "PREFECT_HOME": str(migrated.tmp / "prefect-home"),
    }


def start_serve(env: dict[str, str], cwd: Path, name: str = "serve") -> ServeProcess:
    serve = ServeProcess({**env, "PILOTGATE_TICK_SECONDS": SLOW_TICK}, cwd, cwd / f"{name}.log")
    return serve.start()


@pytest.fixture
def served(migrated: Cli, flow_env: dict[str, str]) -> Iterator[ServeProcess]:
    """serve on the CLI's register, idle: its start-up sweep decided (run, or not needed with
    nothing due)."""
    serve = start_serve(flow_env, migrated.tmp)
    try:
        wait_for(
            lambda: (
                "sweep not needed" in serve.text()
                or any(
                    r.flow == "sweep" and r.status in ("done", "failed")
                    for r in requests_in(migrated.url)
                )
            ),
            what="serve's start-up sweep",
        )
        yield serve
    finally:
        serve.stop()


# ---------------------------------------------------------------- with a real serve


@pytest.mark.slow
def test_advance_and_terminate_hand_over_to_serve(
    migrated: Cli, flow_env: dict[str, str], served: ServeProcess, slack: SlackEmulator
) -> None:
    pilot_id = propose(migrated)
    env = {**flow_env, "PILOTGATE_SERVE_URL": served.base_url}

    run = run_cli(env, migrated.tmp, "advance", pilot_id)

    assert run.exit_code == 0, run.stdout + run.stderr + served.text()[-3000:]
    assert "prefect" not in run.loaded, "the CLI started Prefect although serve was there"
    assert f"handed over to pilotgate serve at {served.base_url}" in run.stderr
    assert "gate open: proposal -> pilot, deadline" in run.stdout
    [request] = [r for r in requests_in(migrated.url) if r.flow == "proposal"]
    assert request.pilot_id == pilot_id and request.parameters == {
        "pilot_id": pilot_id,
        "actor": "cli",
    }
    assert (request.dedupe_key or "").startswith(f"cli:proposal:{pilot_id}:"), "not the CLI's"
    assert request.status == "done" and request.flow_run_id, "serve did not finish it"
    assert request.started_at and request.started_at - request.created_at < timedelta(seconds=15), (
        "serve's dispatcher was not woken (its tick is 30 s)"
    )
    db = Database(migrated.url)
    with db.session() as session:
        gate = gates.open_gate_for(session, pilot_id)
        assert gate is not None and (gate.stage, gate.target) == ("proposal", "pilot")
        asked = gates.requests_for(session, gate.id)
        assert asked and all(r.message_ts for r in asked), "serve did not ask in Slack"
    for r in asked:
        assert f"asked {r.approver} ({r.role})" in run.stdout

    term = run_cli(env, migrated.tmp, "terminate", pilot_id, "--reason", "budget moved")

    assert term.exit_code == 0, term.stdout + term.stderr + served.text()[-3000:]
    assert "prefect" not in term.loaded
    assert f"{pilot_id} terminated: budget moved" in term.stdout
    with db.session() as session:
        assert pilots.get_pilot(session, pilot_id).stage == "terminated"
    db.dispose()
    [ended] = [r for r in requests_in(migrated.url) if r.flow == "terminate"]
    assert (ended.dedupe_key or "").startswith("cli:terminate:") and ended.status == "done"

    log = served.text()
    assert f"flow started flow=proposal pilot={pilot_id} request={request.id} actor=cli" in log
    assert f"flow started flow=terminate pilot={pilot_id} request={ended.id} actor=cli" in log
    assert "delivered outbox=" in log and "method=chat.postMessage" in log
    assert BOT_TOKEN not in log and SIGNING_SECRET not in log
    assert str(migrated.db_path) not in log, "serve logged the database URL"


@pytest.mark.slow
def test_advance_runs_here_when_serve_serves_another_register(
    migrated: Cli, flow_env: dict[str, str], tmp_path: Path
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    other_url = f"sqlite:///{other / 'pilotgate.db'}"
    upgrade(other_url)
    serve = start_serve({**flow_env, "PILOTGATE_DATABASE_URL": other_url}, other)
    try:
        health = serve.health()
        assert health["register"] == register_fingerprint(other_url)
        assert health["register"] != register_fingerprint(migrated.url)
        pilot_id = propose(migrated)

        run = run_cli(
            {**flow_env, "PILOTGATE_SERVE_URL": serve.base_url}, migrated.tmp, "advance", pilot_id
        )
    finally:
        serve.stop()

    assert run.exit_code == 0, run.stdout + run.stderr
    assert "gate open: proposal -> pilot" in run.stdout
    assert "prefect" in run.loaded, "the flow ran here, in the CLI's process"
    assert "handed over" not in run.stderr
    lines = run.stderr.splitlines()
    started = next(i for i, line in enumerate(lines) if line.startswith("starting Prefect"))
    running = next(i for i, line in enumerate(lines) if line.startswith("running the proposal"))
    assert started < running, run.stderr
    assert not [r for r in requests_in(migrated.url) if r.flow == "proposal"]
    assert not [r for r in requests_in(other_url) if r.flow == "proposal"]


# ---------------------------------------------------------------- with a stand-in serve


class FakeServe:
    """Answers /healthz with `health` and counts wake-ups; never runs anything."""

    def __init__(self, health: dict[str, Any]) -> None:
        self.health = health
        self.hits: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, status: int, body: dict[str, Any]) -> None:
                fake.hits.append(f"{self.command} {self.path}")
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._answer(200, fake.health)

            def do_POST(self) -> None:
                self._answer(202, {"ok": True})

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FakeServe:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def serve_health(url: str, **changes: Any) -> dict[str, Any]:
    return {
        "ok": True,
        "service": "pilotgate serve",
        "register": register_fingerprint(url),
        "run_mode": "local",
        "dispatcher": True,
        "wake": "/internal/wake",
        **changes,
    }


def test_a_serve_that_never_starts_the_flow_times_out_and_nothing_changes(
    migrated: Cli,
) -> None:
    pilot_id = propose(migrated)
    with FakeServe(serve_health(migrated.url)) as fake:
        run = run_cli(
            {**migrated.env, "PILOTGATE_SERVE_URL": fake.url, "PILOTGATE_HANDOVER_TIMEOUT": "1.5"},
            migrated.tmp,
            "advance",
            pilot_id,
        )
    assert run.exit_code == 4, run.stdout + run.stderr
    assert "did not start the proposal flow within 1.5 s" in run.stderr
    assert "the request was withdrawn and nothing changed" in run.stderr
    assert "prefect" not in run.loaded
    assert "POST /internal/wake" in fake.hits
    [request] = requests_in(migrated.url)
    assert request.status == "failed" and (request.error or "").startswith("withdrawn")
    assert migrated.rows("gates") == 0


@pytest.mark.slow
def test_when_serve_goes_away_before_starting_the_flow_it_runs_here(
    migrated: Cli, flow_env: dict[str, str]
) -> None:
    pilot_id = propose(migrated)
    fake = FakeServe(serve_health(migrated.url)).__enter__()

    def stop_once_queued() -> None:  # serve stops before its dispatcher ran the request
        wait_for(lambda: bool(requests_in(migrated.url)), 60, "the CLI's flow request")
        fake.__exit__()

    closer = threading.Thread(target=stop_once_queued)
    closer.start()
    try:
        run = run_cli(
            {**flow_env, "PILOTGATE_SERVE_URL": fake.url}, migrated.tmp, "advance", pilot_id
        )
    finally:
        closer.join()
    assert run.exit_code == 0, run.stdout + run.stderr
    assert "went away before starting the flow; running it here" in run.stderr
    assert "gate open: proposal -> pilot" in run.stdout
    assert "prefect" in run.loaded
    [request] = requests_in(migrated.url)
    assert request.status == "failed" and (request.error or "").startswith("withdrawn")


def test_the_probe_hands_over_only_to_serve_on_this_register_in_local_mode(
    migrated: Cli,
) -> None:
    def runtime(url: str, **settings: str) -> Runtime:
        return Runtime(
            Settings(PILOTGATE_DATABASE_URL=migrated.url, PILOTGATE_SERVE_URL=url, **settings)
        )  # type: ignore[arg-type]

    with FakeServe(serve_health(migrated.url)) as fake:
        assert commands.serve_for(runtime(fake.url)) == fake.url
        assert commands.serve_for(runtime(fake.url + "/")) == fake.url
        assert commands.serve_for(runtime(fake.url, PILOTGATE_RUN_MODE="deployments")) is None
        assert fake.hits == ["GET /healthz", "GET /healthz"], "deployments mode probed serve"
        for changes in (
            {"register": "0123456789abcdef"},
            {"service": "something else"},
            {"dispatcher": False},
            {"run_mode": "deployments"},
        ):
            fake.health = serve_health(migrated.url, **changes)
            assert commands.serve_for(runtime(fake.url)) is None, changes
        fake.health = {"ok": True}  # a plain listener (tests, the demo): no dispatcher
        assert commands.serve_for(runtime(fake.url)) is None
    nobody = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    assert commands.serve_for(runtime(nobody)) is None
    assert time.monotonic() - started < 1.0


# ---------------------------------------------------------------- serve's side


def asgi(
    app: Any,
    method: str,
    path: str,
    client: tuple[str, int] = ("127.0.0.1", 40000),
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """One request to an ASGI app, as if from `client`."""

    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=client)
        async with httpx.AsyncClient(transport=transport, base_url="http://serve") as http:
            return await http.request(method, path, headers=headers)

    return asyncio.run(send())


@pytest.fixture
def pg_runtime() -> Runtime:
    url = "postgresql+psycopg://pilotgate:s3cret-pw@db.internal:5433/register"
    return Runtime(
        Settings(
            PILOTGATE_DATABASE_URL=url,
            SLACK_BOT_TOKEN=BOT_TOKEN,  # type: ignore[call-arg]
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            PILOTGATE_POLICY=str(EXAMPLES_DIR / "policy.yaml"),
        )
    )


def test_healthz_of_serve_names_its_register_by_a_fingerprint(pg_runtime: Runtime) -> None:
    url = pg_runtime.settings.database_url
    health = asgi(server.create_asgi_app(pg_runtime, serving=True), "GET", "/healthz")
    assert health.status_code == 200
    assert health.json() == {
        "ok": True,
        "service": "pilotgate serve",
        "register": register_fingerprint(url),
        "run_mode": "local",
        "dispatcher": True,
        "wake": "/internal/wake",
        # nothing has been sent yet, so Slack's state is not known (see test_pause_surfaces)
        "slack": {"state": "unknown"},
    }
    for part in ("s3cret-pw", "pilotgate:", "db.internal", "5433", "/register"):
        assert part not in health.text
    assert server.SERVE_SERVICE == commands.SERVE_SERVICE
    plain = asgi(server.create_asgi_app(pg_runtime), "GET", "/healthz")
    assert plain.json() == {"ok": True}, "a listener without a dispatcher claims nothing"


def test_the_fingerprint_follows_the_register_not_its_spelling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    fp = register_fingerprint
    assert fp("sqlite:///pilotgate.db") == fp(f"sqlite:///{tmp_path / 'pilotgate.db'}")
    assert fp("sqlite:///pilotgate.db") != fp("sqlite:///other.db")
    pg = "postgresql+psycopg://pilotgate:one@db:5432/register"
    assert fp(pg) == fp("postgresql://pilotgate:two@db:5432/register?sslmode=require")
    assert fp(pg) != fp("postgresql+psycopg://pilotgate:one@db:5432/staging")
    assert fp(pg) != fp("postgresql+psycopg://pilotgate:one@replica:5432/register")
    assert len(fp(pg)) == 16 and int(fp(pg), 16) >= 0
    assert fp("sqlite://") == fp("sqlite:///:memory:") == "" == fp("not a url")


def test_wake_is_for_loopback_only(pg_runtime: Runtime) -> None:
    woken: list[bool] = []
    app = server.create_asgi_app(pg_runtime, lambda: woken.append(True), serving=True)
    assert asgi(app, "POST", "/internal/wake").status_code == 202
    assert asgi(app, "POST", "/internal/wake", client=("::1", 40000)).status_code == 202
    assert woken == [True, True]
    remote = asgi(app, "POST", "/internal/wake", client=("203.0.113.7", 40000))
    assert remote.status_code == 403
    proxied = asgi(app, "POST", "/internal/wake", headers={"X-Forwarded-For": "203.0.113.7"})
    assert proxied.status_code == 403
    assert asgi(app, "GET", "/internal/wake").status_code == 405
    listener = server.create_asgi_app(pg_runtime, lambda: woken.append(True))
    assert asgi(listener, "POST", "/internal/wake").status_code == 404
    assert woken == [True, True]


# ---------------------------------------------------------------- a failure in serve


@pytest.mark.parametrize(
    ("error", "code", "message"),
    [
        (
            "[conflict] tasks.evidence.EvidenceBlocked: evidence missing: resolution_minutes\n",
            4,
            "evidence missing: resolution_minutes",
        ),
        ("[not-found] store.errors.NotFound: no pilot pg-00000000\n", 3, "no pilot pg-00000000"),
        (
            "[input] lifecycle.errors.InputError: proposal.yaml:\n  - a\n  - b\n",
            2,
            "proposal.yaml:\n  - a\n  - b",
        ),
        (
            "RuntimeError: boom\n",
            1,
            "the proposal flow failed in pilotgate serve: RuntimeError: boom",
        ),
        (None, 1, "no error recorded"),
    ],
)
def test_a_flow_that_failed_in_serve_exits_as_if_it_failed_here(
    error: str | None, code: int, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(typer.Exit) as exited:
        commands._fail_from_serve("proposal", error)
    assert exited.value.exit_code == code
    assert message in capsys.readouterr().err


class Refusing:
    """A launcher whose every flow is refused, as a gate blocked on entry would be."""

    retry_on_error = False

    def launch(self, flow: str, parameters: dict[str, Any], key: str) -> str | None:
        raise Conflict("pilot is blocked: readiness evidence missing")


def test_the_dispatcher_tags_a_refusal_and_leaves_telling_to_the_waiting_command(
    migrated: Cli,
) -> None:
    from pilotgate.dispatcher import Dispatcher

    pilot_id = propose(migrated)
    rt = Runtime(Settings(PILOTGATE_DATABASE_URL=migrated.url))  # type: ignore[call-arg]
    params = {"pilot_id": pilot_id, "actor": "cli"}
    with rt.db.session() as session:
        waited = flow_queue.request_flow(
            session,
            "proposal",
            params,
            now=utcnow(),
            pilot_id=pilot_id,
            dedupe_key="cli:proposal:test",
        )
        queued = flow_queue.request_flow(
            session, "proposal", params, now=utcnow(), pilot_id=pilot_id
        )
    Dispatcher(rt, client=None, launcher=Refusing(), sweep_every=None).tick()
    with rt.db.session() as session:
        rows = {r.id: r for r in flow_queue.flow_requests(session)}
        notices = (
            session.execute(select(OutboxMessage).where(OutboxMessage.ref_kind == "notice"))
            .scalars()
            .all()
        )
    for request_id in (waited, queued):
        assert rows[request_id].status == "failed"
        assert (rows[request_id].error or "").startswith(
            "[conflict] store.errors.Conflict: pilot is blocked"
        )
    assert len(notices) == 1, "only the request nobody waits for is reported to the owner"
    rt.db.dispose()


@pytest.mark.slow
def test_advance_says_the_asks_are_queued_when_nothing_delivers_them(
    migrated: Cli, flow_env: dict[str, str]
) -> None:
    pilot_id = propose(migrated)
    env = {k: v for k, v in flow_env.items() if k != "SLACK_BOT_TOKEN"}
    env["PILOTGATE_SERVE_URL"] = "http://127.0.0.1:9"  # nothing listens there
    run = run_cli(env, migrated.tmp, "advance", pilot_id)
    assert run.exit_code == 0, run.stdout + run.stderr
    assert "queued the ask for" in run.stdout and "  asked " not in run.stdout
    assert "wait in the outbox: `pilotgate serve` delivers them" in run.stderr
