"""The digest's lines about a gate coming due say who it waits on, by name (the policy's, else
Slack's from the `people` cache, else the id), and link the pilot to its page; a hostile Slack
name stays text. The task's body runs on real SQLite and PostgreSQL (no Prefect run needed)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from config.settings import Settings
from lifecycle.gates import plan_gate
from lifecycle.policy import Policy
from lifecycle.proposal import load_proposal
from lifecycle.stages import Stage
from store import gates, people, pilots
from store.db import Database
from store.models import OutboxMessage
from tasks.runtime import Runtime, set_runtime
from tasks.sweep import SweepInput, post_digest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
BASE = "https://pilotgate.example.com"


@pytest.fixture
def runtime(db: Database, policy: Policy) -> Iterator[Runtime]:
    settings = Settings(_env_file=None, PILOTGATE_BASE_URL=BASE)
    rt = Runtime(settings, db=db, policy=policy)
    set_runtime(rt)
    yield rt
    set_runtime(None)


def test_a_due_gate_says_whom_it_waits_on_by_name(
    db: Database, policy: Policy, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PILOTGATE_BASE_URL", BASE)  # config.links reads the settings
    proposal = load_proposal(EXAMPLES / "clinical-documentation.yaml")
    with db.session() as session:
        pilot = pilots.create_pilot(session, proposal, policy, actor="test", now=NOW)
        plan = plan_gate(policy, proposal, Stage.PROPOSAL, Stage.PILOT)
        gate = gates.open_gate(session, pilot.id, plan, deadline=NOW + timedelta(days=3),
                               escalation_role=None, now=NOW, actor="test")
        asked = {r.approver for r in gates.requests_for(session, gate.id)}
        people.record(session, "U0PMO0002", name="<!channel> Jordan", real_name=None,
                      source=people.SLACK, now=NOW)
    assert asked == {"U0PMO0001", "U0PMO0002", "U0FIN0001"}
    rule = policy.model_copy(update={"people": {"U0FIN0001": policy.people["U0FIN0001"]}})
    set_runtime(Runtime(runtime.settings, db=db, policy=rule))

    assert post_digest.fn(SweepInput(now=NOW), []) is True
    with db.session() as session:
        [row] = session.execute(select(OutboxMessage)).scalars().all()
        blocks = json.dumps(row.payload["blocks"])
    due = next(b["text"]["text"] for b in row.payload["blocks"]
               if b.get("text", {}).get("text", "").startswith("*Due in the next"))
    assert f"<{BASE}/pilots/{pilot.id}|{pilot.id}>" in due  # the pilot links to its page
    assert "waiting on" in due and "Dana Smith" in due  # the policy's name
    assert "U0PMO0001" in due  # no name anywhere: the id
    assert "&lt;!channel&gt; Jordan" in due and "<!channel>" not in blocks  # Slack's, as text
