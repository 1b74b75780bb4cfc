"""The sweep's cost follows the number of due items, not the number of pilots: its queries go
through indexes (EXPLAIN on PostgreSQL with sequential scans disabled, EXPLAIN QUERY PLAN on
SQLite), and among 300 pilots in flight it sees exactly the 2 that are due."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sweep_scene import gates, pilot, sweep

from lifecycle.proposal import load_proposal
from store import gates as gates_store
from store import pilots
from store.models import Gate, Pilot, SignoffRequest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
#: Tables that grow with the portfolio and its history: never read whole.
GROWING = {
    "pilots",
    "gates",
    "signoff_requests",
    "decisions",
    "stage_history",
    "outbox",
    "flow_requests",
    "reminders_sent",
    "audit_log",
    "metric_observations",
}


def _many_pilots(stack: Any, n: int = 300) -> tuple[str, str, datetime]:
    """`n` pilots in flight, a third with an open gate, none due; then one past its
    deploy-or-terminate date and one whose gate is past its deadline."""
    now = stack.clock()
    proposal = load_proposal(EXAMPLES / "helpdesk-assistant.yaml").model_dump(mode="json")
    with stack.db.session() as session:
        for i in range(n):
            started = now - timedelta(days=30)
            session.add(
                Pilot(
                    id=f"pg-m{i:06d}",
                    title=f"Pilot {i}",
                    portfolio=f"portfolio-{i % 75}",
                    risk_tier="low",
                    customer_facing=False,
                    proposer="U0PRO0001",
                    business_owner="U0BIZ0001",
                    proposal=proposal,
                    stage="pilot",
                    created_at=started,
                    pilot_started_at=started,
                    deploy_by=now + timedelta(days=10 + i % 150),
                )
            )
        session.flush()
        for i in range(0, n, 3):
            opened = now - timedelta(days=1)
            gate = Gate(
                pilot_id=f"pg-m{i:06d}",
                stage="pilot",
                target="readiness_review",
                status="open",
                quorum={"programme_office": 1},
                excluded=[],
                any_rejection_rejects=True,
                opened_at=opened,
                deadline=opened + timedelta(days=14),
                next_reminder_at=opened + timedelta(days=7),
            )
            session.add(gate)
            session.flush()
            session.add(
                SignoffRequest(
                    gate_id=gate.id,
                    approver="U0PMO0001",
                    role="programme_office",
                    round=0,
                    asked_at=opened,
                )
            )
        overdue = session.get(Pilot, "pg-m000001")
        assert overdue is not None
        overdue.deploy_by = now - timedelta(hours=1)
        expiring = gates_store.open_gate_for(session, "pg-m000003")
        assert expiring is not None
        expiring.deadline = now - timedelta(hours=1)
        expiring.opened_at = now - timedelta(days=15)
        expiring.next_reminder_at = None
        expiring.extended_at = now - timedelta(days=7)  # extended once already: terminate
    return "pg-m000001", "pg-m000003", now


@contextmanager
def _statements(engine: Any) -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []

    def record(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
    ) -> None:
        if not executemany:
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _plan(db: Any, statement: str, parameters: Any) -> list[str]:
    with db.engine.connect() as conn:
        if db.is_postgres:
            conn.exec_driver_sql("SET enable_seqscan = off")
            rows = conn.exec_driver_sql("EXPLAIN " + statement, parameters).all()
            lines = [r[0] for r in rows]
        else:
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
            lines = [r[-1] for r in rows]
        conn.rollback()
    return lines


def _full_scans(db: Any, lines: list[str]) -> list[str]:
    """The plan lines that read a growing table whole."""
    pattern = r"Seq Scan on (\w+)" if db.is_postgres else r"^SCAN (\w+)"
    return [
        line for line in lines if (m := re.search(pattern, line.strip())) and m.group(1) in GROWING
    ]


def _explain(stack: Any, call: Any) -> list[str]:
    with _statements(stack.db.engine) as seen, stack.db.session() as session:
        call(session)
    [(statement, parameters)] = [s for s in seen if s[0].lstrip().upper().startswith("SELECT")]
    return _plan(stack.db, statement, parameters)


def test_due_queries_use_their_indexes(stack: Any) -> None:
    _many_pilots(stack)
    now = stack.clock()
    # The detector does see a whole-table read when there is one.
    assert _full_scans(stack.db, _explain(stack, lambda s: pilots.list_pilots(s)))
    # Each query's index is bounded by its deadline column, so it reads the due rows only.
    for name, column, call in [
        (
            "open_gates_past_deadline",
            "deadline",
            lambda s: gates_store.open_gates_past_deadline(s, now),
        ),
        (
            "gates_due_for_reminder",
            "next_reminder_at",
            lambda s: gates_store.gates_due_for_reminder(s, now),
        ),
        ("pilots_past_deploy_by", "deploy_by", lambda s: pilots.pilots_past_deploy_by(s, now)),
    ]:
        lines = _explain(stack, call)
        text = "\n".join(lines)
        assert not _full_scans(stack.db, lines), f"{name} reads a whole table:\n{text}"
        if stack.db.is_postgres:
            assert re.search(r"Index (Only )?Scan (using|on) \w+", text), f"{name}:\n{text}"
            bounds = [line for line in lines if "Index Cond" in line]
        else:
            bounds = [
                line for line in lines if re.search(r"SEARCH \w+ USING (COVERING )?INDEX", line)
            ]
        assert any(column in line for line in bounds), f"{name}: not bounded by {column}\n{text}"


def test_among_300_pilots_the_sweep_sees_the_2_due_and_never_scans(stack: Any) -> None:
    overdue, expiring, now = _many_pilots(stack)
    stack.clock.advance(seconds=60)

    with _statements(stack.db.engine) as planned:
        dry = sweep(stack, dry_run=True, drain=False)
    plan = dry["plan"]
    assert [p["pilot_id"] for p in plan["overdue_pilots"]] == [overdue]
    assert [g["pilot_id"] for g in plan["expired_gates"]] == [expiring]
    assert plan["reminders"] == []
    # A handful of queries for two due items, whatever the size of the portfolio.
    assert len([s for s, _ in planned if s.lstrip().upper().startswith("SELECT")]) <= 8

    with _statements(stack.db.engine) as executed:
        result = sweep(stack, drain=False)
    assert len(result["terminated"]) == 2
    assert pilot(stack, overdue).stage == "terminated"
    assert [g.status for g in gates(stack, expiring)] == ["expired"]

    checked = 0
    for statement, parameters in executed:
        verb = statement.lstrip().split(None, 1)[0].upper()
        if (
            verb not in ("SELECT", "UPDATE", "DELETE")
            or "FROM" not in statement.upper()
            and verb == "SELECT"
        ):
            continue
        lines = _plan(stack.db, statement, parameters)
        assert not _full_scans(stack.db, lines), (statement, "\n".join(lines))
        checked += 1
    assert checked >= 10
