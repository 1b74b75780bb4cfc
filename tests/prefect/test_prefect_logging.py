"""config.prefect_env: a run's INFO lines reach the Prefect API while the terminal shows only
warnings. Checked in a fresh process (logging is configured once, at `import prefect`) that
applies pilotgate's defaults exactly as the CLI does, against the session's API."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from uuid import UUID

import pytest
from prefect_reads import logs_of

from config.prefect_env import DEFAULTS

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    from config.prefect_env import apply_defaults

    apply_defaults()

    from prefect import flow, task

    from tasks.logs import run_logger


    @task
    def decide() -> None:
        run_logger().info("MARK-INFO gate 12 opened")
        run_logger().warning("MARK-WARNING Slack delivery deferred")


    @flow
    def probe() -> None:
        run_logger().info("MARK-FLOW-INFO probe started")
        decide()


    state = probe(return_state=True)
    print(state.state_details.flow_run_id)
    """
)


def test_run_logs_reach_the_api_at_info_and_the_terminal_stays_quiet(
    prefect_api: str, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        PREFECT_API_URL=prefect_api,
        PREFECT_HOME=str(tmp_path / "prefect-home"),
        PYTHONPATH=str(ROOT),
    )
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    run_id = UUID(done.stdout.strip().splitlines()[-1])

    # the terminal: warnings only
    assert "MARK-WARNING" in done.stderr
    assert "MARK-INFO" not in done.stderr + done.stdout
    assert "MARK-FLOW-INFO" not in done.stderr + done.stdout
    assert "| INFO" not in done.stderr

    # the API: the run's INFO lines, the task's and the flow's
    logs = logs_of(run_id, containing="MARK-INFO")
    by_text = {log.message: log.level for log in logs}
    assert by_text["MARK-INFO gate 12 opened"] == 20
    assert by_text["MARK-FLOW-INFO probe started"] == 20
    assert by_text["MARK-WARNING Slack delivery deferred"] == 30


def test_the_defaults_are_only_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    from config.prefect_env import apply_defaults

    assert DEFAULTS["PREFECT_LOGGING_LEVEL"] == "INFO"
    assert DEFAULTS["PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL"] == "WARNING"
    monkeypatch.setenv("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "DEBUG")
    monkeypatch.delenv("PREFECT_LOGGING_LEVEL", raising=False)
    apply_defaults()
    assert os.environ["PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL"] == "DEBUG"
    assert os.environ["PREFECT_LOGGING_LEVEL"] == "INFO"
