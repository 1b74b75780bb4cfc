"""pilotgate at scale, for real: a Prefect server on PostgreSQL, a process work pool, two
workers, `pilotgate serve` in deployments mode, pilotgate's own PostgreSQL database, and the
Slack emulator clicking signed buttons.

A pilot goes through every gate to production. While a resolve-gate run is executing on one
worker, that worker and its flow process are SIGKILLed; the lifecycle still completes on the
other worker, with nothing lost or duplicated. The commands are the ones in the
README's "At scale" section.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from scale_cluster import (
    BIN,
    ROOT,
    PrefectAPI,
    Proc,
    Processes,
    descendants,
    dump,
    environ_of,
    free_port,
    pg_database,
    pg_url,
    processes_with_env,
    summarize_runs,
    wait_for,
)

from store import flow_queue, outbox, pilots
from store import gates as gates_store

pytestmark = pytest.mark.slow

POOL = "pilotgate"
BOT_TOKEN = "xoxb-scale-test-token"
SIGNING_SECRET = "scale-test-signing-secret"
PROPOSAL = "examples/helpdesk-assistant.yaml"
#: Seconds of silence before the deployments' automation reschedules a run (production: 90).
UNRESPONSIVE_AFTER = 40
GATE_TIMEOUT = 240.0  # a gate whose run was on the killed worker waits for the recovery


@dataclass
class Cluster:
    procs: Processes
    api: PrefectAPI
    db: Any  # store.db.Database on pilotgate's PostgreSQL database
    emulator: Any
    listener_url: str
    workers: list[Proc]
    cli_env: dict[str, str]
    timings: dict[str, float] = field(default_factory=dict)
    cli_s: list[tuple[str, float]] = field(default_factory=list)

    def pilotgate(self, *args: str, timeout: float = 120) -> str:
        start = time.monotonic()
        out = self.procs.run(
            [str(BIN / "pilotgate"), *args], timeout=timeout, **self.cli_env
        ).stdout
        self.cli_s.append((args[0], round(time.monotonic() - start, 1)))
        return out

    def diagnostics(self) -> str:
        runs = []
        try:
            runs = summarize_runs(self.api)
        except Exception as exc:  # the report must not hide the failure it explains
            runs = [{"error": repr(exc)}]
        return f"flow runs: {dump(runs)}\n{self.procs.tails()}"


def _base_env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PREFECT_", "PILOTGATE_", "SLACK_"))
    }
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    """Start everything (the README's commands), yield, then stop every process group and
    drop both databases, also when starting failed half-way."""
    import httpx

    from slackemu import SlackEmulator
    from store.db import Database

    t0 = time.monotonic()
    timings: dict[str, float] = {}
    logs = tmp_path / "logs"
    logs.mkdir()
    prefect_port, serve_port = free_port(), free_port()
    api_url = f"http://127.0.0.1:{prefect_port}/api"
    procs = Processes(logs, _base_env())
    with contextlib.ExitStack() as stack:  # unwinds last-in first-out
        emulator = stack.enter_context(
            SlackEmulator(bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET)
        )
        prefect_db = stack.enter_context(pg_database("pilotgate_scale_prefect"))
        app_db = stack.enter_context(pg_database("pilotgate_scale_app"))
        stack.callback(procs.stop_all)  # before the databases are dropped
        api = PrefectAPI(api_url)
        stack.callback(api.close)
        pilotgate_url = pg_url(app_db, "psycopg")
        common = {
            "PREFECT_API_URL": api_url,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_HOME": str(tmp_path / "prefect-client"),
        }
        app = {
            "PILOTGATE_DATABASE_URL": pilotgate_url,
            "PILOTGATE_POLICY": str(ROOT / "examples" / "policy.yaml"),
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": emulator.api_url,
        }
        # 1. The Prefect server on its own PostgreSQL database (first: it is the slowest).
        procs.start(
            "prefect-server",
            [
                str(BIN / "prefect"),
                "server",
                "start",
                "--host",
                "127.0.0.1",
                "--port",
                str(prefect_port),
            ],
            PREFECT_HOME=str(tmp_path / "prefect-server"),
            PREFECT_API_DATABASE_CONNECTION_URL=pg_url(prefect_db, "asyncpg"),
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            PREFECT_UI_ENABLED="false",
        )
        # 2. pilotgate's schema, while the server starts.
        procs.run([str(BIN / "pilotgate"), "db", "upgrade"], **app)
        wait_for("the Prefect server's /api/health", api.healthy, 180, 0.5, on_timeout=procs.tails)
        timings["server_up"] = round(time.monotonic() - t0, 1)
        # 3. The listener + dispatcher (it needs the deployments only when it creates a run).
        procs.start(
            "serve",
            [str(BIN / "pilotgate"), "serve", "--port", str(serve_port)],
            **common,
            **app,
            PILOTGATE_RUN_MODE="deployments",
        )
        # 4. The work pool, two workers on it, and the deployments.
        procs.run(
            [str(BIN / "prefect"), "work-pool", "create", POOL, "--type", "process"], **common
        )
        worker_env = {
            **common,
            **app,
            # Poll often: a click should move the pilot within seconds.
            "PREFECT_WORKER_QUERY_SECONDS": "1",
            "PREFECT_WORKER_PREFETCH_SECONDS": "5",
            "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "30",
        }
        workers = [
            procs.start(
                f"worker-{i}",
                [
                    str(BIN / "prefect"),
                    "worker",
                    "start",
                    "--pool",
                    POOL,
                    "--name",
                    f"pilotgate-worker-{i}",
                ],
                **worker_env,
            )
            for i in (1, 2)
        ]
        # The deployments as data, then the automation YAML cannot say (README, "At scale").
        procs.run(
            [
                str(BIN / "prefect"),
                "--no-prompt",
                "deploy",
                "--all",
                "--prefect-file",
                str(ROOT / "deployments" / "prefect.yaml"),
            ],
            timeout=300,
            **common,
        )
        procs.run(
            [str(BIN / "python"), "-m", "deployments.automation"],
            **common,
            PILOTGATE_UNRESPONSIVE_AFTER=str(UNRESPONSIVE_AFTER),
        )
        timings["deployed"] = round(time.monotonic() - t0, 1)

        def listener_up() -> bool:
            try:
                return (
                    httpx.get(f"http://127.0.0.1:{serve_port}/healthz", timeout=2).status_code
                    == 200
                )
            except httpx.HTTPError:
                return False

        wait_for("pilotgate serve's /healthz", listener_up, 90, 0.5, on_timeout=procs.tails)
        wait_for(
            "two online workers",
            lambda: len(api.online_workers(POOL)) >= 2,
            120,
            0.5,
            on_timeout=procs.tails,
        )
        timings["cluster_up"] = round(time.monotonic() - t0, 1)
        db = Database(pilotgate_url)
        stack.callback(db.dispose)
        yield Cluster(
            procs,
            api,
            db,
            emulator,
            f"http://127.0.0.1:{serve_port}/slack/events",
            workers,
            {**common, **app, "PILOTGATE_RUN_MODE": "deployments"},
            timings,
        )
    leftovers = [p.name for p in procs.procs if p.alive()]
    assert not leftovers, f"processes still running: {leftovers}"
    strays = processes_with_env("PREFECT_API_URL", api_url)
    assert not strays, f"processes of this cluster still running: {strays}"


# ---------------------------------------------------------------- reading pilotgate's database


def _stage(c: Cluster, pilot_id: str) -> str:
    with c.db.session() as session:
        return str(pilots.get_pilot(session, pilot_id).stage)


def _open_gate(c: Cluster, pilot_id: str) -> int | None:
    with c.db.session() as session:
        gate = gates_store.open_gate_for(session, pilot_id)
        return gate.id if gate is not None else None


def _next_click(c: Cluster, gate_id: int) -> tuple[str, Any] | None:
    """('done', status) once the gate is settled, else ('click', request) for a request whose
    role still misses approvals and whose message is in Slack."""
    from datetime import UTC, datetime

    with c.db.session() as session:
        gate = gates_store.get_gate(session, gate_id)
        if gate.status != "open":
            return ("done", gate.status)
        missing = gates_store.evaluate(session, gate, datetime.now(UTC)).missing
        answered = {d.request_id for d in gates_store.decisions_for(session, gate_id)}
        todo = [
            r
            for r in gates_store.requests_for(session, gate_id)
            if r.id not in answered and missing.get(r.role, 0) > 0 and r.message_ts
        ]
        if todo:
            session.expunge(todo[0])
            return ("click", todo[0])
    return None


def _decisions(c: Cluster, gate_id: int) -> int:
    with c.db.session() as session:
        return len(gates_store.decisions_for(session, gate_id))


def approve_gate(c: Cluster, gate_id: int, clicks: list[tuple[int, str]]) -> None:
    """Click Approve as approvers, role by role, until the gate is approved."""
    while True:
        step = wait_for(
            f"gate {gate_id}: a request to click (its message posted)",
            lambda: _next_click(c, gate_id),
            90,
            0.2,
            on_timeout=c.diagnostics,
        )
        if step[0] == "done":
            assert step[1] == "approved", f"gate {gate_id} ended {step[1]}"
            return
        request = step[1]
        before = _decisions(c, gate_id)
        response = c.emulator.click(
            c.listener_url,
            request.approver,
            request.channel,
            request.message_ts,
            "pilotgate_approve",
        )
        assert response.status_code == 200, response.text
        clicks.append((gate_id, request.approver))
        wait_for(
            f"gate {gate_id}: {request.approver}'s decision on record",
            lambda b=before: _decisions(c, gate_id) > b,
            30,
            0.1,
            on_timeout=c.diagnostics,
        )


def _flow_run_of(c: Cluster, flow: str, gate_id: int) -> str | None:
    with c.db.session() as session:
        for fr in flow_queue.flow_requests(session):
            if fr.flow == flow and fr.parameters.get("gate_id") == gate_id and fr.flow_run_id:
                return str(fr.flow_run_id)
    return None


def _worker_running(c: Cluster, run_id: str) -> tuple[Proc, list[int]] | None:
    """The worker whose flow process is executing `run_id`, and that process tree."""
    for worker in c.workers:
        if not worker.alive():
            continue
        tree = descendants(worker.pid)
        if any(environ_of(pid).get("PREFECT__FLOW_RUN_ID") == run_id for pid in tree):
            return worker, tree
    return None


# ---------------------------------------------------------------- the test


def test_lifecycle_survives_a_killed_worker(cluster: Cluster) -> None:
    c = cluster
    t0 = time.monotonic()
    report: dict[str, Any] = {"startup": dict(c.timings), "gates": {}}
    print(f"\nstartup: {c.timings}", flush=True)
    pilot_id = json.loads(c.pilotgate("propose", PROPOSAL, "--json"))["id"]

    expected = [
        "proposal",
        "pilot",
        "readiness_review",
        "internal_rollout",
        "customer_rollout",
        "production",
    ]
    clicks: list[tuple[int, str]] = []
    killed: dict[str, Any] = {}
    for stage, target in zip(expected, expected[1:], strict=False):
        t_gate = time.monotonic()
        gate_id = _open_gate(c, pilot_id)
        if gate_id is None:
            # The policy does not open this gate on entry: a programme manager advances.
            # (Opened-on-entry gates are opened by the flow resolve-gate queued.)
            from lifecycle.policy import load_policy
            from lifecycle.stages import Stage

            policy = load_policy(ROOT / "examples" / "policy.yaml")
            if policy.gate(Stage(stage)).open_on_entry and stage != "proposal":
                gate_id = wait_for(
                    f"the {stage} gate to open on entry",
                    lambda: _open_gate(c, pilot_id),
                    GATE_TIMEOUT,
                    0.25,
                    on_timeout=c.diagnostics,
                )
            else:
                c.pilotgate("advance", pilot_id, "--json", timeout=330)
                gate_id = _open_gate(c, pilot_id)
                assert gate_id is not None, "advance returned without an open gate"
        t_open = time.monotonic()
        approve_gate(c, gate_id, clicks)
        t_approved = time.monotonic()
        if stage == "pilot":
            # Kill the worker that picks up this gate's resolve-gate run, mid-run.
            run_id = wait_for(
                "the resolve-gate run to be created",
                lambda g=gate_id: _flow_run_of(c, "resolve-gate", g),
                60,
                0.05,
                on_timeout=c.diagnostics,
            )
            found = wait_for(
                f"a worker to start flow run {run_id}",
                lambda r=run_id: _worker_running(c, r),
                90,
                0.02,
                on_timeout=c.diagnostics,
            )
            victim, tree = found
            state = c.api.flow_run(run_id)["state_name"]
            victim.kill()
            killed = {
                "worker": victim.name,
                "run": run_id,
                "state_at_kill": state,
                "pids": [victim.pid, *tree],
                "at": round(time.monotonic() - t0, 1),
            }
            wait_for("the killed worker to be gone", lambda v=victim: not v.alive(), 10, 0.1)
            c.workers.remove(victim)
            print(f"\nkilled: {killed}", flush=True)
        wait_for(
            f"{pilot_id} to reach {target}",
            lambda t=target: _stage(c, pilot_id) == t,
            GATE_TIMEOUT,
            0.25,
            on_timeout=c.diagnostics,
        )
        report["gates"][f"{stage}->{target}"] = {
            "open_s": round(t_open - t_gate, 1),
            "approve_s": round(t_approved - t_open, 1),
            "transition_s": round(time.monotonic() - t_approved, 1),
        }
        print(f"\n{stage}->{target}: {report['gates'][f'{stage}->{target}']}", flush=True)
    report["lifecycle_s"] = round(time.monotonic() - t0, 1)
    report["killed"] = killed
    report["cli_s"] = c.cli_s

    # Exactly one stage_history row per transition.
    with c.db.session() as session:
        history = [(h.from_stage, h.to_stage) for h in pilots.stage_history(session, pilot_id)]
        gates = gates_store.gates_for(session, pilot_id)
        decisions = [
            (g.id, d.approver) for g in gates for d in gates_store.decisions_for(session, g.id)
        ]
        requests = flow_queue.flow_requests(session, pilot_id)
        unsent = outbox.pending_outbox_count(session)
        gate_rows = [(g.stage, g.status, g.continued_at is not None) for g in gates]
    transitions = [h for h in history if h[0] is not None]
    assert transitions == list(zip(expected, expected[1:], strict=False)), history
    # One gate per stage, each approved and acted on once.
    assert gate_rows == [(s, "approved", True) for s in expected[:-1]], gate_rows
    # One decision per click.
    assert sorted(decisions) == sorted(clicks), (decisions, clicks)
    assert not [r for r in requests if r.status != "done"], [
        (r.flow, r.status, r.error) for r in requests
    ]

    # No Slack message posted twice (the emulator saw every call).
    wait_for("the outbox to drain", lambda: _unsent(c) == 0, 60, 0.5, on_timeout=c.diagnostics)
    posts = [(m.channel, m.versions[0].text) for m in c.emulator.messages if not m.ephemeral]
    dupes = {p for p in posts if posts.count(p) > 1}
    assert not dupes, f"posted twice: {dupes}"
    asked = [
        m
        for m in c.emulator.messages
        if (m.versions[0].text or "").startswith("Sign-off requested")
    ]
    with c.db.session() as session:
        n_requests = sum(len(gates_store.requests_for(session, g.id)) for g in gates)
    assert len(asked) == n_requests, (len(asked), n_requests)

    # The audit chain is intact, and `pilotgate status --json` agrees.
    c.pilotgate("audit", "verify")
    status = json.loads(c.pilotgate("status", pilot_id, "--json"))
    assert status["stage"] == "production", status

    # Prefect's own CLI reads this server (prefect 3.9: no 422 on `"limit": null`).
    prefect_cli = {
        args[0]: c.procs.run(
            [str(BIN / "prefect"), *args], timeout=120, **{**c.cli_env, "COLUMNS": "250"}
        ).stdout
        for args in (["deployment", "ls"], ["flow", "ls"], ["flow-run", "ls", "--limit", "50"])
    }
    assert "resolve-gate/pilotgate" in prefect_cli["deployment"], prefect_cli["deployment"]
    assert "readiness-review" in prefect_cli["flow"], prefect_cli["flow"]
    assert "COMPLETED" in prefect_cli["flow-run"], prefect_cli["flow-run"]

    runs = summarize_runs(c.api)
    report["runs"] = [
        (r["flow"], r["state"], r["run_count"], r["wait_s"], r["run_s"]) for r in runs
    ]
    report["flow_runs"] = {f"{r['flow']}:{r['state']}": 0 for r in runs}
    for r in runs:
        report["flow_runs"][f"{r['flow']}:{r['state']}"] += 1
    if killed:
        report["killed_run_after"] = next(
            (
                {"state": r["state"], "run_count": r["run_count"]}
                for r in runs
                if r["id"] == killed["run"]
            ),
            None,
        )
    report["unsent_at_end"] = unsent
    print(
        "\nAT SCALE REPORT\n"
        + "\n".join(f"  {k}: {json.dumps(v, default=str)}" for k, v in report.items()),
        flush=True,
    )
    assert killed, "no worker was killed"


def _unsent(c: Cluster) -> int:
    with c.db.session() as session:
        return outbox.pending_outbox_count(session)
