"""`pilotgate policy simulate`: what a new policy would do to today's register, writing nothing.

A real register on SQLite and PostgreSQL: a stale proposal, a proposal whose gate is open under
the policy in force (stamped with its digest), a pilot long past its start and, all in one
portfolio, more active pilots than the new cap allows. The command runs as a user runs it
(typer's runner on `pilotgate.cli.app`, settings from the environment); afterwards every row
of every table is what it was, and on SQLite the database file and its WAL are the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from config.settings import Settings
from lifecycle.gates import Verdict
from lifecycle.policy import Policy, load_policy
from lifecycle.policy_versions import stamp
from lifecycle.proposal import load_proposal
from lifecycle.stages import Stage
from pilotgate.cli import app
from store import gates, pilots
from store.db import Database
from store.migrate import upgrade
from store.models import Base, Decision, Gate
from tasks.gates import open_gate
from tasks.inputs import OpenGateInput
from tasks.runtime import Runtime, set_runtime

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def new_policy_text() -> str:
    return (
        (EXAMPLES / "policy.yaml")
        .read_text()
        .replace("max_active_pilots: 5 ", "max_active_pilots: 1 ")
        .replace("deploy_or_terminate_days: 182", "deploy_or_terminate_days: 120")
        .replace("proposal_days: 30 ", "proposal_days: 7 ")
        .replace(
            "approvers: {programme_office: 1, finance: 1}",
            "approvers: {programme_office: 2, finance: 1}",
        )
        .replace("roles:", 'version: "2027-Q1"\nroles:', 1)
    )


@pytest.fixture
def register(
    backend: str, tmp_path: Path, policy: Policy, request: pytest.FixtureRequest
) -> Iterator[tuple[Runtime, dict[str, str]]]:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'register.db'}"
        upgrade(url)
        db = Database(url)
    else:
        db = request.getfixturevalue("db")
    rt = Runtime(Settings(PILOTGATE_DATABASE_URL=db.url), db=db, policy=policy)
    set_runtime(rt)
    ids: dict[str, str] = {}
    with db.session() as session:
        for key, days_ago in (("stale", 10), ("gated", 2), ("old", 160)):
            proposal = load_proposal(EXAMPLES / "helpdesk-assistant.yaml").model_copy(
                update={"title": f"Help-desk {key} <&>"}
            )
            pilot = pilots.create_pilot(
                session, proposal, policy, actor="test", now=NOW - timedelta(days=days_ago)
            )
            ids[key] = pilot.id
        assert pilots.move_stage(
            session, ids["old"], expected=Stage.PROPOSAL, target=Stage.PILOT, actor="test",
            reason="test", now=NOW - timedelta(days=150), policy=policy,
        )
    open_gate.fn(
        OpenGateInput(pilot_id=ids["gated"], stage=Stage.PROPOSAL, actor="test",
                      now=NOW - timedelta(days=1))
    )
    with db.session() as session:
        gate = gates.open_gate_for(session, ids["gated"])
        assert gate is not None
        finance = next(r for r in gates.requests_for(session, gate.id) if r.role == "finance")
        gates.record_decision(session, finance, verdict=Verdict.APPROVE, reason=None,
                              now=NOW - timedelta(hours=20), source="test")
    yield rt, ids
    set_runtime(None)
    if backend == "sqlite":
        db.dispose()


def snapshot(db: Database) -> dict[str, list[tuple[object, ...]]]:
    with db.engine.connect() as conn:
        return {
            table.name: [
                tuple(row)
                for row in conn.execute(
                    select(table).order_by(*[c for c in table.primary_key.columns])
                )
            ]
            for table in Base.metadata.sorted_tables
        }


def file_bytes(db: Database) -> str | None:
    if not db.url.startswith("sqlite"):
        return None
    path = Path(db.url.removeprefix("sqlite:///"))
    digest = hashlib.sha256()
    for part in (path, Path(f"{path}-wal")):
        digest.update(part.read_bytes() if part.exists() else b"-")
    return digest.hexdigest()


def run(rt: Runtime, tmp_path: Path, *args: str) -> tuple[int, str, str]:
    unset: dict[str, str | None] = {
        k: None for k in os.environ if k.startswith(("PILOTGATE_", "SLACK_"))
    }
    env = {
        **unset,
        "PILOTGATE_DATABASE_URL": rt.db.url,
        "PILOTGATE_POLICY": str(EXAMPLES / "policy.yaml"),
        "COLUMNS": "200",
        "NO_COLOR": "1",
    }
    result = CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_gates_and_decisions_record_the_policy_they_were_made_under(
    register: tuple[Runtime, dict[str, str]], policy: Policy
) -> None:
    rt, ids = register
    with rt.db.session() as session:
        gate = session.execute(select(Gate).where(Gate.pilot_id == ids["gated"])).scalar_one()
        decision = session.execute(select(Decision).where(Decision.gate_id == gate.id)).scalar_one()
        assert gate.policy_digest == stamp(policy).digest
        assert gate.policy_version is None
        assert decision.policy_digest == stamp(policy).digest


def test_simulate_says_pilot_by_pilot_what_would_change_and_writes_nothing(
    register: tuple[Runtime, dict[str, str]], tmp_path: Path, policy: Policy
) -> None:
    rt, ids = register
    new = tmp_path / "new.yaml"
    new.write_text(new_policy_text())
    rt.db.engine.dispose()
    if rt.db.url.startswith("sqlite"):
        # Fold the WAL into the file first, so "the same bytes" covers everything written.
        with sqlite3.connect(rt.db.url.removeprefix("sqlite:///")) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    rows_before = snapshot(rt.db)
    rt.db.engine.dispose()
    bytes_before = file_bytes(rt.db)

    code, stdout, stderr = run(rt, tmp_path, "policy", "simulate", str(new), "--now",
                               NOW.isoformat(), "--json")
    assert code == 0, stderr
    data = json.loads(stdout)
    assert data["current"] == stamp(policy).short
    assert data["new"].startswith("2027-Q1 (")
    assert "cap on active pilots per portfolio 5 -> 1" in data["changes"]
    by_pilot: dict[str | None, list[str]] = {}
    for finding in data["findings"]:
        by_pilot.setdefault(finding["pilot_id"], []).append(finding["text"])
    assert by_pilot[None] == [
        "portfolio it-operations has 3 active pilots; the new cap is 1 (today 5): no pilot "
        "starts there until 2 end(s)"
    ]
    assert by_pilot[ids["stale"]] == [
        "the next sweep would terminate it: proposed 2026-05-22 and never put to its gate "
        "within the new 7 days"
    ]
    started = (NOW - timedelta(days=150)).strftime("%Y-%m-%d")
    ended = (NOW - timedelta(days=30)).strftime("%Y-%m-%d")
    recorded = (NOW - timedelta(days=150) + timedelta(days=182)).strftime("%Y-%m-%d")
    assert by_pilot[ids["old"]] == [
        f"past the new 120-day deploy-or-terminate limit (pilot started {started}, the limit "
        f"ended {ended}); pilots keep the deploy-by date they started with ({recorded})"
    ]
    assert by_pilot[ids["gated"]] == [
        f"open gate proposal -> pilot keeps the quorum it opened under {stamp(policy).short} "
        "(finance 1, programme_office 1); the new policy asks finance 1, programme_office 2: "
        "re-applied, it would still need programme_office 2"
    ]

    code, table_out, stderr = run(rt, tmp_path, "policy", "simulate", str(new), "--now",
                                  NOW.isoformat())
    assert code == 0, stderr
    assert f"{ids['gated']} Help-desk gated <&>:" in table_out
    assert "nothing was written" in table_out

    rt.db.engine.dispose()
    assert snapshot(rt.db) == rows_before
    rt.db.engine.dispose()
    assert file_bytes(rt.db) == bytes_before


def test_simulate_refuses_a_bad_policy_file_naming_the_field(
    register: tuple[Runtime, dict[str, str]], tmp_path: Path
) -> None:
    rt, _ = register
    bad = tmp_path / "bad.yaml"
    bad.write_text(new_policy_text().replace("max_active_pilots: 1 ", "max_active_pilots: 0 "))
    code, stdout, stderr = run(rt, tmp_path, "policy", "simulate", str(bad))
    assert code == 2
    assert "portfolio.max_active_pilots" in stderr
    assert "Traceback" not in stdout + stderr


def test_diff_prints_the_changes_in_words(tmp_path: Path) -> None:
    new = tmp_path / "new.yaml"
    new.write_text(new_policy_text())
    result = CliRunner().invoke(
        app, ["policy", "diff", str(EXAMPLES / "policy.yaml"), str(new)],
        env={"COLUMNS": "200", "NO_COLOR": "1"},
    )
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1:] == [
        "  - label (none) -> 2027-Q1",
        "  - gate leaving proposal: quorum finance 1, programme_office 1 -> finance 1, "
        "programme_office 2",
        "  - cap on active pilots per portfolio 5 -> 1",
        "  - deploy or terminate within 182 -> 120 days of the pilot's start",
        "  - a proposal must be put to its gate within 30 -> 7 days",
    ]
    load_policy(new)  # the file the test wrote is itself a valid policy
