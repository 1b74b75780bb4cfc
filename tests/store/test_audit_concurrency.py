"""The audit chain under concurrent decisions: chained at commit, complete and verifiable.

`store.audit.append` only records a row in the session; the rows are numbered and hashed onto the
head just before commit. These tests hold that to what the chain promised before: concurrent
decisions on many gates (and on one gate) leave one audit row per decision, numbered without
gaps, verifying end to end; an appended row does not hold the head lock (on PostgreSQL eight
transactions each append a row and then all wait for each other at a barrier, which would
deadlock if the first append still locked the head); a savepoint rolled back takes its rows with
it; and `current_head` inside a transaction includes the transaction's own rows.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from lifecycle.gates import Verdict, plan_gate
from lifecycle.policy import Policy
from lifecycle.proposal import Proposal
from lifecycle.stages import Stage
from store import audit, gates, pilots
from store.db import Database
from store.models import AuditEntry, Decision

NOW = datetime(2026, 2, 2, 9, 30, tzinfo=UTC)
N = 8


def all_must_approve(policy: Policy) -> Policy:
    """The policy with every programme-office member needed at the proposal gate, so every
    decision of the race counts (none arrives after its gate settled)."""
    proposal_gate = policy.gates[Stage.PROPOSAL]
    approvers = {
        **proposal_gate.approvers,
        "programme_office": len(policy.roles["programme_office"]),
    }
    return policy.model_copy(
        update={
            "gates": {
                **policy.gates,
                Stage.PROPOSAL: proposal_gate.model_copy(update={"approvers": approvers}),
            }
        }
    )


def open_gates(db: Database, policy: Policy, proposal: Proposal, n: int) -> list[int]:
    """n pilots (one portfolio each, so the cap does not bite), each with its proposal gate."""
    plan = plan_gate(policy, proposal, Stage.PROPOSAL, Stage.PILOT)
    out: list[int] = []
    with db.session() as s:
        for i in range(n):
            mine = proposal.model_copy(update={"portfolio": f"race-{i}"})
            pid = pilots.create_pilot(s, mine, policy, actor="alice", now=NOW).id
            gate = gates.open_gate(
                s,
                pid,
                plan,
                deadline=NOW + timedelta(days=7),
                escalation_role=None,
                now=NOW,
                actor="alice",
            )
            out.extend(r.id for r in gates.requests_for(s, gate.id))
    return out


def decide_all(db: Database, request_ids: list[int], *, barrier_after_append: bool) -> None:
    """One thread per request: record its decision (and, first, an extra audit row) in its own
    transaction, all at once."""
    barrier = threading.Barrier(len(request_ids), timeout=30)

    def one(request_id: int) -> None:
        with db.session() as s:
            audit.append(
                s,
                actor="race",
                action="test.before_decision",
                pilot_id=None,
                data={"request_id": request_id},
                now=NOW,
            )
            if barrier_after_append:
                barrier.wait()  # every transaction has appended: none holds the head
            request = gates.get_request(s, request_id)
            gates.record_decision(
                s, request, verdict=Verdict.APPROVE, reason=None, now=NOW, source="test"
            )

    with ThreadPoolExecutor(max_workers=len(request_ids)) as pool:
        list(pool.map(one, request_ids))


def chain_rows(db: Database) -> list[AuditEntry]:
    with db.session() as s:
        return list(s.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars())


def test_concurrent_decisions_keep_the_chain_complete(
    db: Database, policy: Policy, helpdesk: Proposal
) -> None:
    requests = open_gates(db, all_must_approve(policy), helpdesk, N)
    before = len(chain_rows(db))
    # On PostgreSQL the transactions really overlap (each waits at a barrier after its first
    # audit row); SQLite's writers take turns (BEGIN IMMEDIATE), so there they only queue.
    decide_all(db, requests, barrier_after_append=db.is_postgres)
    rows = chain_rows(db)
    with db.session() as s:
        assert s.execute(select(func.count()).select_from(Decision)).scalar_one() == len(requests)
        report = audit.verify(s)
    assert report.ok, report.problem
    assert [r.id for r in rows] == list(range(1, len(rows) + 1))
    new = rows[before:]
    assert sorted(int(r.data["request_id"]) for r in new if r.action == "test.before_decision") == (
        sorted(requests)
    )
    assert sorted(
        int(r.data["request_id"]) for r in new if r.action == "decision.approve"
    ) == sorted(requests)
    # Each transaction's rows are consecutive: its extra row, its decision's row and, for the
    # gate's last decision, the gate's settlement.
    for i, row in enumerate(new):
        if row.action == "test.before_decision":
            assert new[i + 1].action == "decision.approve"
            assert new[i + 1].data["request_id"] == row.data["request_id"]
        elif row.action == "gate.approved":
            assert new[i - 1].action == "decision.approve"
    assert [r.action for r in new].count("gate.approved") == N
    assert report.head == audit.Anchor(len(rows), rows[-1].hash)


def test_concurrent_decisions_on_one_gate_keep_the_chain_complete(
    db: Database, policy: Policy, helpdesk: Proposal
) -> None:
    wide = all_must_approve(policy)
    requests = open_gates(db, wide, helpdesk, 1)
    assert len(requests) >= 3
    decide_all(db, requests, barrier_after_append=db.is_postgres)
    with db.session() as s:
        report = audit.verify(s)
        decided = s.execute(select(func.count()).select_from(Decision)).scalar_one()
    assert report.ok, report.problem
    assert decided == len(requests)
    actions = [r.action for r in chain_rows(db)]
    assert actions.count("decision.approve") == len(requests)
    assert actions.count("gate.approved") == 1
    assert actions[-1] == "gate.approved"  # settled by the last decision, chained after it


def test_rows_of_a_rolled_back_savepoint_are_not_chained(db: Database) -> None:
    with db.session() as s:
        audit.append(s, actor="a", action="test.kept", pilot_id=None, data={"n": 1}, now=NOW)
        try:
            with s.begin_nested():
                audit.append(
                    s, actor="a", action="test.dropped", pilot_id=None, data={"n": 2}, now=NOW
                )
                raise RuntimeError("roll the savepoint back")
        except RuntimeError:
            pass
        with s.begin_nested():
            audit.append(s, actor="a", action="test.kept", pilot_id=None, data={"n": 3}, now=NOW)
    rows = chain_rows(db)
    assert [(r.id, r.action, r.data["n"]) for r in rows] == [
        (1, "test.kept", 1),
        (2, "test.kept", 3),
    ]
    with db.session() as s:
        assert audit.verify(s).ok


def test_a_rolled_back_transaction_chains_nothing(db: Database) -> None:
    try:
        with db.session() as s:
            audit.append(s, actor="a", action="test.lost", pilot_id=None, data={}, now=NOW)
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    with db.session() as s:
        audit.append(s, actor="a", action="test.kept", pilot_id=None, data={}, now=NOW)
    assert [(r.id, r.action) for r in chain_rows(db)] == [(1, "test.kept")]


def test_current_head_includes_the_transactions_own_rows(db: Database) -> None:
    with db.session() as s:
        assert audit.current_head(s) == audit.Anchor(0, audit.GENESIS)
        audit.append(s, actor="a", action="test.one", pilot_id=None, data={}, now=NOW)
        head = audit.current_head(s)
        audit.append(s, actor="a", action="test.two", pilot_id=None, data={}, now=NOW)
    rows = chain_rows(db)
    assert head == audit.Anchor(1, rows[0].hash)
    assert [r.id for r in rows] == [1, 2] and rows[1].prev_hash == rows[0].hash
    with db.session() as s:
        assert audit.current_head(s) == audit.Anchor(2, rows[1].hash)
        assert audit.verify(s).ok


def test_reading_the_head_inside_a_savepoint_that_rolls_back_loses_no_row(db: Database) -> None:
    with db.session() as s:
        audit.append(s, actor="a", action="test.outer", pilot_id=None, data={}, now=NOW)
        try:
            with s.begin_nested():
                # the outer row is not chained here: it would roll back with the savepoint
                assert audit.current_head(s) == audit.Anchor(0, audit.GENESIS)
                raise RuntimeError("roll the savepoint back")
        except RuntimeError:
            pass
    assert [(r.id, r.action) for r in chain_rows(db)] == [(1, "test.outer")]
    with db.session() as s:
        assert audit.verify(s).ok
