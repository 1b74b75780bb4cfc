"""Approvals are bound to the evidence they were shown.

On SQLite and PostgreSQL: a readiness gate opens while first-contact resolution misses its
target, and an architect approves. New measurements, imported through the CLI as a programme
manager does, make the target met: the gate's evidence is replaced on record, the architect's
approval stops counting, their message is closed and they are asked again with the new
evidence; a click on the old message is refused with the reason. Measurements that leave every
verdict as it was change nothing. Under `on_evidence_change: keep` the approval stands.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from config.settings import Settings
from lifecycle.evidence import verdict_digest
from lifecycle.gates import Verdict
from lifecycle.policy import load_policy
from lifecycle.policy_versions import stamp
from lifecycle.proposal import load_proposal
from lifecycle.stages import Stage
from pilotgate.cli import app
from store import gates, metrics, pilots
from store.db import Database
from store.models import AuditEntry, Decision, OutboxMessage, SignoffRequest
from tasks.answers import screen
from tasks.gates import open_gate
from tasks.inputs import OpenGateInput
from tasks.runtime import Runtime, set_runtime

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NOW = datetime.now(UTC).replace(microsecond=0)
ARC = "U0ARC0001"


@pytest.fixture(params=["reask", "keep"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def policy_path(tmp_path: Path, mode: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(
        (EXAMPLES / "policy.yaml").read_text().replace(
            "on_evidence_change: reask", f"on_evidence_change: {mode}"
        )
    )
    assert load_policy(path).evidence.on_evidence_change == mode
    return path


@pytest.fixture
def gate(db: Database, policy_path: Path) -> Iterator[tuple[Runtime, str, int]]:
    policy = load_policy(policy_path)
    rt = Runtime(Settings(PILOTGATE_DATABASE_URL=db.url), db=db, policy=policy)
    set_runtime(rt)
    with db.session() as session:
        pilot = pilots.create_pilot(
            session, load_proposal(EXAMPLES / "helpdesk-assistant.yaml"), policy, actor="test",
            now=NOW - timedelta(days=60),
        )
        for target in (Stage.PILOT, Stage.READINESS_REVIEW):
            current = Stage.PROPOSAL if target is Stage.PILOT else Stage.PILOT
            assert pilots.move_stage(session, pilot.id, expected=current, target=target,
                                     actor="test", reason="test", now=NOW - timedelta(days=3),
                                     policy=policy)
        for metric, unit, values in (
            ("resolution_minutes", "minutes", [1.1, 0.9, 1.0]),
            ("first_contact_resolution", "percent", [70.0, 72.0, 71.0]),
        ):
            for i, value in enumerate(values):
                metrics.record_metric(session, pilot.id, metric=metric, value=value, unit=unit,
                                      observed_at=NOW - timedelta(days=2, hours=i),
                                      source="test", now=NOW - timedelta(days=2), actor="test")
    opened = open_gate.fn(OpenGateInput(pilot_id=pilot.id, stage=Stage.READINESS_REVIEW,
                                        actor="test", now=NOW - timedelta(days=1)))
    with db.session() as session:
        request = next(r for r in gates.requests_for(session, opened.gate_id)
                       if r.approver == ARC)
        assert gates.record_decision(session, request, verdict=Verdict.APPROVE, reason=None,
                                     now=NOW - timedelta(hours=20), source="slack").recorded
    yield rt, pilot.id, opened.gate_id
    set_runtime(None)


def import_csv(db: Database, policy: Path, tmp: Path, pilot_id: str, rows: list[str]
               ) -> tuple[int, str, str]:
    csv = tmp / f"obs{len(list(tmp.glob('obs*')))}.csv"
    csv.write_text("metric,value,observed_at\n" + "\n".join(rows) + "\n")
    unset: dict[str, str | None] = {
        k: None for k in os.environ if k.startswith(("PILOTGATE_", "SLACK_"))
    }
    env = {**unset, "PILOTGATE_DATABASE_URL": db.url, "PILOTGATE_POLICY": str(policy),
           "COLUMNS": "200", "NO_COLOR": "1"}
    result = CliRunner().invoke(app, ["metric", "import", pilot_id, str(csv)], env=env,
                                catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def counts(db: Database) -> tuple[int, int, int]:
    with db.session() as session:
        return tuple(  # type: ignore[return-value]
            session.execute(select(func.count()).select_from(m)).scalar_one()
            for m in (SignoffRequest, OutboxMessage, AuditEntry)
        )


def test_new_measurements_that_change_the_verdict_ask_the_approver_again(
    gate: tuple[Runtime, str, int], policy_path: Path, tmp_path: Path, mode: str
) -> None:
    rt, pilot_id, gate_id = gate
    with rt.db.session() as session:
        shown = gates.get_gate(session, gate_id).evidence
        decision = session.execute(select(Decision).where(Decision.gate_id == gate_id)
                                   ).scalar_one()
        assert decision.evidence_digest == verdict_digest(shown)
        old_request = decision.request_id
        outbox_before = session.execute(select(func.max(OutboxMessage.id))).scalar_one()

    # Same verdicts (resolution still met, first contact still short): nothing changes.
    before = counts(rt.db)
    at = (NOW - timedelta(hours=5)).isoformat()
    code, out, err = import_csv(rt.db, policy_path, tmp_path, pilot_id,
                                [f"first_contact_resolution,73,{at}"])
    assert code == 0, err
    assert "evidence changed" not in out
    assert counts(rt.db)[0] == before[0] and counts(rt.db)[1] == before[1]

    rows = [f"first_contact_resolution,{v},{(NOW - timedelta(hours=4 - i)).isoformat()}"
            for i, v in enumerate([86, 88, 87, 89])]
    code, out, err = import_csv(rt.db, policy_path, tmp_path, pilot_id, rows)
    assert code == 0, err
    assert (
        f"gate {gate_id}'s evidence changed: metric first_contact_resolution: not_met -> met"
    ) in out

    with rt.db.session() as session:
        g = gates.get_gate(session, gate_id)
        statuses = {m["name"]: m["status"] for m in (g.evidence or {})["metrics"]}
        assert statuses == {"resolution_minutes": "met", "first_contact_resolution": "met"}
        changed = session.execute(
            select(AuditEntry).where(AuditEntry.action == "gate.evidence_changed")
        ).scalar_one()
        assert changed.data["changed"] == {
            "metric first_contact_resolution": ["not_met", "met"]}
        evaluation = gates.evaluate(session, g, NOW)
        new_rows = session.execute(
            select(OutboxMessage).where(OutboxMessage.id > outbox_before)
            .order_by(OutboxMessage.id)
        ).scalars().all()
        if mode == "keep":
            assert "asked again" not in out
            assert evaluation.approvals["architecture"] == [ARC]
            assert changed.data["reasked"] == []
            assert not [m for m in new_rows if m.payload.get("user") == ARC]
            return
        assert f"{ARC} (architecture) approved on the old evidence and is asked again" in out
        assert evaluation.approvals["architecture"] == []
        live = [r for r in gates.active_requests_for(session, gate_id) if r.approver == ARC]
        assert len(live) == 1 and live[0].id != old_request and live[0].role == "architecture"
        assert changed.data["reasked"] == [[ARC, "architecture", live[0].id]]
        asks = [m for m in new_rows if m.method == "chat.postMessage"
                and m.payload.get("user") == ARC]
        assert len(asks) == 1
        assert ":white_check_mark:" in str(asks[0].payload["blocks"])
        closes = [m for m in new_rows if m.ref_kind == "request_update"
                  and m.ref_id == str(old_request)]
        assert closes and "The evidence changed after you approved" in str(closes[0].payload)
        target, refused = screen(session, old_request, ARC, NOW)
        assert target is not None and refused is not None
        assert refused.startswith("The evidence changed after this message was sent")

    # `pilotgate status` tells the old approval from the live ask.
    unset: dict[str, str | None] = {
        k: None for k in os.environ if k.startswith(("PILOTGATE_", "SLACK_"))
    }
    env = {**unset, "PILOTGATE_DATABASE_URL": rt.db.url, "PILOTGATE_POLICY": str(policy_path),
           "COLUMNS": "200", "NO_COLOR": "1"}
    shown = CliRunner().invoke(app, ["status", pilot_id, "--json"], env=env)
    assert shown.exit_code == 0, shown.stderr
    arc = [r for r in json.loads(shown.stdout)["gate"]["requests"] if r["approver"] == ARC]
    assert [(r["answer"], r["superseded"]) for r in arc] == [("approve", True), (None, False)]
    assert json.loads(shown.stdout)["gate"]["policy"] == stamp(rt.policy).short
    table = CliRunner().invoke(app, ["status", pilot_id], env=env)
    assert "approve (superseded, does not count)" in table.stdout
