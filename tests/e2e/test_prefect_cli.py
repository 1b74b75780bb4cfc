"""Prefect's own CLI reads the API pilotgate's flows ran against (the harness's real server):
on prefect 3.9 `flow-run ls`, `flow ls` and `deployment ls` answer, where 3.8.8 with a pinned
fastapi answered 422 to its client's `"limit": null`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

PREFECT = Path(sys.executable).parent / "prefect"


def _prefect(api_url: str, *args: str) -> str:
    env = {
        **os.environ,
        "PREFECT_API_URL": api_url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "COLUMNS": "250",
    }
    done = subprocess.run(
        [str(PREFECT), *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"prefect {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    assert "Unprocessable" not in done.stdout + done.stderr  # the 422 of prefect 3.8.8
    return done.stdout


def test_prefect_cli_lists_what_pilotgate_ran(stack: Any, prefect_api: str) -> None:
    pilot_id = stack.propose("helpdesk-assistant")
    stack.advance(pilot_id)
    assert "proposal" in _prefect(prefect_api, "flow", "ls")
    runs = _prefect(prefect_api, "flow-run", "ls", "--flow-name", "proposal", "--limit", "20")
    assert "COMPLETED" in runs, runs
    _prefect(prefect_api, "deployment", "ls")  # none here, but the call must succeed
