"""Database-wide locks: one sweep at a time per register.

Every sweep action is conditional, so two sweeps at once still act once; the lock is there so
the digest a sweep posts tells the whole story rather than the half a concurrent sweep left it.
PostgreSQL: a session advisory lock (freed if the process dies); SQLite: an flock on a file
next to the database (threads and processes alike).
"""

from __future__ import annotations

import fcntl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import text

from store.db import Database

#: PostgreSQL advisory lock key (two-int form, apart from the portfolio locks' one-int keys).
SWEEP_LOCK_KEY = (0x5047, 0x5357)  # "PG", "SW"
_local_sweep_lock = threading.Lock()


def _acquired(try_once: Callable[[], bool], wait: timedelta, poll: float) -> bool:
    """Call `try_once` every `poll` seconds until it succeeds or `wait` has passed."""
    deadline = time.monotonic() + wait.total_seconds()
    while not try_once():
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll)
    return True


@contextmanager
def sweep_lock(
    db: Database, wait: timedelta = timedelta(minutes=10), poll: float = 0.2
) -> Iterator[bool]:
    """One sweep at a time per database: yields True once held, False if another sweep held it
    for all of `wait`. PostgreSQL: a session advisory lock (freed if the process dies); SQLite:
    an flock on a file next to the database (threads and processes alike)."""
    if db.is_postgres:
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            key = {"a": SWEEP_LOCK_KEY[0], "b": SWEEP_LOCK_KEY[1]}
            lock = text("SELECT pg_try_advisory_lock(:a, :b)")
            if not _acquired(lambda: bool(conn.execute(lock, key).scalar()), wait, poll):
                yield False
                return
            try:
                yield True
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:a, :b)"), key)
        return
    path = db.engine.url.database
    if not path or path == ":memory:" or path.startswith("file:"):
        if not _local_sweep_lock.acquire(timeout=wait.total_seconds()):
            yield False
            return
        try:
            yield True
        finally:
            _local_sweep_lock.release()
        return
    with open(f"{path}-sweeplock", "a+b") as handle:

        def try_flock() -> bool:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            return True

        if not _acquired(try_flock, wait, poll):
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
