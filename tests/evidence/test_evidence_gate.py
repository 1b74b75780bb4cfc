"""The readiness gate blocked or warned as the policy says, computed from the register.

`open_gate.fn` runs the task body without Prefect against a real database (SQLite and
PostgreSQL): with `missing_evidence: block` an incomplete review raises EvidenceBlocked and
nothing of the gate is written (no gate, no requests, no Slack message, no audit row); with
`warn` the gate opens and carries the warnings.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from sqlalchemy import func, select

from config.settings import Settings
from lifecycle.policy import EvidenceRules, Policy
from lifecycle.proposal import load_proposal
from lifecycle.stages import Stage
from pilotgate.console import EXIT_CONFLICT, guarded
from store import gates, pilots
from store import metrics as metrics_store
from store.db import Database
from store.models import AuditEntry, Gate, OutboxMessage, SignoffRequest
from tasks.evidence import EvidenceBlocked
from tasks.gates import open_gate
from tasks.inputs import OpenGateInput
from tasks.runtime import Runtime, set_runtime

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def with_rules(policy: Policy, mode: str) -> Policy:
    return policy.model_copy(
        update={
            "evidence": EvidenceRules(
                missing_evidence=mode,  # type: ignore[arg-type]
                last_n=5,
                window_days=14,
            )
        }
    )


@pytest.fixture(params=["block", "warn"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def runtime(db: Database, policy: Policy, mode: str) -> Iterator[Runtime]:
    rt = Runtime(Settings(PILOTGATE_DATABASE_URL=db.url), db=db, policy=with_rules(policy, mode))
    set_runtime(rt)
    yield rt
    set_runtime(None)


def pilot_in(
    rt: Runtime, stage: Stage, entered: datetime, example: str = "helpdesk-assistant"
) -> str:
    """A pilot moved along the forward path to `stage`, arriving there at `entered`."""
    proposal = load_proposal(EXAMPLES / f"{example}.yaml")
    path = [Stage.PILOT, Stage.READINESS_REVIEW, Stage.INTERNAL_ROLLOUT]
    with rt.db.session() as session:
        pilot = pilots.create_pilot(
            session, proposal, rt.policy, actor="test", now=entered - timedelta(days=90)
        )
        current = Stage.PROPOSAL
        for i, target in enumerate(path[: path.index(stage) + 1]):
            at = entered - timedelta(days=len(path) - 1 - i) if target is not stage else entered
            assert pilots.move_stage(
                session,
                pilot.id,
                expected=current,
                target=target,
                actor="test",
                reason="test",
                now=at,
                policy=rt.policy,
            )
            current = target
        return pilot.id


def record(
    rt: Runtime, pilot_id: str, metric: str, unit: str, values: list[float], last_day: datetime
) -> None:
    with rt.db.session() as session:
        for i, value in enumerate(reversed(values)):
            metrics_store.record_metric(
                session,
                pilot_id,
                metric=metric,
                value=value,
                unit=unit,
                observed_at=last_day - timedelta(days=i),
                source="test",
                now=last_day,
                actor="test",
            )


def counts(rt: Runtime) -> tuple[int, int, int, int]:
    with rt.db.session() as session:
        return tuple(
            session.execute(select(func.count()).select_from(t)).scalar_one()  # type: ignore[return-value]
            for t in (Gate, SignoffRequest, OutboxMessage, AuditEntry)
        )


def open_readiness(pilot_id: str, stage: Stage = Stage.READINESS_REVIEW) -> object:
    return open_gate.fn(OpenGateInput(pilot_id=pilot_id, stage=stage, actor="test", now=NOW))


def test_incomplete_evidence_blocks_or_warns(runtime: Runtime, mode: str) -> None:
    pilot_id = pilot_in(runtime, Stage.READINESS_REVIEW, NOW - timedelta(days=1))
    # resolution time meets its target; first-contact resolution is below it; nothing else
    record(
        runtime,
        pilot_id,
        "resolution_minutes",
        "minutes",
        [1.4, 1.1, 0.9, 1.0, 0.8],
        NOW - timedelta(hours=2),
    )
    record(
        runtime,
        pilot_id,
        "first_contact_resolution",
        "percent",
        [70, 72, 71],
        NOW - timedelta(hours=2),
    )
    before = counts(runtime)
    if mode == "block":
        with pytest.raises(EvidenceBlocked) as caught:
            open_readiness(pilot_id)
        message = str(caught.value)
        assert (
            "first_contact_resolution: target not met (71 percent, target 80 or higher)" in message
        )
        assert "resolution_minutes" not in message  # met: not named
        assert "median of the last 5 observations within the last 14 days" in message
        assert f"pilotgate metric record {pilot_id}" in message
        assert counts(runtime) == before  # the whole transaction rolled back
        with runtime.db.session() as session:
            assert gates.open_gate_for(session, pilot_id) is None
        # `pilotgate advance` maps it to exit code 4 with the message on stderr
        with pytest.raises(typer.Exit) as exited, guarded():
            raise caught.value
        assert exited.value.exit_code == EXIT_CONFLICT
    else:
        opened = open_readiness(pilot_id)
        assert len(opened.warnings) == 1  # type: ignore[attr-defined]
        assert "first_contact_resolution: target not met" in opened.warnings[0]  # type: ignore[attr-defined]
        with runtime.db.session() as session:
            gate = gates.open_gate_for(session, pilot_id)
            assert gate is not None and gate.evidence is not None
            metrics = {m["name"]: m for m in gate.evidence["metrics"]}
            assert metrics["resolution_minutes"]["status"] == "met"
            assert metrics["resolution_minutes"]["current"] == 1.0
            assert metrics["first_contact_resolution"]["status"] == "not_met"
            assert metrics["first_contact_resolution"]["current"] == 71
            assert gate.evidence["blocking"] == []


def test_complete_evidence_opens_the_gate_under_either_policy(runtime: Runtime) -> None:
    pilot_id = pilot_in(runtime, Stage.READINESS_REVIEW, NOW - timedelta(days=1))
    record(
        runtime,
        pilot_id,
        "resolution_minutes",
        "minutes",
        [1.4, 1.1, 0.9, 1.0, 0.8],
        NOW - timedelta(hours=2),
    )
    record(
        runtime,
        pilot_id,
        "first_contact_resolution",
        "percent",
        [79, 82, 84, 83, 85],
        NOW - timedelta(hours=2),
    )
    opened = open_readiness(pilot_id)
    assert opened.warnings == []  # type: ignore[attr-defined]
    with runtime.db.session() as session:
        gate = gates.open_gate_for(session, pilot_id)
        assert gate is not None and gate.evidence is not None
        assert [m["status"] for m in gate.evidence["metrics"]] == ["met", "met"]
        assert [c["status"] for c in gate.evidence["criteria"]] == ["met"] * 5


def test_missing_criteria_and_metrics_are_named(runtime: Runtime, mode: str) -> None:
    # clinical: no operations owner; no observations at all
    pilot_id = pilot_in(
        runtime, Stage.READINESS_REVIEW, NOW - timedelta(days=1), "clinical-documentation"
    )
    if mode == "block":
        with pytest.raises(EvidenceBlocked) as caught:
            open_readiness(pilot_id)
        lines = [
            line.strip() for line in str(caught.value).splitlines() if line.strip().startswith("- ")
        ]
        assert [line.split(":")[0] for line in lines] == [
            "- metric documentation_minutes_per_visit",
            "- metric note_error_rate",
            "- criterion operations owner",
        ]
    else:
        opened = open_readiness(pilot_id)
        assert len(opened.warnings) == 3  # type: ignore[attr-defined]


def test_customer_rollout_needs_targets_held_during_internal_rollout(
    runtime: Runtime, mode: str
) -> None:
    entered = NOW - timedelta(days=20)
    pilot_id = pilot_in(runtime, Stage.INTERNAL_ROLLOUT, entered)
    # measured before internal rollout only: no internal-rollout evidence yet
    record(runtime, pilot_id, "resolution_minutes", "minutes", [0.9, 0.8], entered)
    record(runtime, pilot_id, "first_contact_resolution", "percent", [85, 86], entered)
    if mode == "block":
        with pytest.raises(EvidenceBlocked) as caught:
            open_readiness(pilot_id, Stage.INTERNAL_ROLLOUT)
        assert "customer rollout gate did not open" in str(caught.value)
        assert "metric resolution_minutes: no evidence" in str(caught.value)
    # observations over the rollout window that hold the targets: the gate opens
    record(
        runtime,
        pilot_id,
        "resolution_minutes",
        "minutes",
        [0.9, 1.0, 0.8, 0.9],
        NOW - timedelta(hours=1),
    )
    record(
        runtime,
        pilot_id,
        "first_contact_resolution",
        "percent",
        [81, 83, 82, 84],
        NOW - timedelta(hours=1),
    )
    opened = open_readiness(pilot_id, Stage.INTERNAL_ROLLOUT)
    assert opened.warnings == []  # type: ignore[attr-defined]
    with runtime.db.session() as session:
        gate = gates.open_gate_for(session, pilot_id)
        assert gate is not None and gate.target == "customer_rollout"
        assert gate.evidence["kind"] == "internal_rollout"
        rm = gate.evidence["metrics"][0]
        assert rm["values"] == [0.9, 1.0, 0.8, 0.9] and rm["status"] == "met"


def test_other_gates_carry_no_measured_evidence(runtime: Runtime) -> None:
    pilot_id = pilot_in(runtime, Stage.PILOT, NOW - timedelta(days=30))
    opened = open_readiness(pilot_id, Stage.PILOT)  # no observations; nothing blocks here
    assert opened.warnings == []  # type: ignore[attr-defined]
    with runtime.db.session() as session:
        gate = gates.open_gate_for(session, pilot_id)
        assert gate is not None and gate.evidence is None
