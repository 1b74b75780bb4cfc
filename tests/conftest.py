"""Shared fixtures: real SQLite and real PostgreSQL, migrated with Alembic.

`db` is parametrised over both backends and gives a Database whose tables are emptied after the
test (for tests that need several connections or processes). `session` is a session inside an
outer transaction that rolls back through a savepoint, for tests that need one connection only.
PostgreSQL must be up on 127.0.0.1:5432 (`.ci/run` starts it); a missing server fails the run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from lifecycle.policy import Policy, load_policy
from lifecycle.proposal import load_proposal
from lifecycle.stages import FORWARD, Stage
from store import gates, metrics, pilots
from store.db import Database
from store.migrate import upgrade
from store.models import Base

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
PG_ADMIN_URL = os.environ.get(
    "PILOTGATE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _pg_url(name: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="session")
def pg_database_url() -> Iterator[str]:
    name = f"pilotgate_t_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # pragma: no cover - environment problem, reported loudly
        pytest.fail(
            f"PostgreSQL is required for the store tests and is not reachable at "
            f"{PG_ADMIN_URL}: {exc}"
        )
    url = _pg_url(name)
    upgrade(url)
    yield url
    with admin.connect() as conn:
        conn.execute(
            text(
                f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"
            )
        )
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("sqlite") / "pilotgate.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    return url


def _empty(database: Database) -> None:
    with database.session() as session:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name == "audit_head":
                session.execute(
                    text("UPDATE audit_head SET last_id = 0, last_hash = :h"), {"h": "0" * 64}
                )
            else:
                session.execute(table.delete())


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest) -> str:
    return str(
        request.getfixturevalue(f"{'pg' if backend == 'postgresql' else 'sqlite'}_database_url")
    )


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    _empty(database)
    yield database
    _empty(database)
    database.dispose()


@pytest.fixture
def session(database_url: str) -> Iterator[Session]:
    """One connection, one outer transaction; the test's commits become savepoint releases."""
    database = Database(database_url)
    with database.engine.connect() as conn:
        outer = conn.begin()
        s = Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
        try:
            yield s
        finally:
            s.close()
            outer.rollback()
    database.dispose()


@pytest.fixture(scope="session")
def policy() -> Policy:
    return load_policy(EXAMPLES / "policy.yaml")


@pytest.fixture(scope="session")
def walk_to_production() -> Callable[..., None]:
    """walk(session, pilot_id, policy, live=..., start=..., step=...): one way to put a proposed
    pilot in production at known times, for the tests that count value since go-live.

    It moves the pilot along `FORWARD` with `pilots.move_stage`, asserting each move wins: into
    each stage before production at `start + step`, `start + 2 * step`, ...; into production
    at `live`. It does not flush or commit; the caller's session does.
    """

    def walk(
        session: Session,
        pilot_id: str,
        policy: Policy,
        *,
        live: datetime,
        start: datetime,
        step: timedelta,
        actor: str = "t",
        reason: str = "ok",
    ) -> None:
        stage, at = Stage.PROPOSAL, start
        while stage is not Stage.PRODUCTION:
            nxt = FORWARD[stage]
            at = live if nxt is Stage.PRODUCTION else at + step
            assert pilots.move_stage(
                session,
                pilot_id,
                expected=stage,
                target=nxt,
                actor=actor,
                reason=reason,
                now=at,
                policy=policy,
            )
            stage = nxt

    return walk


# ---------------------------------------------------------------- the running stack



#: When the pilot of `measured_live_pilot` goes live, and its resolution time: 11 -> 5 min in
#: January, median 4 in February, none in March (carried), 2 in April; the pilot-phase 1.0
#: before go-live does not count.
VALUE_LIVE = datetime(2026, 1, 1, tzinfo=UTC)
VALUE_OBSERVED = [("2025-12-20", 1.0), ("2026-01-15", 5.0), ("2026-02-10", 3.0)]
VALUE_OBSERVED += [("2026-02-20", 5.0), ("2026-04-10", 2.0)]


@pytest.fixture(scope="session")
def measured_live_pilot(walk_to_production: Callable[..., None]) -> Callable[..., str]:
    """make(session, policy, title, pilot_id=None) -> pilot id: the help-desk pilot, proposed
    60 days before `VALUE_LIVE`, in production from `VALUE_LIVE`, with `VALUE_OBSERVED`
    recorded; the one register the tests of value since go-live (report, page) read."""

    def make(session: Session, policy: Policy, title: str, pilot_id: str | None = None) -> str:
        proposal = load_proposal(EXAMPLES / "helpdesk-assistant.yaml").model_copy(
            update={"title": title}
        )
        made = pilots.create_pilot(
            session,
            proposal,
            policy,
            actor="t",
            now=VALUE_LIVE - timedelta(days=60),
            pilot_id=pilot_id,
        ).id
        walk_to_production(
            session,
            made,
            policy,
            live=VALUE_LIVE,
            start=VALUE_LIVE - timedelta(days=50),
            step=timedelta(days=5),
        )
        for day, value in VALUE_OBSERVED:
            when = datetime.fromisoformat(day).replace(tzinfo=UTC)
            metrics.record_metric(
                session,
                made,
                metric="resolution_minutes",
                value=value,
                unit="minutes",
                observed_at=when,
                source="t",
                now=when,
                actor="t",
            )
        session.flush()
        return made

    return make

