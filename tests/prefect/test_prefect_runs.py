"""pilotgate's runs as platform engineers find them in Prefect: named for what they do, tagged
for the pilot, portfolio, stage and gate, logging their decisions at INFO and publishing each
gate's report as an artifact. Real Prefect (the session's API), the real listener and the Slack
emulator, on SQLite and PostgreSQL; everything is read back through Prefect's client."""

from __future__ import annotations

import json
from typing import Any

from prefect import tags
from prefect_reads import artifacts, logs_of, read_run, runs_tagged

from config.names import SWEEP, ArtifactKeys
from store import flow_queue
from store import gates as gates_store
from tasks.run_tags import tags_for

HOSTILE_TITLE = "Pipe | <b>x</b>\nnew line"
ESCAPED_TITLE = "Pipe \\| &lt;b&gt;x&lt;/b&gt; new line"
HOSTILE_REASON = "Logs PHI | see <script>alert(1)</script>\nand *more*"
ESCAPED_REASON = "Logs PHI \\| see &lt;script&gt;alert(1)&lt;/script&gt; and \\*more\\*"


def _advance_as_the_cli(stack: Any, pilot_id: str) -> None:
    """`pilotgate advance` in local mode: the stage flow, tagged where the CLI creates it."""
    from config.names import STAGE_FLOWS
    from lifecycle.stages import Stage

    flow = STAGE_FLOWS[Stage(stack.stage(pilot_id))]
    with tags(*tags_for(flow, {"pilot_id": pilot_id})):
        stack.advance(pilot_id)


def _gate_ids(stack: Any, pilot_id: str) -> list[int]:
    with stack.db.session() as session:
        return [g.id for g in gates_store.gates_for(session, pilot_id)]


