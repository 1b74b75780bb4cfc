"""The hash-chained audit log: intact chains verify, any edit or deletion is named."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from lifecycle.policy import Policy
from lifecycle.proposal import Proposal
from lifecycle.stages import Stage
from store import audit, gates, pilots
from store.db import Database
from store.models import AuditEntry

NOW = datetime(2026, 2, 2, 9, 30, tzinfo=UTC)


def three_rows(db: Database, policy: Policy, proposal: Proposal) -> str:
    with db.session() as s:
        pid = pilots.create_pilot(s, proposal, policy, actor="alice", now=NOW).id
    with db.session() as s:
        pilots.move_stage(
            s,
            pid,
            expected=Stage.PROPOSAL,
            target=Stage.PILOT,
            actor="flow",
            reason="approved",
            now=NOW + timedelta(days=1),
            policy=policy,
        )
    with db.session() as s:
        pilots.move_stage(
            s,
            pid,
            expected=Stage.PILOT,
            target=Stage.TERMINATED,
            actor="sweep",
            reason="stalled",
            now=NOW + timedelta(days=2),
        )
    return pid


def verify(db: Database) -> audit.ChainReport:
    with db.session() as s:
        return audit.verify(s)


def test_intact_chain_verifies(db: Database, policy: Policy, helpdesk: Proposal) -> None:
    assert verify(db).ok and verify(db).rows == 0
    three_rows(db, policy, helpdesk)
    assert verify(db).ok and verify(db).rows == 3
    with db.session() as s:
        rows = s.query(AuditEntry).order_by(AuditEntry.id).all()
        assert [r.id for r in rows] == [1, 2, 3]
        assert rows[0].prev_hash == audit.GENESIS
        assert [r.prev_hash for r in rows[1:]] == [r.hash for r in rows[:-1]]


def test_edited_data_is_reported_at_that_row(
    db: Database, policy: Policy, helpdesk: Proposal
) -> None:
    three_rows(db, policy, helpdesk)
    forged = json.dumps({"from": "proposal", "to": "pilot", "reason": "approved by me"})
    cast = "CAST(:d AS JSON)" if db.is_postgres else ":d"
    with db.engine.begin() as conn:
        assert (
            conn.execute(
                text(f"UPDATE audit_log SET data = {cast} WHERE id = 2"), {"d": forged}
            ).rowcount
            == 1
        )
    report = verify(db)
    assert not report.ok
    assert report.first_bad_id == 2
    assert report.problem == "content does not match its hash"


def test_edited_actor_with_recomputed_hash_breaks_the_next_link(
    db: Database, policy: Policy, helpdesk: Proposal
) -> None:
    three_rows(db, policy, helpdesk)
    with db.session() as s:
        row = s.get(AuditEntry, 2)
        assert row is not None
        new_hash = audit.entry_hash(
            row.prev_hash, row.id, row.at, "mallory", row.action, row.pilot_id, row.data
        )
    with db.engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_log SET actor = 'mallory', hash = :h WHERE id = 2"), {"h": new_hash}
        )
    report = verify(db)
    assert (report.ok, report.first_bad_id) == (False, 3)
    assert report.problem == "previous-hash link does not match"


def test_deleted_row_is_reported(db: Database, policy: Policy, helpdesk: Proposal) -> None:
    three_rows(db, policy, helpdesk)
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE id = 2"))
    report = verify(db)
    assert not report.ok
    assert report.first_bad_id == 3
    assert report.problem == "row 2 is missing"


def test_deleted_last_row_is_reported(db: Database, policy: Policy, helpdesk: Proposal) -> None:
    three_rows(db, policy, helpdesk)
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE id = 3"))
    report = verify(db)
    assert (report.ok, report.first_bad_id) == (False, 3)
    assert report.problem == "the chain ends at row 2 but the head says 3"


# ---------------------------------------------------------------- the log vouches for the register


def _decided(db: Database, policy: Policy, proposal: Proposal) -> tuple[str, int]:
    from lifecycle.gates import Verdict, plan_gate

    with db.session() as s:
        pid = pilots.create_pilot(s, proposal, policy, actor="alice", now=NOW).id
        plan = plan_gate(policy, proposal, Stage.PROPOSAL, Stage.PILOT)
        gate = gates.open_gate(
            s, pid, plan, deadline=NOW + timedelta(days=7), escalation_role=None, now=NOW,
            actor="alice",
        )
        request = gates.requests_for(s, gate.id)[0]
        gates.record_decision(
            s, request, verdict=Verdict.APPROVE, reason=None, now=NOW, source="test"
        )
        return pid, request.id


def test_a_deleted_or_edited_decision_is_named(
    db: Database, policy: Policy, helpdesk: Proposal
) -> None:
    _, request_id = _decided(db, policy, helpdesk)
    assert verify(db).ok
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE decisions SET verdict = 'reject' WHERE request_id = :r"),
                     {"r": request_id})
    report = verify(db)
    assert not report.ok
    assert report.problem is not None and f"request {request_id}" in report.problem
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM decisions WHERE request_id = :r"), {"r": request_id})
    report = verify(db)
    assert not report.ok and "the decision is gone or changed" in (report.problem or "")


def test_an_edited_stage_history_or_stage_is_named(
    db: Database, policy: Policy, helpdesk: Proposal
) -> None:
    pid = three_rows(db, policy, helpdesk)
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE stage_history SET reason = 'it was fine' WHERE to_stage = "
                          "'terminated'"))
    report = verify(db)
    assert not report.ok and f"stage change of {pid} from pilot to terminated" in (
        report.problem or ""
    )
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE stage_history SET reason = 'stalled' WHERE to_stage = "
                          "'terminated'"))
        conn.execute(text("UPDATE pilots SET stage = 'pilot' WHERE id = :p"), {"p": pid})
    report = verify(db)
    assert not report.ok
    assert report.problem == (
        f"pilot {pid} is in pilot, but the audit log last moved it to terminated"
    )


def test_truncation_with_a_rewritten_head_is_caught_by_the_recorded_head(
    db: Database, policy: Policy, helpdesk: Proposal
) -> None:
    pid = three_rows(db, policy, helpdesk)
    anchor = verify(db).head
    assert anchor is not None and anchor.rows == 3
    assert audit.Anchor.parse(str(anchor)) == anchor
    # Erase the termination everywhere and make the head agree: consistent with itself...
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE id = 3"))
        conn.execute(text("DELETE FROM stage_history WHERE to_stage = 'terminated'"))
        conn.execute(text("UPDATE pilots SET stage = 'pilot', ended_at = NULL, end_reason = NULL"
                          " WHERE id = :p"), {"p": pid})
        row2 = conn.execute(text("SELECT hash FROM audit_log WHERE id = 2")).scalar_one()
        conn.execute(text("UPDATE audit_head SET last_id = 2, last_hash = :h"), {"h": row2})
    assert verify(db).ok
    # ...but not with the head published before.
    with db.session() as s:
        report = audit.verify(s, expect=anchor)
    assert (report.ok, report.first_bad_id) == (False, 3)
    assert report.problem == "row 3 of the recorded head is missing: rows were deleted or rewritten"
