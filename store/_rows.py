"""Shared statement shapes of the store modules: fetch-or-explain, fetch-all, insert-once.

Each is written once so every aggregate module reads, and races, the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, and_, insert, or_
from sqlalchemy.orm import Session

from store.errors import NotFound

T = TypeVar("T")


def get_or_raise(session: Session, model: type[T], key: object, missing: str) -> T:
    """The row with primary key `key`, or NotFound with the caller's explanation."""
    row = session.get(model, key)
    if row is None:
        raise NotFound(missing)
    return row


def dialect_insert(session: Session) -> Any:
    """The INSERT construct with ON CONFLICT of the session's database."""
    # Deferred: a dialect's module loads with its engine; importing both here made every
    # `pilotgate` start pay for the PostgreSQL dialect (~0.05 s) even on SQLite.
    from sqlalchemy.dialects import postgresql, sqlite

    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def fetch_all(session: Session, query: Select[tuple[T]]) -> Sequence[T]:
    return session.execute(query).scalars().all()


#: How many due rows one page of a sweep query returns; callers page on with `after`.
PAGE = 500


def after_key(
    column: Any, id_column: Any, after: tuple[Any, Any] | None
) -> list[ColumnElement[bool]]:
    """Keyset paging for a query ordered by (column, id): the rows after `after`. The plain
    `column >= value` bound keeps the read inside the column's index, so page n costs what
    page 1 does (no OFFSET walking the rows already seen)."""
    if after is None:
        return []
    value, last_id = after
    return [
        column >= value,
        or_(column > value, and_(column == value, id_column > last_id)),
    ]


def insert_ignore(session: Session, table: Any, values: dict[str, Any], index: list[str]) -> bool:
    insert = dialect_insert(session)
    stmt = (
        insert(table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=index)
        .returning(*table.primary_key.columns)
    )
    # rowcount is unreliable with RETURNING on PostgreSQL (-1); a returned row is not.
    return session.execute(stmt).first() is not None


def add_once(session: Session, model: Any, values: dict[str, Any]) -> int | None:
    """Insert a row whose optional dedupe_key makes it happen once, even when two transactions
    race (ON CONFLICT DO NOTHING, not check-then-insert). Returns the new id, or None."""
    table = model.__table__
    if values.get("dedupe_key") is None:
        # A Core insert, not `session.add` + flush: on a decision's hot path a flush per queued
        # message (the closed ask, each refreshed ask, each Home) was a unit of work each. The
        # plain INSERT with its values as parameters is compiled once and cached; the
        # dialects' ON CONFLICT inserts are never cached (compiled anew, ~0.4 ms, each time).
        new_id = session.execute(insert(table).returning(table.c.id), values).scalar()
    else:
        stmt = (
            dialect_insert(session)(table)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
        )
        new_id = session.execute(stmt.returning(table.c.id)).scalar()
    return None if new_id is None else int(new_id)
