"""Two sweeps at the same moment act once. On PostgreSQL this is the real proof (row locks,
conditional updates, ON CONFLICT, the advisory sweep lock); on SQLite the writers queue behind
BEGIN IMMEDIATE and the sweep lock is a file lock."""

from __future__ import annotations

import threading
from contextlib import nullcontext
from datetime import datetime
from typing import Any

import pytest
from sweep_scene import assert_acted_once, busy_portfolio, digests, open_gate, text_of

from store import audit


def _two_sweeps_at_once(now: datetime) -> list[dict[str, Any]]:
    from flows.sweep import sweep_flow

    start = threading.Barrier(2)
    results: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def one_sweep() -> None:
        start.wait()
        try:
            results.append(sweep_flow(now=now))
        except BaseException as exc:  # reported below, with the other sweep's outcome
            errors.append(exc)

    threads = [threading.Thread(target=one_sweep, name=f"sweep-{i}") for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    assert len(results) == 2
    return results


def test_two_concurrent_sweeps_never_double_act(stack: Any) -> None:
    scene = busy_portfolio(stack)
    reminded_gate = open_gate(stack, scene.reminded).id
    results = _two_sweeps_at_once(stack.clock())
    stack.dispatcher.drain()

    assert_acted_once(stack, scene, reminded_gate, results)
    # One sweep at a time: the one that got the lock did everything, the other found nothing.
    did = sorted(bool(r["terminated"] or r["deadline_actions"] or r["reminders"])
                 for r in results)
    assert did == [False, True]
    idle = next(r for r in results if not r["terminated"])
    assert idle["plan"] == {**idle["plan"], "expired_gates": [], "overdue_pilots": [],
                            "reminders": []}
    # One digest, and it tells the whole story.
    [digest] = digests(stack)
    words = text_of(digest)
    assert scene.overdue in words.split("Due in the next")[0]
    assert scene.escalating in words.split("Due in the next")[1]
    # It publishes the audit head outside the database; the chain still holds it.
    head = words.split("Audit log head ")[1].split(" ")[0]
    with stack.db.session() as session:
        assert audit.verify(session, expect=audit.Anchor.parse(head)).ok


@pytest.mark.parametrize("backend", ["postgresql"])
def test_without_the_sweep_lock_each_action_still_happens_once(
        stack: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The lock only orders sweeps; each action is guarded on its own (conditional updates,
    ON CONFLICT DO NOTHING), so even two unlocked sweeps at once act once."""
    import flows.sweep

    monkeypatch.setattr(flows.sweep, "sweep_lock", lambda db: nullcontext(True))
    scene = busy_portfolio(stack)
    reminded_gate = open_gate(stack, scene.reminded).id
    results = _two_sweeps_at_once(stack.clock())
    stack.dispatcher.drain()

    assert_acted_once(stack, scene, reminded_gate, results)
    # No digest is lost or doubled: the termination is reported exactly once.
    posted = digests(stack)
    assert 1 <= len(posted) <= 2
    assert sum(scene.overdue in text_of(d) for d in posted) == 1
