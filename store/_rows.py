"""Shared statement shapes of the store modules: fetch-or-explain, fetch-all, insert-once.

Each is written once so every aggregate module reads, and races, the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, Table, and_, bindparam, insert, or_, text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import TextualSelect

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
    """Insert `values` unless a row with the same `index` columns exists; True if inserted."""
    stmt = _insert_once(session.get_bind().dialect, table, tuple(values), tuple(index))
    # rowcount is unreliable with RETURNING on PostgreSQL (-1); a returned row is not.
    return session.execute(stmt, values).first() is not None


def add_once(session: Session, model: Any, values: dict[str, Any]) -> int | None:
    """Insert a row whose optional dedupe_key makes it happen once, even when two transactions
    race (ON CONFLICT DO NOTHING, not check-then-insert). Returns the new id, or None."""
    table = model.__table__
    if values.get("dedupe_key") is None:
        # A Core insert, not `session.add` + flush: on a decision's hot path a flush per queued
        # message (the closed ask, each refreshed ask, each Home) was a unit of work each. The
        # plain INSERT with its values as parameters is compiled once and cached.
        new_id = session.execute(insert(table).returning(table.c.id), values).scalar()
    else:
        stmt = _insert_once(session.get_bind().dialect, table, tuple(values), ("dedupe_key",))
        new_id = session.execute(stmt, values).scalar()
    return None if new_id is None else int(new_id)


#: (dialect name, table, columns, conflict columns) -> the statement; shapes are few.
_INSERT_ONCE: dict[tuple[str, Table, tuple[str, ...], tuple[str, ...]], TextualSelect] = {}


def _insert_once(
    dialect: Dialect, table: Table, keys: tuple[str, ...], index: tuple[str, ...]
) -> TextualSelect:
    """`INSERT ... ON CONFLICT (index) DO NOTHING RETURNING <primary key>` for these columns,
    written once per shape. The dialects' own ON CONFLICT constructs are never cached by
    SQLAlchemy (`inherit_cache = False`), so each use was compiled anew: ~0.8 ms of CPU per
    insert here, against ~0.25 ms for this statement, which is compiled once; a sweep queues
    thousands of deduplicated notices and flow requests. SQLite (3.35+) and PostgreSQL
    spell it the same way. Every parameter carries its column's type, so values are bound
    exactly as the ORM binds them (JSON, UTC datetimes, enums); only the given columns are
    written (column defaults do not apply: callers give every value)."""
    shape = (dialect.name, table, keys, index)
    if (known := _INSERT_ONCE.get(shape)) is not None:
        return known
    quote = dialect.identifier_preparer.quote
    columns = [table.c[k] for k in keys]  # KeyError on a column the table does not have
    returned = list(table.primary_key.columns)
    sql = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(c.name) for c in columns)}) "
        f"VALUES ({', '.join(':' + k for k in keys)}) "
        f"ON CONFLICT ({', '.join(quote(table.c[i].name) for i in index)}) DO NOTHING "
        f"RETURNING {', '.join(quote(c.name) for c in returned)}"
    )
    stmt = (
        text(sql)
        .bindparams(*(bindparam(k, type_=c.type) for k, c in zip(keys, columns, strict=True)))
        .columns(*returned)
    )
    _INSERT_ONCE[shape] = stmt
    return stmt
