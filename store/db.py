"""Engines and sessions for SQLite (embedded default) and PostgreSQL (at scale).

SQLite runs in WAL mode with a busy timeout, and every transaction begins with BEGIN IMMEDIATE:
two writers then queue for the lock instead of one failing at once with "database is locked"
halfway through its work.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy, not pysqlite, decide when transactions begin.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            # A reading session (`Database.reading`) begins DEFERRED: in WAL mode it then
            # takes no write lock and holds up no writer.
            read_only = conn.get_execution_options().get(_READING, False)
            conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


#: execution option of the engine behind `Database.reading`.
_READING = "pilotgate_reading"


class Database:
    """An engine and its session factory, with sessions as context managers."""

    def __init__(self, url: str, engine: Engine | None = None) -> None:
        self.url = url
        self.engine = engine or make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._readers = sessionmaker(
            self.engine.execution_options(**{_READING: True}), expire_on_commit=False
        )

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed when the block ends, rolled back on error."""
        with self.sessions() as session, session.begin():
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session that only reads: on SQLite its transaction takes no write lock, so long
        reads (rendering a message as it is sent) hold up no click; anything it writes is
        rolled back."""
        with self._readers() as session:  # closing it rolls back what it began
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


def redact_url(url: str) -> str:
    """Hide a password in a database URL before it is printed."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable database url>"


def missing_sqlite_file(url: str) -> bool:
    """Whether `url` names a SQLite file that does not exist (checking a schema must not create
    an empty file as a side effect)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return False
    return not Path(parsed.database).exists()


def register_fingerprint(url: str) -> str:
    """A short hash naming the register a URL points at, for a process to tell another which
    database it serves without showing the URL: the backend, user, host, port and database (a
    SQLite file as its absolute path), never the password or the query string. Empty for a
    register no other process can share (in-memory SQLite) or a URL that does not parse."""
    try:
        parsed = make_url(url)
    except Exception:
        return ""
    database = parsed.database or ""
    if parsed.get_backend_name() == "sqlite":
        if database in ("", ":memory:") or "mode=memory" in str(parsed.query):
            return ""
        database = str(Path(database).resolve())
    ident = "\n".join(
        [
            parsed.get_backend_name(),
            parsed.username or "",
            parsed.host or "",
            str(parsed.port or ""),
            database,
        ]
    )
    return hashlib.sha256(b"pilotgate-register\n" + ident.encode()).hexdigest()[:16]
