"""Shared statement shapes of the store modules: fetch-or-explain, fetch-all, insert-once.

Each is written once so every aggregate module reads, and races, the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import Select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from store.errors import NotFound

T = TypeVar("T")


def get_or_raise(session: Session, model: type[T], key: object, missing: str) -> T:
    """The row with primary key `key`, or NotFound with the caller's explanation."""
    row = session.get(model, key)
    if row is None:
        raise NotFound(missing)
    return row


def fetch_all(session: Session, query: Select[tuple[T]]) -> Sequence[T]:
    return session.execute(query).scalars().all()


def insert_ignore(session: Session, table: Any, values: dict[str, Any], index: list[str]) -> bool:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
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
    if values.get("dedupe_key") is None:
        row = model(**values)
        session.add(row)
        session.flush()
        return int(row.id)
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(model.__table__)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(model.__table__.c.id)
    )
    new_id = session.execute(stmt).scalar()
    return None if new_id is None else int(new_id)