def test_a_pilots_runs_are_named_tagged_logged_and_reported(stack: Any) -> None:
    pilot_id = stack.propose(title=HOSTILE_TITLE)
    _advance_as_the_cli(stack, pilot_id)  # proposal gate
    stack.approve_gate(pilot_id)
    _advance_as_the_cli(stack, pilot_id)  # pilot gate (opened by `advance`)
    stack.approve_gate(pilot_id)
    assert stack.stage(pilot_id) == "readiness_review"  # its gate opened on entry (dispatcher)
    architect = next(r for r in stack.open_requests(pilot_id) if r.role == "architecture")
    assert stack.reject(architect, HOSTILE_REASON).status_code == 200
    stack.dispatcher.drain()
    assert stack.stage(pilot_id) == "terminated"
    g1, g2, g3 = _gate_ids(stack, pilot_id)

    # --- names and tags, exactly, as `prefect flow-run ls` / the UI's tag filter show them
    pilot_tag, portfolio = f"pilot:{pilot_id}", "portfolio:it-operations"
    runs = runs_tagged(pilot_tag)
    assert [(r.name, sorted(r.tags)) for r in runs] == [
        (f"proposal · {pilot_id}", sorted([pilot_tag, portfolio, "stage:proposal"])),
        (
            f"resolve-gate · {pilot_id} gate {g1}",
            sorted([f"gate:{g1}", pilot_tag, portfolio, "stage:proposal"]),
        ),
        (f"pilot · {pilot_id}", sorted([pilot_tag, portfolio, "stage:pilot"])),
        (
            f"resolve-gate · {pilot_id} gate {g2}",
            sorted([f"gate:{g2}", pilot_tag, portfolio, "stage:pilot"]),
        ),
        (
            f"readiness-review · {pilot_id}",
            sorted([pilot_tag, portfolio, "stage:readiness_review"]),
        ),
        (
            f"resolve-gate · {pilot_id} gate {g3}",
            sorted([f"gate:{g3}", pilot_tag, portfolio, "stage:readiness_review"]),
        ),
        (f"terminate · {pilot_id}", sorted([pilot_tag, portfolio, "stage:readiness_review"])),
    ]
    assert all(r.state and r.state.is_completed() for r in runs)
    by_name = {r.name: r for r in runs}
    assert [r.name for r in runs_tagged(f"gate:{g3}", pilot_tag)] == [
        f"resolve-gate · {pilot_id} gate {g3}"
    ]

    # --- what each run decided, at INFO, in its run log
    opened = by_name[f"readiness-review · {pilot_id}"]
    logs = logs_of(opened.id, containing=f"gate {g3} opened for pilot {pilot_id}")
    [line] = [log for log in logs if f"gate {g3} opened for pilot {pilot_id}" in log.message]
    assert line.level == 20
    assert "readiness_review -> internal_rollout" in line.message
    assert "asked by role: architecture: U0ARC0001, U0ARC0002; operations: U0OPS0001" in (
        line.message
    )
    assert any("report published as artifact gate-" in log.message for log in logs)
    settled = by_name[f"resolve-gate · {pilot_id} gate {g3}"]
    logs = logs_of(settled.id, containing="terminate flow queued")
    messages = [log.message for log in logs if log.level == 20]
    rejected = f"gate {g3} is rejected: {architect.approver} rejected"
    assert any(m.startswith(rejected) for m in messages)
    assert any(f"gate {g3} settled: pilot {pilot_id} is to be terminated" in m for m in messages)
    ended = by_name[f"terminate · {pilot_id}"]
    logs = logs_of(ended.id, containing=f"pilot {pilot_id} terminated from readiness_review")
    assert any(f"pilot {pilot_id} terminated from readiness_review" in log.message for log in logs)
    everything = " ".join(log.message for run in runs for log in logs_of(run.id, timeout=0))
    assert "xoxb-test-token" not in everything and "test-signing-secret" not in everything

    # --- each gate's report: a version when it opened and when it settled, keyed by pilot
    key = ArtifactKeys.gate(pilot_id)
    assert key == f"gate-{pilot_id}"
    versions = artifacts(key)
    assert [v.description.split(":")[0] for v in versions] == [
        "Gate opened",
        "Gate settled",
        "Gate opened",
        "Gate settled",
        "Gate opened",
        "Gate settled",
    ]
    assert all(v.type == "markdown" for v in versions)
    report_opened, report = versions[-2].data, versions[-1].data
    assert versions[-1].flow_run_id == settled.id
    assert report.startswith("## Gate settled: readiness review → internal rollout\n")
    assert f"**{ESCAPED_TITLE}** · {pilot_id} · portfolio it-operations · gate {g3}" in report
    for text in (report, report_opened):
        assert "<b>" not in text and "<script>" not in text and HOSTILE_TITLE not in text
    assert f"| {architect.approver} | architecture | " in report
    assert "| rejected, " in report and f"| {ESCAPED_REASON} |" in report
    assert "| operations | 1 | 0 | 1 |" in report  # quorum per role
    assert f"**rejected**: {architect.approver} rejected: {ESCAPED_REASON}" in report
    # every table row has as many cells as its header: nothing the approver wrote split a row
    for table in (report, report_opened):
        rows = [line for line in table.splitlines() if line.startswith("| ")]
        assert all(line.replace("\\|", "").count("|") in (3, 5, 6, 7) for line in rows), rows
    assert "### Evidence" in report_opened and "| resolution\\_minutes |" in report_opened
    assert "Open: waiting for quorum missing: architecture 1, operations 1." in report_opened
    assert "\n- met: fallback path (fallback to the human queue)\n" in report_opened


