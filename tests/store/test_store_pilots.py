"""Pilots in the register: creation within the portfolio cap, conditional stage changes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from lifecycle.policy import Policy
from lifecycle.proposal import Proposal
from lifecycle.stages import IllegalTransition, Stage
from store import pilots
from store.db import Database
from store.errors import Conflict, NotFound
from store.models import AuditEntry, Pilot, StageChange

NOW = datetime(2026, 2, 2, 9, 30, tzinfo=UTC)
Count = Callable[[Any], int]


def test_create_pilot_writes_pilot_history_and_audit(
    db: Database, policy: Policy, helpdesk: Proposal, count: Count
) -> None:
    with db.session() as s:
        pilot = pilots.create_pilot(s, helpdesk, policy, actor="alice", now=NOW)
        pilot_id = pilot.id
    assert pilot_id.startswith("pg-") and len(pilot_id) == 11
    with db.session() as s:
        stored = pilots.get_pilot(s, pilot_id)
        assert (stored.title, stored.portfolio, stored.stage) == (
            "IT help-desk assistant",
            "it-operations",
            "proposal",
        )
        assert (stored.risk_tier, stored.customer_facing) == ("low", False)
        assert (stored.proposer, stored.business_owner) == ("U0PRO0001", "U0BIZ0001")
        assert stored.created_at == NOW
        assert stored.pilot_started_at is None and stored.deploy_by is None
        assert pilots.proposal_of(stored) == helpdesk
        [change] = pilots.stage_history(s, pilot_id)
        assert (change.from_stage, change.to_stage, change.actor, change.reason, change.at) == (
            None,
            "proposal",
            "alice",
            "proposed",
            NOW,
        )
        [entry] = s.query(AuditEntry).all()
        assert (entry.id, entry.actor, entry.action, entry.pilot_id) == (
            1,
            "alice",
            "pilot.proposed",
            pilot_id,
        )
        assert entry.data == {"title": "IT help-desk assistant", "portfolio": "it-operations"}
    assert (count(Pilot), count(StageChange), count(AuditEntry)) == (1, 1, 1)


def test_get_pilot_unknown_id(session: Session) -> None:
    with pytest.raises(NotFound, match="no pilot with id 'pg-00000000'"):
        pilots.get_pilot(session, "pg-00000000")


def create_n(db: Database, proposal: Proposal, policy: Policy, n: int) -> list[str]:
    ids = []
    for i in range(n):
        with db.session() as s:
            p = pilots.create_pilot(
                s,
                proposal.model_copy(update={"title": f"Pilot {i}"}),
                policy,
                actor="test",
                now=NOW + timedelta(minutes=i),
            )
            ids.append(p.id)
    return ids


def test_sixth_active_pilot_is_refused_and_nothing_is_written(
    db: Database, policy: Policy, helpdesk: Proposal, count: Count
) -> None:
    assert policy.portfolio.cap_for("it-operations") == 5
    create_n(db, helpdesk, policy, 5)
    before = (count(Pilot), count(StageChange), count(AuditEntry))
    assert before == (5, 5, 5)
    with (
        pytest.raises(
            Conflict,
            match=r"portfolio 'it-operations' already has 5 active "
            r"pilot\(s\), its cap is 5",
        ),
        db.session() as s,
    ):
        pilots.create_pilot(s, helpdesk, policy, actor="test", now=NOW + timedelta(hours=1))
    assert (count(Pilot), count(StageChange), count(AuditEntry)) == before
    # Another portfolio is not affected by this one's cap.
    other = helpdesk.model_copy(update={"portfolio": "finance-ops"})
    with db.session() as s:
        pilots.create_pilot(s, other, policy, actor="test", now=NOW)


def test_a_terminated_pilot_frees_its_place(
    db: Database, policy: Policy, helpdesk: Proposal
) -> None:
    ids = create_n(db, helpdesk, policy, 5)
    with db.session() as s:
        assert pilots.move_stage(
            s,
            ids[0],
            expected=Stage.PROPOSAL,
            target=Stage.TERMINATED,
            actor="sweep",
            reason="rejected at the proposal gate",
            now=NOW,
        )
    with db.session() as s:
        assert pilots.active_count(s, "it-operations") == 4
        pilots.create_pilot(s, helpdesk, policy, actor="test", now=NOW)


def test_per_portfolio_cap(session: Session, policy: Policy, helpdesk: Proposal) -> None:
    data = policy.model_dump(mode="json")
    data["portfolio"]["caps"] = {"it-operations": 1}
    capped = Policy.model_validate(data)
    pilots.create_pilot(session, helpdesk, capped, actor="test", now=NOW)
    with pytest.raises(Conflict, match="its cap is 1"):
        pilots.create_pilot(session, helpdesk, capped, actor="test", now=NOW)


def test_move_stage_is_conditional_on_the_expected_stage(
    db: Database, policy: Policy, helpdesk: Proposal, count: Count
) -> None:
    [pid] = create_n(db, helpdesk, policy, 1)
    with db.session() as s:
        moved = pilots.move_stage(
            s,
            pid,
            expected=Stage.PILOT,
            target=Stage.READINESS_REVIEW,
            actor="flow",
            reason="stale view",
            now=NOW,
        )
        assert moved is False
    assert (count(StageChange), count(AuditEntry)) == (1, 1)
    with db.session() as s:
        assert pilots.get_pilot(s, pid).stage == "proposal"


def test_move_stage_refuses_an_illegal_transition(
    db: Database, policy: Policy, helpdesk: Proposal, count: Count
) -> None:
    [pid] = create_n(db, helpdesk, policy, 1)
    with (
        pytest.raises(IllegalTransition, match="cannot move from proposal to production"),
        db.session() as s,
    ):
        pilots.move_stage(
            s,
            pid,
            expected=Stage.PROPOSAL,
            target=Stage.PRODUCTION,
            actor="flow",
            reason="skip ahead",
            now=NOW,
        )
    with db.session() as s:
        assert pilots.get_pilot(s, pid).stage == "proposal"
    assert (count(StageChange), count(AuditEntry)) == (1, 1)


def test_move_stage_records_history_dates_and_end(
    db: Database, policy: Policy, helpdesk: Proposal, count: Count
) -> None:
    [pid] = create_n(db, helpdesk, policy, 1)
    started = NOW + timedelta(days=3)
    with db.session() as s:
        assert pilots.move_stage(
            s,
            pid,
            expected=Stage.PROPOSAL,
            target=Stage.PILOT,
            actor="flow",
            reason="gate approved",
            now=started,
            policy=policy,
        )
    with db.session() as s:
        pilot = pilots.get_pilot(s, pid)
        assert pilot.stage == "pilot"
        assert pilot.pilot_started_at == started
        assert pilot.deploy_by == started + timedelta(days=182)
        assert pilot.ended_at is None
    ended = started + timedelta(days=30)
    with db.session() as s:
        assert pilots.move_stage(
            s,
            pid,
            expected=Stage.PILOT,
            target=Stage.TERMINATED,
            actor="sweep",
            reason="deploy-or-terminate date passed",
            now=ended,
        )
    with db.session() as s:
        pilot = pilots.get_pilot(s, pid)
        assert (pilot.stage, pilot.ended_at, pilot.end_reason) == (
            "terminated",
            ended,
            "deploy-or-terminate date passed",
        )
        history = [(h.from_stage, h.to_stage) for h in pilots.stage_history(s, pid)]
        assert history == [(None, "proposal"), ("proposal", "pilot"), ("pilot", "terminated")]
        assert pilots.active_count(s, "it-operations") == 0
        assert [p.id for p in pilots.list_pilots(s, Stage.TERMINATED)] == [pid]
        assert pilots.list_pilots(s, Stage.PILOT) == []
    assert count(AuditEntry) == 3
