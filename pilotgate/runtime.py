"""What every entry point needs: settings, the database and the policy, opened once.

The CLI, `serve`, the flows and the tests all build a Runtime; flows running on a remote worker
build their own from the same environment variables.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cached_property

from lifecycle.policy import Policy, load_policy
from pilotgate.settings import Settings
from store.db import Database


class NotMigrated(RuntimeError):
    pass


def utcnow() -> datetime:
    return datetime.now(UTC)


class Runtime:
    def __init__(
        self,
        settings: Settings | None = None,
        *,
        db: Database | None = None,
        policy: Policy | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self._db = db
        self._policy = policy

    @cached_property
    def db(self) -> Database:
        return self._db or Database(self.settings.database_url)

    @cached_property
    def policy(self) -> Policy:
        return self._policy or load_policy(self.settings.policy)

    def require_schema(self) -> None:
        from store.migrate import current

        url = self.settings.database_url if self._db is None else self.db.url
        if _missing_sqlite_file(url) or current(url) is None:
            raise NotMigrated(
                "the database has no pilotgate schema yet: run `pilotgate db upgrade`"
                f" (database: {redact_url(self.db.url)})"
            )


def _missing_sqlite_file(url: str) -> bool:
    """Checking the schema must not create an empty SQLite file as a side effect."""
    from pathlib import Path

    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return False
    return not Path(parsed.database).exists()


def redact_url(url: str) -> str:
    """Hide a password in a database URL before it is printed."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable database url>"


_current: Runtime | None = None


def get_runtime() -> Runtime:
    """The process-wide runtime (flows on a worker use this one)."""
    global _current
    if _current is None:
        _current = Runtime()
    return _current


def set_runtime(runtime: Runtime | None) -> None:
    global _current
    _current = runtime
