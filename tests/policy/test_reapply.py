"""`pilotgate policy reapply`: an open gate takes the policy in force only when asked to.

On SQLite and PostgreSQL: a proposal gate opens under the example policy and finance approves.
The policy file then changes. The gate keeps its quorum until `reapply`; re-applied, it asks the
newly needed role (both architects, in Slack), keeps finance's approval, records the new policy
on the gate and one audit row. A second change that drops finance supersedes finance's request
(closing its buttons) and, with the programme office's approval already in, settles the gate
and queues its follow-up. A gate already under the policy in force, or a pilot with no open
gate, is refused with exit 4 and nothing written.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from config.settings import Settings
from lifecycle.gates import Verdict
from lifecycle.policy import Policy, parse_policy
from lifecycle.policy_versions import stamp
from lifecycle.proposal import load_proposal
from lifecycle.stages import Stage
from pilotgate.cli import app
from store import gates, pilots
from store.db import Database
from store.models import AuditEntry, FlowRequest, Gate, OutboxMessage, SignoffRequest
from tasks.gates import open_gate
from tasks.inputs import OpenGateInput
from tasks.runtime import Runtime, set_runtime

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NOW = datetime.now(UTC).replace(microsecond=0)
BASE = "approvers: {programme_office: 1, finance: 1}"


def policy_file(tmp_path: Path, name: str, approvers: str) -> Path:
    path = tmp_path / name
    path.write_text((EXAMPLES / "policy.yaml").read_text().replace(BASE, approvers, 1))
    parse_policy(path.read_text())
    return path


@pytest.fixture
def gated(db: Database, policy: Policy) -> Iterator[tuple[Runtime, str, int]]:
    rt = Runtime(Settings(PILOTGATE_DATABASE_URL=db.url), db=db, policy=policy)
    set_runtime(rt)
    with db.session() as session:
        pilot = pilots.create_pilot(
            session, load_proposal(EXAMPLES / "helpdesk-assistant.yaml"), policy, actor="test",
            now=NOW - timedelta(days=2),
        )
    opened = open_gate.fn(OpenGateInput(pilot_id=pilot.id, stage=Stage.PROPOSAL, actor="test",
                                        now=NOW - timedelta(days=1)))
    yield rt, pilot.id, opened.gate_id
    set_runtime(None)


def cli(db: Database, policy: Path, *args: str) -> tuple[int, str, str]:
    unset: dict[str, str | None] = {
        k: None for k in os.environ if k.startswith(("PILOTGATE_", "SLACK_"))
    }
    env = {**unset, "PILOTGATE_DATABASE_URL": db.url, "PILOTGATE_POLICY": str(policy),
           "COLUMNS": "200", "NO_COLOR": "1"}
    result = CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def decide(db: Database, gate_id: int, role: str) -> None:
    with db.session() as session:
        request = next(r for r in gates.requests_for(session, gate_id) if r.role == role)
        assert gates.record_decision(session, request, verdict=Verdict.APPROVE, reason=None,
                                     now=NOW - timedelta(hours=1), source="test").recorded


def counts(db: Database) -> tuple[int, ...]:
    with db.session() as session:
        return tuple(
            session.execute(select(func.count()).select_from(m)).scalar_one()
            for m in (SignoffRequest, OutboxMessage, AuditEntry, FlowRequest)
        )


def test_reapply_asks_the_newly_needed_role_and_keeps_given_answers(
    gated: tuple[Runtime, str, int], tmp_path: Path, policy: Policy
) -> None:
    rt, pilot_id, gate_id = gated
    decide(rt.db, gate_id, "finance")
    wider = policy_file(tmp_path, "wider.yaml",
                        "approvers: {programme_office: 1, finance: 1, architecture: 1}")
    with rt.db.session() as session:
        outbox_before = session.execute(select(func.max(OutboxMessage.id))).scalar_one()

    code, out, err = cli(rt.db, wider, "policy", "reapply", pilot_id, "--yes")
    assert code == 0, err
    wider_stamp = stamp(parse_policy(wider.read_text()))
    assert (
        f"gate {gate_id} of {pilot_id} now follows policy {wider_stamp}: quorum finance 1, "
        "programme_office 1 -> architecture 1, finance 1, programme_office 1"
    ) in out
    assert "asked U0ARC0001 (architecture)" in out and "asked U0ARC0002 (architecture)" in out

    with rt.db.session() as session:
        gate = session.get(Gate, gate_id)
        assert gate is not None
        assert gate.quorum == {"programme_office": 1, "finance": 1, "architecture": 1}
        assert gate.policy_digest == stamp(parse_policy(wider.read_text())).digest
        evaluation = gates.evaluate(session, gate, NOW)
        assert evaluation.approvals["finance"] == ["U0FIN0001"]
        assert evaluation.missing == {"programme_office": 1, "finance": 0, "architecture": 1}
        asks = session.execute(
            select(OutboxMessage).where(OutboxMessage.id > outbox_before)
            .order_by(OutboxMessage.id)
        ).scalars().all()
        assert [(m.method, m.payload["user"]) for m in asks if m.ref_kind == "request"] == [
            ("chat.postMessage", "U0ARC0001"), ("chat.postMessage", "U0ARC0002")]
        # the asks still open (the programme office's) show the new quorum in their tally
        open_ids = [str(r.id) for r in gates.unanswered_requests(session, gate_id)
                    if r.approver not in ("U0ARC0001", "U0ARC0002")]
        assert [(m.method, m.ref_kind, m.ref_id) for m in asks if m.ref_kind != "request"] == [
            ("chat.update", "request_refresh", i) for i in open_ids]
        row = session.execute(
            select(AuditEntry).where(AuditEntry.action == "gate.policy_reapplied")
        ).scalar_one()
        assert row.actor == "cli" and row.pilot_id == pilot_id
        assert row.data["quorum_before"] == {"programme_office": 1, "finance": 1}
        assert row.data["asked"] == [["U0ARC0001", "architecture"], ["U0ARC0002", "architecture"]]

    # The same policy again: refused, nothing written.
    before = counts(rt.db)
    code, _, err = cli(rt.db, wider, "policy", "reapply", pilot_id, "--yes")
    assert code == 4 and "already follows policy" in err
    assert counts(rt.db) == before


def test_reapply_that_drops_a_role_can_settle_the_gate(
    gated: tuple[Runtime, str, int], tmp_path: Path
) -> None:
    rt, pilot_id, gate_id = gated
    decide(rt.db, gate_id, "programme_office")
    narrower = policy_file(tmp_path, "narrower.yaml", "approvers: {programme_office: 1}")
    code, out, err = cli(rt.db, narrower, "policy", "reapply", pilot_id, "--yes", "--json")
    assert code == 0, err
    with rt.db.session() as session:
        gate = session.get(Gate, gate_id)
        assert gate is not None and gate.status == "approved"
        finance = next(r for r in gates.requests_for(session, gate_id) if r.role == "finance")
        assert finance.superseded_at is not None
        queued = session.execute(
            select(FlowRequest).where(FlowRequest.pilot_id == pilot_id)
        ).scalars().all()
        assert [q.flow for q in queued] == ["resolve-gate"]
    assert '"resolved_now": true' in out and '"dropped": [\n    [\n      "U0FIN0001"' in out


def test_no_open_gate_is_refused_without_writing(
    db: Database, policy: Policy, tmp_path: Path
) -> None:
    with db.session() as session:
        pilot = pilots.create_pilot(
            session, load_proposal(EXAMPLES / "helpdesk-assistant.yaml"), policy, actor="test",
            now=NOW,
        )
    before = counts(db)
    code, _, err = cli(db, EXAMPLES / "policy.yaml", "policy", "reapply", pilot.id, "--yes")
    assert code == 4 and f"pilot {pilot.id} has no open gate" in err
    assert "Traceback" not in err
    assert counts(db) == before


def test_someone_who_left_a_role_no_longer_counts_after_reapply(
    gated: tuple[Runtime, str, int], tmp_path: Path
) -> None:
    rt, pilot_id, gate_id = gated
    decide(rt.db, gate_id, "programme_office")  # the first programme-office member approves
    with rt.db.session() as session:
        approver = next(
            r.approver for r in gates.requests_for(session, gate_id)
            if r.role == "programme_office"
        )
    stays = "U0PMO0002" if approver == "U0PMO0001" else "U0PMO0001"
    path = tmp_path / "left.yaml"
    path.write_text(
        (EXAMPLES / "policy.yaml").read_text().replace(
            "programme_office: [U0PMO0001, U0PMO0002]", f"programme_office: [{stays}]"
        )
    )
    code, out, err = cli(rt.db, path, "policy", "reapply", pilot_id, "--yes")
    assert code == 0, err
    assert f"no longer needed: {approver} (programme_office)" in out
    with rt.db.session() as session:
        gate = session.get(Gate, gate_id)
        assert gate is not None and gate.status == "open"
        evaluation = gates.evaluate(session, gate, NOW)
        assert evaluation.approvals["programme_office"] == []
        assert evaluation.missing["programme_office"] == 1
        assert [r.approver for r in gates.active_requests_for(session, gate_id)
                if r.role == "programme_office"] == [stays]
