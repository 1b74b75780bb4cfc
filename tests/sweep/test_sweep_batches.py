"""The sweep acts on due items several to a transaction; a batch with an item that fails is
rolled back and tried again item by item, so the failing item is rolled back alone (its audit
rows with it) while the others commit, and
the App Homes the batch touches are re-published once each, in the batch's transaction. Real
SQLite and PostgreSQL; the task helpers run without a Prefect run."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

import tasks.sweep
from config.settings import Settings
from lifecycle.policy import Policy
from lifecycle.proposal import load_proposal
from store import audit, pilots
from store.db import Database
from store.models import AuditEntry, OutboxMessage
from tasks import home
from tasks.runtime import Runtime, set_runtime

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def runtime(db: Database, policy: Policy) -> Iterator[Runtime]:
    rt = Runtime(Settings(_env_file=None), db=db, policy=policy)
    set_runtime(rt)
    yield rt
    set_runtime(None)


def _row(n: int, fail: bool = False) -> Callable[[Session], int]:
    def act(session: Session) -> int:
        audit.append(
            session, actor="sweep", action="test.item", pilot_id=None, data={"n": n}, now=NOW
        )
        if fail:
            raise RuntimeError(f"item {n} breaks")
        return n

    return act


def test_a_failing_item_is_rolled_back_alone_and_the_others_commit(
    runtime: Runtime, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tasks.sweep, "PER_TRANSACTION", 2)
    items = [(n, _row(n, fail=n == 2)) for n in range(1, 6)]
    assert tasks.sweep._in_batches("test", NOW, items) == [1, 3, 4, 5]
    with db.session() as s:
        rows = list(s.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars())
        assert audit.verify(s).ok
    assert [(r.id, r.data["n"]) for r in rows] == [(1, 1), (2, 3), (3, 4), (4, 5)]


def _home_publishes(db: Database, user: str) -> int:
    with db.session() as s:
        return len(
            s.execute(
                select(OutboxMessage.id).where(
                    OutboxMessage.method == "views.publish",
                    OutboxMessage.ref_id == user,
                )
            ).all()
        )


def test_a_batch_refreshes_each_home_once(runtime: Runtime, db: Database, policy: Policy) -> None:
    proposal = load_proposal(EXAMPLES / "helpdesk-assistant.yaml")
    with db.session() as s:
        ids = [
            pilots.create_pilot(
                s,
                proposal.model_copy(update={"portfolio": f"batch-{i}"}),
                policy,
                actor="U0PRO0001",
                now=NOW,
            ).id
            for i in range(3)
        ]
        # The proposer (of all three) and one programme-office member have opened their Homes.
        home.publish_home(s, "U0PRO0001", NOW)
        home.publish_home(s, "U0PMO0001", NOW)
    assert (_home_publishes(db, "U0PRO0001"), _home_publishes(db, "U0PMO0001")) == (1, 1)
    later = NOW + timedelta(hours=1)
    with db.session() as s, home.batched(s, later):
        for pid in ids:
            assert home.refresh_pilot(s, pid, later) == []  # noted, refreshed when it ends
    # Once each, though every pilot concerns both; the owner, who has no Home, gets none.
    assert (_home_publishes(db, "U0PRO0001"), _home_publishes(db, "U0PMO0001")) == (2, 2)
    assert _home_publishes(db, "U0BIZ0001") == 0
    # Outside a batch, each refresh publishes at once.
    with db.session() as s:
        for pid in ids:
            assert home.refresh_pilot(s, pid, later) == ["U0PMO0001", "U0PRO0001"]
    assert (_home_publishes(db, "U0PRO0001"), _home_publishes(db, "U0PMO0001")) == (5, 5)


def test_a_batch_that_fails_refreshes_nothing(
    runtime: Runtime, db: Database, policy: Policy
) -> None:
    proposal = load_proposal(EXAMPLES / "helpdesk-assistant.yaml")
    with db.session() as s:
        pid = pilots.create_pilot(s, proposal, policy, actor="U0PRO0001", now=NOW).id
        home.publish_home(s, "U0PRO0001", NOW)
    with pytest.raises(RuntimeError), db.session() as s, home.batched(s, NOW):
        home.refresh_pilot(s, pid, NOW)
        raise RuntimeError("the batch breaks")
    assert _home_publishes(db, "U0PRO0001") == 1
