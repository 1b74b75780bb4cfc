"""Gates in the register: one open gate per pilot, idempotent decisions, resolution on quorum."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, inspect
from sqlalchemy.exc import IntegrityError

from lifecycle.gates import GateStatus, Verdict, plan_gate
from lifecycle.policy import Policy
from lifecycle.proposal import Proposal
from lifecycle.stages import Stage
from store import gates, pilots
from store.db import Database
from store.errors import Conflict, NotFound
from store.models import AuditEntry, Decision, Gate, SignoffRequest

NOW = datetime(2026, 2, 2, 9, 30, tzinfo=UTC)
DEADLINE = NOW + timedelta(days=14)
Count = Callable[[Any], int]


def proposal_gate(
    db: Database, policy: Policy, proposal: Proposal
) -> tuple[str, int, dict[str, int]]:
    """A pilot with its proposal gate open: requests by approver id."""
    plan = plan_gate(policy, proposal, Stage.PROPOSAL, Stage.PILOT)
    with db.session() as s:
        pilot = pilots.create_pilot(s, proposal, policy, actor="test", now=NOW)
        gate = gates.open_gate(
            s, pilot.id, plan, deadline=DEADLINE, escalation_role=None, now=NOW, actor="test"
        )
        requests = {r.approver: r.id for r in gates.requests_for(s, gate.id)}
        return pilot.id, gate.id, requests


def record(
    db: Database,
    request_id: int,
    verdict: Verdict = Verdict.APPROVE,
    at: datetime = NOW + timedelta(hours=1),
) -> gates.DecisionOutcome:
    with db.session() as s:
        return gates.record_decision(
            s,
            gates.get_request(s, request_id),
            verdict=verdict,
            reason="because",
            now=at,
            source="test",
        )


def test_open_gate_writes_gate_and_requests(
    db: Database, policy: Policy, helpdesk: Proposal, count: Count
) -> None:
    pid, gate_id, requests = proposal_gate(db, policy, helpdesk)
    assert set(requests) == {"U0PMO0001", "U0PMO0002", "U0FIN0001"}
    with db.session() as s:
        gate = gates.get_gate(s, gate_id)
        assert (gate.pilot_id, gate.stage, gate.target, gate.status) == (
            pid,
            "proposal",
            "pilot",
            "open",
        )
        assert gate.quorum == {"programme_office": 1, "finance": 1}
        assert gate.excluded == ["U0BIZ0001", "U0PRO0001"]
        assert gate.deadline == DEADLINE
        assert gates.open_gate_for(s, pid).id == gate_id
        actions = [e.action for e in s.query(AuditEntry).order_by(AuditEntry.id)]
        assert actions == ["pilot.proposed", "gate.opened"]
    assert count(SignoffRequest) == 3


def test_a_second_open_gate_is_refused(
    db: Database, policy: Policy, helpdesk: Proposal, count: Count
) -> None:
    pid, _, _ = proposal_gate(db, policy, helpdesk)
    plan = plan_gate(policy, helpdesk, Stage.PROPOSAL, Stage.PILOT)
    with (
        pytest.raises(
            Conflict,
            match=f"pilot {pid} already has an open gate "
            r"\(proposal -> pilot",
        ),
        db.session() as s,
    ):
        gates.open_gate(
            s, pid, plan, deadline=DEADLINE, escalation_role=None, now=NOW, actor="test"
        )
    assert (count(Gate), count(SignoffRequest), count(AuditEntry)) == (1, 3, 2)


def test_open_gate_checks_the_pilot_and_its_stage(
    db: Database, policy: Policy, helpdesk: Proposal
) -> None:
    plan = plan_gate(policy, helpdesk, Stage.PILOT, Stage.READINESS_REVIEW)
    with db.session() as s:
        pid = pilots.create_pilot(s, helpdesk, policy, actor="test", now=NOW).id
    with pytest.raises(Conflict, match="is in proposal, not pilot"), db.session() as s:
        gates.open_gate(
            s, pid, plan, deadline=DEADLINE, escalation_role=None, now=NOW, actor="test"
        )
    with pytest.raises(NotFound), db.session() as s:
        gates.open_gate(
            s, "pg-missing", plan, deadline=DEADLINE, escalation_role=None, now=NOW, actor="test"
        )


def test_record_decision_is_idempotent(
    db: Database, policy: Policy, helpdesk: Proposal, count: Count
) -> None:
    _, gate_id, requests = proposal_gate(db, policy, helpdesk)
    outcomes = [record(db, requests["U0PMO0001"]) for _ in range(3)]
    assert count(Decision) == 1
    assert not any(o.resolved_now for o in outcomes)
    assert all(o.evaluation.status is GateStatus.PENDING for o in outcomes)
    with db.session() as s:
        assert gates.get_gate(s, gate_id).status == "open"
        decisions = [e.action for e in s.query(AuditEntry) if e.action.startswith("decision.")]
    # A redelivery is a no-op: reported as not recorded, and not audited again.
    assert [o.recorded for o in outcomes] == [True, False, False]
    assert decisions == ["decision.approve"]


def test_quorum_resolves_the_gate_once(
    db: Database, policy: Policy, helpdesk: Proposal, count: Count
) -> None:
    _, gate_id, requests = proposal_gate(db, policy, helpdesk)
    assert not record(db, requests["U0PMO0001"]).resolved_now
    at = NOW + timedelta(hours=2)
    outcome = record(db, requests["U0FIN0001"], at=at)
    assert outcome.recorded and outcome.resolved_now
    assert outcome.evaluation.status is GateStatus.APPROVED
    assert outcome.gate.status == "approved"
    with db.session() as s:
        gate = gates.get_gate(s, gate_id)
        assert (gate.status, gate.resolved_at) == ("approved", at)
        assert gate.outcome_reason == "quorum reached: programme_office 1/1, finance 1/1"
        assert gates.open_gate_for(s, gate.pilot_id) is None
        actions = [e.action for e in s.query(AuditEntry).order_by(AuditEntry.id)]
        assert actions[-1] == "gate.approved"
    # A redelivery after resolution, and a late answer, change nothing.
    again = record(db, requests["U0FIN0001"])
    late = record(db, requests["U0PMO0002"], Verdict.REJECT)
    assert not again.recorded and not again.resolved_now
    assert not late.recorded and not late.resolved_now
    assert count(Decision) == 2
    with db.session() as s:
        assert gates.get_gate(s, gate_id).status == "approved"
        # Exactly one claimant acts on the resolved gate.
        assert gates.claim_continuation(s, gate_id, NOW + timedelta(hours=3)) is True
        assert gates.claim_continuation(s, gate_id, NOW + timedelta(hours=3)) is False


def test_a_rejection_resolves_the_gate(db: Database, policy: Policy, helpdesk: Proposal) -> None:
    _, gate_id, requests = proposal_gate(db, policy, helpdesk)
    outcome = record(db, requests["U0FIN0001"], Verdict.REJECT)
    assert outcome.resolved_now and outcome.evaluation.status is GateStatus.REJECTED
    with db.session() as s:
        gate = gates.get_gate(s, gate_id)
        assert gate.status == "rejected"
        assert gate.outcome_reason == "U0FIN0001 rejected: because"


def test_a_decision_after_the_deadline_does_not_resolve(
    db: Database, policy: Policy, helpdesk: Proposal
) -> None:
    _, gate_id, requests = proposal_gate(db, policy, helpdesk)
    record(db, requests["U0PMO0001"])
    late = record(db, requests["U0FIN0001"], at=DEADLINE + timedelta(minutes=1))
    assert late.recorded and not late.resolved_now
    assert late.evaluation.status is GateStatus.EXPIRED
    with db.session() as s:
        assert gates.get_gate(s, gate_id).status == "open"  # the sweep expires it
        assert [g.id for g in gates.open_gates_past_deadline(s, DEADLINE + timedelta(hours=1))] == [
            gate_id
        ]


def test_unique_constraint_uq_decision_once_exists(
    db: Database, policy: Policy, helpdesk: Proposal
) -> None:
    uniques = inspect(db.engine).get_unique_constraints("decisions")
    assert {"name": "uq_decision_once", "column_names": ["request_id", "approver"]} in [
        {"name": u["name"], "column_names": u["column_names"]} for u in uniques
    ]
    _, gate_id, requests = proposal_gate(db, policy, helpdesk)
    row = {
        "request_id": requests["U0PMO0001"],
        "gate_id": gate_id,
        "approver": "U0PMO0001",
        "verdict": "approve",
        "reason": None,
        "decided_at": NOW,
        "source": "raw",
    }
    with db.session() as s:
        s.execute(insert(Decision).values(**row))
    with pytest.raises(IntegrityError, match="(?i)unique|uq_decision_once"), db.session() as s:
        s.execute(insert(Decision).values(**{**row, "verdict": "reject"}))


def test_mark_reminder_is_first_wins(db: Database, policy: Policy, helpdesk: Proposal) -> None:
    _, _, requests = proposal_gate(db, policy, helpdesk)
    rid = requests["U0PMO0001"]
    with db.session() as s:
        first = gates.mark_reminder(s, rid, 0.5, NOW)
        second = gates.mark_reminder(s, rid, 0.5, NOW)
        other_point = gates.mark_reminder(s, rid, 0.8, NOW)
    # store._rows.insert_ignore must report "nothing inserted" on a conflict, on both backends.
    assert (first, second, other_point) == (True, False, True)
    with db.session() as s:
        assert sorted(gates.reminders_sent(s, rid)) == [0.5, 0.8]
