"""The hash-chained audit log: intact chains verify, any edit or deletion is named."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from lifecycle.policy import Policy
from lifecycle.proposal import Proposal
from lifecycle.stages import Stage
from store import audit, pilots
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
    assert verify(db) == audit.ChainReport(True, 0)
    three_rows(db, policy, helpdesk)
    assert verify(db) == audit.ChainReport(True, 3)
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
