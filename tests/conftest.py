"""Shared fixtures: real SQLite and real PostgreSQL, migrated with Alembic.

`db` is parametrised over both backends and gives a Database whose tables are emptied after the
test (for tests that need several connections or processes). `session` is a session inside an
outer transaction that rolls back through a savepoint, for tests that need one connection only.
PostgreSQL must be up on 127.0.0.1:5432 (`.ci/run` starts it); a missing server fails the run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from lifecycle.policy import Policy, load_policy
from store.db import Database
from store.migrate import upgrade
from store.models import Base

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
PG_ADMIN_URL = os.environ.get("PILOTGATE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


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
        pytest.fail(f"PostgreSQL is required for the store tests and is not reachable at "
                    f"{PG_ADMIN_URL}: {exc}")
    url = _pg_url(name)
    upgrade(url)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"))
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
                session.execute(text("UPDATE audit_head SET last_id = 0, last_hash = :h"),
                                {"h": "0" * 64})
            else:
                session.execute(table.delete())


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(f"{'pg' if backend == 'postgresql' else 'sqlite'}_database_url"))


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
