"""A backlog larger than a page and a batch is worked through in one sweep: no hidden cap.

The page of the due queries and the sweep's batch are made small here (2 and 3) so that a dozen
due items span several pages and batches; the register is real (SQLite and PostgreSQL), the
sweep is the real flow on the session's Prefect API, and nothing else runs (no dispatcher
drain): what is done is done by that one sweep run.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sweep_scene import audit_actions, gates, pilot, sweep, terminations

import tasks.sweep
from config.names import Keys
from lifecycle.proposal import load_proposal
from store import gates as gates_store
from store.models import FlowRequest, Gate, OutboxMessage, Pilot, SignoffRequest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
OVERDUE = 7
EXPIRING = 5


def _backlog(stack: Any) -> tuple[list[str], list[str]]:
    """OVERDUE pilots past their deploy-or-terminate date and EXPIRING pilots whose gate is past
    its deadline after its one extension; each with an open gate and an unanswered request.
    Several share the same deadline to the microsecond, so the pages must break ties by id."""
    now = stack.clock()
    proposal = load_proposal(EXAMPLES / "helpdesk-assistant.yaml").model_dump(mode="json")
    overdue, expiring = [], []
    with stack.db.session() as session:
        for i in range(OVERDUE + EXPIRING):
            pilot_id = f"pg-b{i:06d}"
            late = i < OVERDUE
            (overdue if late else expiring).append(pilot_id)
            session.add(
                Pilot(
                    id=pilot_id,
                    title=f"Backlog pilot {i}",
                    portfolio=f"backlog-{i}",
                    risk_tier="low",
                    customer_facing=False,
                    proposer="U0PRO0001",
                    business_owner="U0BIZ0001",
                    proposal=proposal,
                    stage="pilot",
                    created_at=now - timedelta(days=200),
                    pilot_started_at=now - timedelta(days=200),
                    deploy_by=now - timedelta(hours=1 + i % 2)
                    if late
                    else now + timedelta(days=30),
                )
            )
            session.flush()
            gate = Gate(
                pilot_id=pilot_id,
                stage="pilot",
                target="readiness_review",
                status="open",
                quorum={"programme_office": 1},
                excluded=[],
                any_rejection_rejects=True,
                opened_at=now - timedelta(days=21),
                deadline=now - timedelta(hours=1) if not late else now + timedelta(days=3),
                next_reminder_at=None,
                extended_at=None if late else now - timedelta(days=7),
            )
            session.add(gate)
            session.flush()
            session.add(
                SignoffRequest(
                    gate_id=gate.id,
                    approver="U0PMO0001",
                    role="programme_office",
                    round=0,
                    asked_at=now - timedelta(days=21),
                )
            )
    return overdue, expiring


def test_pages_break_ties_and_miss_nothing(stack: Any) -> None:
    _, expiring = _backlog(stack)
    now = stack.clock()
    seen: list[int] = []
    with stack.db.session() as session:
        for gate in tasks.sweep.pages(
            lambda after, limit: gates_store.open_gates_past_deadline(
                session, now, after=after, limit=limit
            ),
            lambda g: (g.deadline, g.id),
        ):
            seen.append(gate.id)
        expected = session.execute(
            select(Gate.id).where(Gate.pilot_id.in_(expiring)).order_by(Gate.id)
        ).scalars()
        assert sorted(seen) == list(expected)
    assert len(seen) == len(set(seen)) == EXPIRING


def test_a_backlog_is_worked_through_in_one_sweep(
    stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tasks.sweep, "PAGE", 2)
    monkeypatch.setattr(tasks.sweep, "BATCH", 3)
    overdue, expiring = _backlog(stack)
    stack.clock.advance(seconds=60)

    dry = sweep(stack, dry_run=True, drain=False)
    assert sorted(p["pilot_id"] for p in dry["plan"]["overdue_pilots"]) == overdue
    assert sorted(g["pilot_id"] for g in dry["plan"]["expired_gates"]) == expiring

    result = sweep(stack, drain=False)

    assert result["failed"] == 0
    assert len(result["terminated"]) == OVERDUE + EXPIRING
    assert sorted(a["action"] for a in result["deadline_actions"]) == ["expired"] * EXPIRING
    for pilot_id in overdue + expiring:
        ended = pilot(stack, pilot_id)
        assert ended.stage == "terminated", pilot_id
        [change] = terminations(stack, pilot_id)
        assert change.actor == ("sweep" if pilot_id in overdue else "gate")
        assert [g.status for g in gates(stack, pilot_id)] == [
            "cancelled" if pilot_id in overdue else "expired"
        ]
        assert len(audit_actions(stack, "pilot.stage_changed", pilot_id)) == 1
    with stack.db.session() as session:
        # The owner is told about every one of them (queued for the relay).
        told = session.execute(
            select(func.count())
            .select_from(OutboxMessage)
            .where(
                OutboxMessage.dedupe_key.in_(
                    [Keys.terminated(p, "owner") for p in overdue + expiring]
                )
            )
        ).scalar_one()
        assert told == OVERDUE + EXPIRING
        # The expired gates' follow-ups ran inside the sweep: recorded done, by its run.
        follow_ups = session.execute(
            select(FlowRequest.flow, FlowRequest.status, FlowRequest.flow_run_id).where(
                FlowRequest.pilot_id.in_(expiring)
            )
        ).all()
        assert sorted(f for f, _, _ in follow_ups) == sorted(
            ["resolve-gate", "terminate"] * EXPIRING
        )
        assert {s for _, s, _ in follow_ups} == {"done"}
        assert len({r for _, _, r in follow_ups}) == 1 and None not in {
            r for _, _, r in follow_ups
        }

    # Safe to run twice: the next sweep finds nothing left and changes nothing.
    stack.clock.advance(seconds=60)
    again = sweep(stack, drain=False)
    assert again["terminated"] == [] and again["deadline_actions"] == []
    for pilot_id in overdue + expiring:
        assert len(terminations(stack, pilot_id)) == 1
