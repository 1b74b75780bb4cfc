"""What every task needs: settings, the database and the policy, opened once per process.

The CLI, `serve`, the flows and the tests build a Runtime and install it with `set_runtime`;
a flow running on a remote worker builds its own from the same environment variables the first
time a task asks for it. It lives with the tasks because they are its lowest users: the store
and Slack's outgoing side are handed what they need (a Database, a WebClient) instead.
"""

from __future__ import annotations

from functools import cached_property

from config.settings import Settings
from lifecycle.policy import Policy, load_policy
from store.db import Database, missing_sqlite_file, redact_url
from store.migrate import current


class NotMigrated(RuntimeError):
    pass


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
        url = self.settings.database_url if self._db is None else self.db.url
        if missing_sqlite_file(url) or current(url) is None:
            raise NotMigrated(
                "the database has no pilotgate schema yet: run `pilotgate db upgrade`"
                f" (database: {redact_url(self.db.url)})"
            )


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