def test_the_sweep_is_named_tagged_and_reports_what_it_did(stack: Any) -> None:
    from flows.sweep import sweep_flow

    pilot_id = stack.propose()
    _advance_as_the_cli(stack, pilot_id)
    [gate_id] = _gate_ids(stack, pilot_id)
    stack.clock.advance(days=15)  # the proposal gate's 14 days are up

    # `pilotgate sweep --dry-run`, tagged as the CLI tags it
    with tags(*tags_for(SWEEP, {"dry_run": True})):
        state = sweep_flow(now=stack.clock(), dry_run=True, return_state=True)
    dry = read_run(state.state_details.flow_run_id)
    assert (dry.name, sorted(dry.tags)) == ("sweep (dry run)", ["dry-run", "sweep"])
    [table] = artifacts(ArtifactKeys.SWEEP_DRY_RUN, flow_run_id=dry.id)
    assert table.type == "table"
    assert {"action": "would terminate", "pilot": pilot_id, "gate": str(gate_id)}.items() <= (
        json.loads(table.data)[0].items()
    )

    # the dispatcher sees the passed deadline and runs the sweep; the sweep expires the gate
    stack.dispatcher.drain()
    assert stack.stage(pilot_id) == "terminated"
    sweeps = [r for r in runs_tagged("sweep") if "dry-run" not in r.tags]
    sweep_run = next(
        r for r in reversed(sweeps) if artifacts(ArtifactKeys.SWEEP_REPORT, flow_run_id=r.id)
    )
    assert (sweep_run.name, sweep_run.tags) == ("sweep", ["sweep"])
    [table] = artifacts(ArtifactKeys.SWEEP_REPORT, flow_run_id=sweep_run.id)
    rows = json.loads(table.data)
    [expired] = [row for row in rows if row["action"] == "expired"]
    assert (expired["pilot"], expired["gate"]) == (pilot_id, str(gate_id))
    assert "passed its deadline" in expired["detail"]
    logs = logs_of(sweep_run.id, containing=f"gate {gate_id} of pilot {pilot_id} expired")
    assert any(log.level == 20 and "resolve-gate queued" in log.message for log in logs)
    # the expired gate's report says so; its follow-ups (resolve-gate, terminate) ran inside
    # that sweep run, not as a flow run each, and their requests record which run did them
    report = artifacts(ArtifactKeys.gate(pilot_id))[-1].data
    assert "## Gate settled: proposal → pilot" in report and "**expired**" in report
    with stack.db.session() as session:
        follow_ups = {
            (r.flow, r.status, r.flow_run_id)
            for r in flow_queue.flow_requests(session, pilot_id)
            if r.flow in ("resolve-gate", "terminate")
        }
    assert follow_ups == {
        ("resolve-gate", "done", str(sweep_run.id)),
        ("terminate", "done", str(sweep_run.id)),
    }


def test_a_resolve_gate_run_whose_gate_is_unknown_is_still_named(stack: Any) -> None:
    from flows.resolve_gate import resolve_gate_flow

    state = resolve_gate_flow.with_options(retries=0)(gate_id=987654321, return_state=True)
    assert state.is_failed()
    assert read_run(state.state_details.flow_run_id).name == "resolve-gate · gate 987654321"
    assert tags_for("resolve-gate", {"gate_id": 987654321}) == ["gate:987654321"]


def test_a_deployment_run_is_named_and_tagged_when_it_is_created(stack: Any) -> None:
    """DeploymentLauncher (PILOTGATE_RUN_MODE=deployments): the run waits for a worker already
    named and tagged. No worker runs here; the run is deleted afterwards."""
    import uuid

    from prefect_reads import client

    from flows.resolve_gate import resolve_gate_flow
    from pilotgate.dispatcher import DeploymentLauncher

    pilot_id = stack.propose()
    _advance_as_the_cli(stack, pilot_id)
    [gate_id] = _gate_ids(stack, pilot_id)
    name = f"pilotgate-test-{uuid.uuid4().hex[:8]}"
    deployment_id = resolve_gate_flow.to_deployment(name=name, tags=["pilotgate"]).apply()
    run_id = None
    try:
        run_id = DeploymentLauncher(name).launch(
            "resolve-gate", {"gate_id": gate_id}, key=f"pilotgate-test-{uuid.uuid4().hex}"
        )
        assert run_id is not None
        run = read_run(run_id)
        assert run.name == f"resolve-gate · {pilot_id} gate {gate_id}"
        assert sorted(run.tags) == sorted(
            [
                "pilotgate",
                f"gate:{gate_id}",
                f"pilot:{pilot_id}",
                "portfolio:it-operations",
                "stage:proposal",
            ]
        )
    finally:
        with client() as c:
            if run_id:
                c.delete_flow_run(uuid.UUID(run_id))
            c.delete_deployment(deployment_id)


def test_a_report_that_cannot_be_published_never_fails_its_run(stack: Any) -> None:
    from prefect import flow

    from tasks.artifacts import publish_gate_report

    @flow(name="pilotgate-test-report")
    def probe() -> str | None:
        return publish_gate_report(987654321, "opened")  # no such gate

    state = probe(return_state=True)
    assert state.is_completed() and state.result() is None
    logs = logs_of(state.state_details.flow_run_id, containing="could not publish")
    [warning] = [log for log in logs if "could not publish" in log.message]
    assert warning.level == 30
    assert warning.message.startswith("gate 987654321: could not publish its report: NotFound")