@pytest.fixture(scope="session")
def prefect_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Prefect API (the test harness's temporary server), once per test session.
    Yields its URL, for processes the tests start (PREFECT_API_URL)."""
    os.environ.setdefault("PREFECT_HOME", str(tmp_path_factory.mktemp("prefect-home")))
    from config.prefect_env import apply_defaults

    apply_defaults()
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        import prefect.settings

        yield str(prefect.settings.PREFECT_API_URL.value())


@pytest.fixture
def emulator() -> Iterator[Any]:
    from slackemu import SlackEmulator

    emu = SlackEmulator(bot_token="xoxb-test-token", signing_secret="test-signing-secret").start()
    yield emu
    emu.stop()


class Clock:
    """A settable clock for the whole stack (listener, dispatcher, flows)."""

    def __init__(self) -> None:
        from datetime import UTC, datetime, timedelta

        self._offset = timedelta()
        self._now = lambda: datetime.now(UTC)
        self._td = timedelta

    def __call__(self) -> Any:
        return self._now() + self._offset

    def advance(self, days: float = 0, seconds: float = 0) -> None:
        self._offset += self._td(days=days, seconds=seconds)


@dataclass
class Stack:
    """pilotgate wired together for a test: register, policy, emulator, listener, dispatcher."""

    runtime: Any
    db: Database
    policy: Policy
    emulator: Any
    listener: Any
    dispatcher: Any
    clock: Clock

    def propose(self, example: str = "helpdesk-assistant", **changes: Any) -> str:
        from lifecycle.proposal import load_proposal

        proposal = load_proposal(EXAMPLES / f"{example}.yaml")
        if changes:
            proposal = proposal.model_copy(update=changes)
        with self.db.session() as session:
            return pilots.create_pilot(
                session, proposal, self.policy, actor="test", now=self.clock()
            ).id

    def advance(self, pilot_id: str) -> Any:
        """Run the stage flow of the pilot's current stage (as `pilotgate advance` does)."""
        from config.names import STAGE_FLOWS
        from flows.registry import flows
        from lifecycle.stages import Stage

        with self.db.session() as session:
            stage = Stage(pilots.get_pilot(session, pilot_id).stage)
        return flows()[STAGE_FLOWS[stage]](pilot_id=pilot_id, now=self.clock())

    def open_requests(self, pilot_id: str) -> list[Any]:
        self.dispatcher.drain()
        with self.db.session() as session:
            gate = gates.open_gate_for(session, pilot_id)
            if gate is None:
                return []
            answered = {d.request_id for d in gates.decisions_for(session, gate.id)}
            return [r for r in gates.requests_for(session, gate.id) if r.id not in answered]

    def click(
        self,
        request: Any,
        action: str = "pilotgate_approve",
        user: str | None = None,
        **kwargs: Any,
    ) -> Any:
        """A signed click on the request's message, as `user` (default: its approver)."""
        with self.db.session() as session:
            fresh = gates.get_request(session, request.id)
        assert fresh.message_ts, f"request {fresh.id} was never posted to Slack"
        return self.emulator.click(
            self.listener.url,
            user or fresh.approver,
            fresh.channel,
            fresh.message_ts,
            action,
            **kwargs,
        )

    def reject(self, request: Any, reason: str) -> Any:
        self.click(request, "pilotgate_reject")
        view = self.emulator.latest_view_for(request.approver)
        return self.emulator.submit_view(
            self.listener.url, request.approver, view.id, {"reason_input": reason}
        )

    def approve_gate(self, pilot_id: str) -> None:
        """Approve, role by role, until the pilot's open gate is settled."""
        with self.db.session() as session:
            gate = gates.open_gate_for(session, pilot_id)
            assert gate is not None, f"pilot {pilot_id} has no open gate"
            gate_id = gate.id
        for _ in range(30):
            self.dispatcher.drain()
            with self.db.session() as session:
                gate = gates.get_gate(session, gate_id)
                if gate.status != "open":
                    break
                missing = gates.evaluate(session, gate, self.clock()).missing
                answered = {d.request_id for d in gates.decisions_for(session, gate_id)}
                todo = [
                    r
                    for r in gates.requests_for(session, gate_id)
                    if r.id not in answered and missing.get(r.role, 0) > 0
                ]
            assert todo, f"gate {gate_id} is open but nobody is left to ask"
            response = self.click(todo[0])
            assert response.status_code == 200, response.text
        self.dispatcher.drain()

    def stage(self, pilot_id: str) -> str:
        with self.db.session() as session:
            return pilots.get_pilot(session, pilot_id).stage


@pytest.fixture
def stack(db: Database, policy: Policy, emulator: Any, prefect_api: str) -> Iterator[Stack]:
    from config.settings import Settings
    from pilotgate.dispatcher import Dispatcher, LocalLauncher
    from slack_in.server import start_in_thread
    from slack_out.client import make_client
    from tasks.runtime import Runtime, set_runtime

    settings = Settings(
        PILOTGATE_DATABASE_URL=db.url,
        SLACK_BOT_TOKEN="xoxb-test-token",
        SLACK_SIGNING_SECRET="test-signing-secret",
        SLACK_API_URL=emulator.api_url,
        PILOTGATE_POLICY=str(EXAMPLES / "policy.yaml"),
    )
    runtime = Runtime(settings, db=db, policy=policy)
    set_runtime(runtime)
    clock = Clock()
    dispatcher = Dispatcher(
        runtime,
        client=make_client(settings, retries=1),
        launcher=LocalLauncher(clock=clock),
        clock=clock,
        sweep_every=None,
    )
    listener = start_in_thread(runtime, on_wake=dispatcher.wake.set, clock=clock)
    yield Stack(runtime, db, policy, emulator, listener, dispatcher, clock)
    listener.stop()
    set_runtime(None)
