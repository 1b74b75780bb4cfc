"""`Database.reading`: the session the relay renders a message in while it sends it. On SQLite
it must not take the write lock (a click's transaction gets in while it is open), and nothing
written through it is kept, on either database."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from store import outbox
from store.db import Database
from store.models import OutboxMessage

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _rows(db: Database) -> int:
    with db.session() as session:
        return session.execute(select(func.count()).select_from(OutboxMessage)).scalar_one()


def test_a_writer_commits_while_a_reading_session_is_open(db: Database) -> None:
    with db.reading() as reader:
        assert reader.execute(select(func.count()).select_from(OutboxMessage)).scalar_one() == 0
        # BEGIN IMMEDIATE here would wait 30 s (the busy timeout) behind a write lock
        with db.session() as writer:
            outbox.enqueue(writer, "chat.postMessage", {"channel": "C1", "text": "x"}, now=NOW)
        # the reader's snapshot is the one it began with (SQLite's WAL, PostgreSQL's MVCC
        # within a statement); a new statement may or may not see the row, so only the
        # writer's commit is asserted
    assert _rows(db) == 1


def test_nothing_written_through_a_reading_session_is_kept(db: Database) -> None:
    with db.reading() as reader:
        outbox.enqueue(reader, "chat.postMessage", {"channel": "C1", "text": "x"}, now=NOW)
        assert reader.execute(select(func.count()).select_from(OutboxMessage)).scalar_one() == 1
    assert _rows(db) == 0
