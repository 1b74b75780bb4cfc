"""Two sweeps at the same moment act once: on PostgreSQL this is the real proof (row locks,
conditional updates, ON CONFLICT); on SQLite the writers queue behind BEGIN IMMEDIATE."""

from __future__ import annotations

import threading
from typing import Any

from sweep_scene import (
    CIO,
    audit_actions,
    busy_portfolio,
    digests,
    dms,
    open_gate,
    pilot,
    reminder_rows,
    requests,
    terminations,
    text_of,
    thread_replies,
)


def test_two_concurrent_sweeps_never_double_act(stack: Any) -> None:
    from flows.sweep import sweep_flow

    scene = busy_portfolio(stack)
    reminded_gate = open_gate(stack, scene.reminded)
    now = stack.clock()
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
        t.join(timeout=180)
    assert not errors, errors
    import json; print('RESULTS', json.dumps([{k: r[k] for k in ('terminated','reminders','digest','deadline_actions')} for r in results], default=str, indent=1))
    assert len(results) == 2
    stack.dispatcher.drain()

    # The overdue pilot: one termination, one owner notice.
    assert pilot(stack, scene.overdue).stage == "terminated"
    assert len(terminations(stack, scene.overdue)) == 1
    terminated = [line for r in results for line in r["terminated"]]
    assert sum(scene.overdue in line for line in terminated) == 1
    # The expired gate: escalated once, the CIO asked once.
    assert len(audit_actions(stack, "gate.escalated", scene.escalating)) == 1
    gate = open_gate(stack, scene.escalating)
    assert [r.approver for r in requests(stack, gate.id)].count(CIO) == 1
    assert len(dms(stack, CIO)) == 1
    assert pilot(stack, scene.escalating).stage == "readiness_review"
    # Reminders: one per approver and point, one message each in the request's thread.
    rows = reminder_rows(stack, reminded_gate.id)
    assert rows == sorted({(a, "0.500") for a, _ in rows}) and len(rows) == 3
    assert sum(r["reminders"] for r in results) == 3
    for request in requests(stack, reminded_gate.id):
        assert len(thread_replies(stack, request)) == 1
    # One digest, and it tells the whole story (not only the half one sweep did).
    [digest] = digests(stack)
    words = text_of(digest)
    assert scene.overdue in words and scene.escalating in words.split("Due in the next")[1]
