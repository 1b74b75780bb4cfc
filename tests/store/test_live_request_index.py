"""The live-request index is partial on both databases when the models create the schema.

Its PostgreSQL `where` is given only when the table is created on PostgreSQL (so SQLite
commands never import the PostgreSQL dialect, tests/cli/test_read_commands.py); created from
the models (`create_all`, not the migrations), each database still gets the partial unique
index, as the database itself reports it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, inspect, text

from store.models import Base

#: the server tests/conftest.py uses.
PG_ADMIN_URL = os.environ.get(
    "PILOTGATE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        engine = create_engine(f"sqlite:///{tmp_path / 'models.db'}")
        yield engine
        engine.dispose()
        return
    name = f"pilotgate_idx_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = create_engine(PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name)
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def test_the_models_create_a_partial_unique_index_on_each_database(fresh_engine: Engine) -> None:
    Base.metadata.create_all(fresh_engine)
    (index,) = [
        i
        for i in inspect(fresh_engine).get_indexes("signoff_requests")
        if i["name"] == "uq_signoff_request_live"
    ]
    assert index["unique"]
    where = index.get("dialect_options", {}).get(f"{fresh_engine.dialect.name}_where")
    assert where is not None and "superseded_at IS NULL" in str(where), index
