"""Concurrent writers: exactly one winner per stage change, gate resolution and cap slot.

Each thread has its own session (its own connection and transaction) and all start together
at a barrier. On PostgreSQL this proves the conditional updates and locks; SQLite must give the
same answers because every write transaction begins with BEGIN IMMEDIATE.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from lifecycle.gates import GateStatus, Verdict, plan_gate
from lifecycle.policy import Policy
from lifecycle.proposal import Proposal
from lifecycle.stages import Stage
from store import audit, gates, pilots
from store.db import Database
from store.errors import Conflict
from store.models import AuditEntry, Decision, Pilot, StageChange

NOW = datetime(2026, 2, 2, 9, 30, tzinfo=UTC)
N = 8
T = TypeVar("T")
Count = Callable[[Any], int]


def race(
    db: Database,
    n: int,
    work: Callable[[Session, int], T],
    prepare: Callable[[Session, int], None] | None = None,
) -> list[T]:
    """Run work(session, i) in n threads at once; each commits its own transaction."""
    barrier = threading.Barrier(n, timeout=20)

    def one(i: int) -> T:
        with db.session() as s:
            if prepare is not None:
                prepare(s, i)
            barrier.wait()
            result = work(s, i)
            time.sleep(0.05)  # hold the transaction open so the others queue behind it
            return result

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(one, range(n)))


def read_first(pid: str) -> Callable[[Session, int], None]:
    """On PostgreSQL every thread first sees the pilot in `proposal` (a stale read)."""

    def prepare(s: Session, _i: int) -> None:
        if s.get_bind().dialect.name == "postgresql":
            assert s.execute(select(Pilot.stage).where(Pilot.id == pid)).scalar_one() == "proposal"

    return prepare


def test_concurrent_move_stage_has_exactly_one_winner(
    db: Database, policy: Policy, helpdesk: Proposal, count: Count
) -> None:
    with db.session() as s:
        pid = pilots.create_pilot(s, helpdesk, policy, actor="test", now=NOW).id

    def move(s: Session, i: int) -> bool:
        return pilots.move_stage(
            s,
            pid,
            expected=Stage.PROPOSAL,
            target=Stage.PILOT,
            actor=f"worker-{i}",
            reason="gate approved",
            now=NOW + timedelta(seconds=i),
            policy=policy,
        )

    results = race(db, N, move, prepare=read_first(pid))
    assert results.count(True) == 1, results
    with db.session() as s:
        changes = [h for h in pilots.stage_history(s, pid) if h.to_stage == "pilot"]
        assert len(changes) == 1
        winner = results.index(True)
        assert changes[0].actor == f"worker-{winner}"
        assert pilots.get_pilot(s, pid).stage == "pilot"
        assert audit.verify(s).ok
    assert (count(StageChange), count(AuditEntry)) == (2, 2)


def test_concurrent_record_decision_resolves_once(
    db: Database, policy: Policy, helpdesk: Proposal
) -> None:
    # The pilot gate needs one programme_office approval; both members answer at once.
    with db.session() as s:
        pid = pilots.create_pilot(s, helpdesk, policy, actor="test", now=NOW).id
        pilots.move_stage(
            s,
            pid,
            expected=Stage.PROPOSAL,
            target=Stage.PILOT,
            actor="test",
            reason="approved",
            now=NOW,
            policy=policy,
        )
        gate = gates.open_gate(
            s,
            pid,
            plan_gate(policy, helpdesk, Stage.PILOT, Stage.READINESS_REVIEW),
            deadline=NOW + timedelta(days=14),
            escalation_role=None,
            now=NOW,
            actor="test",
        )
        gate_id = gate.id
        request_ids = [r.id for r in gates.requests_for(s, gate_id)]
    assert len(request_ids) == 2

    def decide(s: Session, i: int) -> bool:
        outcome = gates.record_decision(
            s,
            gates.get_request(s, request_ids[i]),
            verdict=Verdict.APPROVE,
            reason=None,
            now=NOW + timedelta(hours=1),
            source="race",
        )
        assert outcome.evaluation.status is GateStatus.APPROVED
        return outcome.resolved_now

    results = race(db, 2, decide)
    assert sorted(results) == [False, True]
    with db.session() as s:
        assert gates.get_gate(s, gate_id).status == "approved"
        resolved = [e for e in s.query(AuditEntry) if e.action == "gate.approved"]
        assert len(resolved) == 1
        assert audit.verify(s).ok


def test_concurrent_halves_of_a_quorum_are_not_lost(
    db: Database, policy: Policy, helpdesk: Proposal
) -> None:
    # programme_office and finance answer at the same moment; neither alone is a quorum.
    plan = plan_gate(policy, helpdesk, Stage.PROPOSAL, Stage.PILOT)
    with db.session() as s:
        pid = pilots.create_pilot(s, helpdesk, policy, actor="test", now=NOW).id
        gate_id = gates.open_gate(
            s,
            pid,
            plan,
            deadline=NOW + timedelta(days=14),
            escalation_role=None,
            now=NOW,
            actor="test",
        ).id
        by_approver = {r.approver: r.id for r in gates.requests_for(s, gate_id)}
    request_ids = [by_approver["U0PMO0001"], by_approver["U0FIN0001"]]

    def decide(s: Session, i: int) -> bool:
        return gates.record_decision(
            s,
            gates.get_request(s, request_ids[i]),
            verdict=Verdict.APPROVE,
            reason=None,
            now=NOW + timedelta(hours=1),
            source="race",
        ).resolved_now

    results = race(db, 2, decide)
    assert sorted(results) == [False, True]
    with db.session() as s:
        assert gates.get_gate(s, gate_id).status == "approved"


def test_concurrent_redeliveries_record_one_decision(
    db: Database, policy: Policy, helpdesk: Proposal, count: Count
) -> None:
    plan = plan_gate(policy, helpdesk, Stage.PROPOSAL, Stage.PILOT)
    with db.session() as s:
        pid = pilots.create_pilot(s, helpdesk, policy, actor="test", now=NOW).id
        gate_id = gates.open_gate(
            s,
            pid,
            plan,
            deadline=NOW + timedelta(days=14),
            escalation_role=None,
            now=NOW,
            actor="test",
        ).id
        rid = next(r.id for r in gates.requests_for(s, gate_id) if r.approver == "U0PMO0001")

    def decide(s: Session, _i: int) -> bool:
        return gates.record_decision(
            s,
            gates.get_request(s, rid),
            verdict=Verdict.APPROVE,
            reason=None,
            now=NOW + timedelta(hours=1),
            source="race",
        ).recorded

    results = race(db, N, decide)
    assert count(Decision) == 1
    assert results.count(True) == 1, results


@pytest.mark.parametrize("existing", [3])
def test_concurrent_proposals_respect_the_cap(
    db: Database, policy: Policy, helpdesk: Proposal, count: Count, existing: int
) -> None:
    for i in range(existing):
        with db.session() as s:
            pilots.create_pilot(s, helpdesk, policy, actor="test", now=NOW + timedelta(minutes=i))
    cap = policy.portfolio.cap_for(helpdesk.portfolio)

    def propose(s: Session, i: int) -> bool:
        try:
            pilots.create_pilot(
                s,
                helpdesk.model_copy(update={"title": f"Racer {i}"}),
                policy,
                actor=f"worker-{i}",
                now=NOW + timedelta(hours=1),
            )
        except Conflict:
            return False
        return True

    results = race(db, N, propose)
    assert results.count(True) == cap - existing, results
    assert count(Pilot) == cap
    with db.session() as s:
        assert pilots.active_count(s, helpdesk.portfolio) == cap
        assert audit.verify(s).ok
