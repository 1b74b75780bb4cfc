"""`pilotgate sweep` as an operator runs it: the installed console script in its own process,
against the test database, the Slack emulator and the session's Prefect API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from sweep_scene import (
    CIO,
    assert_acted_once,
    busy_portfolio,
    digests,
    dms,
    open_gate,
    row_counts,
    text_of,
)

PILOTGATE = Path(sys.executable).parent / "pilotgate"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _env(stack: Any, prefect_api: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PILOTGATE_", "SLACK_", "PREFECT_"))}
    env.update({
        "PILOTGATE_DATABASE_URL": stack.db.url,
        "PILOTGATE_POLICY": str(EXAMPLES / "policy.yaml"),
        "SLACK_BOT_TOKEN": "xoxb-test-token",
        "SLACK_SIGNING_SECRET": "test-signing-secret",
        "SLACK_API_URL": stack.emulator.api_url,
        "PREFECT_API_URL": prefect_api,
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "COLUMNS": "200",
        "NO_COLOR": "1",
    })
    return env


def _pilotgate(env: dict[str, str], cwd: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([str(PILOTGATE), *args], env=env, cwd=cwd, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _finish(proc: subprocess.Popen[str]) -> str:
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stdout + stderr
    return stdout


def test_dry_run_writes_nothing_then_two_processes_act_once(
        stack: Any, prefect_api: str, tmp_path: Path) -> None:
    scene = busy_portfolio(stack)
    reminded_gate = open_gate(stack, scene.reminded).id
    env = _env(stack, prefect_api, tmp_path)
    now = stack.clock().isoformat()
    before = row_counts(stack.db)
    messages_before = len(stack.emulator.messages)

    out = _finish(_pilotgate(env, tmp_path, "sweep", "--dry-run", "--now", now))

    assert row_counts(stack.db) == before, "a dry run wrote to the database"
    assert len(stack.emulator.messages) == messages_before, "a dry run talked to Slack"
    assert f"would terminate: {scene.overdue} IT help-desk assistant (deploy-or-terminate" in out
    assert f"would escalate to cio: {scene.escalating} Invoice triage (gate readiness_review" in out
    [remind] = [line for line in out.splitlines() if line.startswith("would remind")]
    assert scene.reminded in remind and "(50% of the window)" in remind
    assert all(a in remind for a in ("U0PMO0001", "U0PMO0002", "U0FIN0001"))
    assert "dry run: 3 item(s) due" in out and "nothing changed" in out

    # The same moment for real, in two processes at once (on PostgreSQL: two connections
    # racing for the advisory lock and the rows; on SQLite: the file lock).
    runs = [_pilotgate(env, tmp_path, "sweep", "--json", "--now", now) for _ in range(2)]
    results = [json.loads(_finish(p)) for p in runs]

    assert_acted_once(stack, scene, reminded_gate, results)
    assert sorted(bool(r["terminated"]) for r in results) == [False, True]
    # The command delivered what the sweep queued as of --now: the CIO's ask, the digest.
    [ask] = dms(stack, CIO)
    assert scene.escalating in text_of(ask)
    [digest] = digests(stack)
    assert scene.overdue in text_of(digest)
