"""Alembic migrations: a fresh database gets every table the models declare."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from store.db import make_engine
from store.migrate import alembic_config, current, upgrade
from store.models import Base


def test_upgrade_creates_every_table_on_a_fresh_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    assert current(url) is None
    upgrade(url)
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    assert head == "0003"
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
    assert current(pg_database_url) == "0003"
    engine = make_engine(pg_database_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == []
        assert set(inspect(engine).get_table_names()) == set(Base.metadata.tables) | {
            "alembic_version"}
    finally:
        engine.dispose()
