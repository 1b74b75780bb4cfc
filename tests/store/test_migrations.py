"""Alembic migrations: a fresh database gets every table the models declare."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from store.db import make_engine
from store.migrate import alembic_config, current, upgrade
from store.models import Base


def test_upgrade_creates_every_table_on_a_fresh_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    assert current(url) is None
    upgrade(url)
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    assert head == "0004"
    assert current(url) == head
    engine = make_engine(url)
    try:
        tables = set(inspect(engine).get_table_names())
        assert tables == set(Base.metadata.tables) | {"alembic_version"}
        # The schema the migrations build is the one the models describe.
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == []
    finally:
        engine.dispose()
    upgrade(url)  # running it again is a no-op
    assert current(url) == head


def test_postgres_fixture_database_is_at_head(pg_database_url: str) -> None:
    assert current(pg_database_url) == "0004"
    engine = make_engine(pg_database_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == []
        assert set(inspect(engine).get_table_names()) == set(Base.metadata.tables) | {
            "alembic_version"}
    finally:
        engine.dispose()


def _at_0003_with_a_request(url: str) -> None:
    from alembic import command

    command.upgrade(alembic_config(url), "0003")
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO pilots (id, title, portfolio, risk_tier, customer_facing, proposer, "
                "business_owner, proposal, stage, created_at) VALUES ('pg-m1', 'M', 'it', 'low', "
                "false, 'U0A', 'U0B', '{}', 'proposal', '2026-01-01 00:00:00+00:00')"))
            conn.execute(text(
                "INSERT INTO gates (id, pilot_id, stage, target, status, quorum, excluded, "
                "any_rejection_rejects, opened_at, deadline) VALUES (1, 'pg-m1', 'proposal', "
                "'pilot', 'open', '{}', '[]', true, '2026-01-01 00:00:00+00:00', "
                "'2026-01-15 00:00:00+00:00')"))
            conn.execute(text(
                "INSERT INTO signoff_requests (id, gate_id, approver, role, round, asked_at) "
                "VALUES (7, 1, 'U0FIN0001', 'finance', 0, '2026-01-01 00:00:00+00:00')"))
    finally:
        engine.dispose()


def _live_index_holds(url: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            assert conn.execute(text("SELECT id FROM signoff_requests")).scalars().all() == [7]
        insert = text(
            "INSERT INTO signoff_requests (id, gate_id, approver, role, round, asked_at) "
            "VALUES (:id, 1, 'U0FIN0001', 'finance', 0, '2026-01-02 00:00:00+00:00')")
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(insert, {"id": 8})  # two live requests of one person, role, round
        with engine.begin() as conn:
            conn.execute(text("UPDATE signoff_requests SET superseded_at = asked_at"))
            conn.execute(insert, {"id": 8})  # asked again once the first was superseded
    finally:
        engine.dispose()


def test_0004_keeps_requests_and_lets_a_superseded_one_be_asked_again_on_sqlite(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    _at_0003_with_a_request(url)
    upgrade(url)
    _live_index_holds(url)


def test_0004_keeps_requests_and_lets_a_superseded_one_be_asked_again_on_postgres(
    pg_database_url: str,
) -> None:
    base, _, _ = pg_database_url.rpartition("/")
    name = f"pilotgate_m_{uuid.uuid4().hex[:8]}"
    url = f"{base}/{name}"
    admin = make_engine(pg_database_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        _at_0003_with_a_request(url)
        upgrade(url)
        _live_index_holds(url)
    finally:
        with admin.connect() as conn:
            conn.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"))
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()
