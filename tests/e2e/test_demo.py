"""`make demo` is one of the README's two commands: it must run to the end, as a newcomer runs it.

The demo runs in its own process (`python -m pilotgate.demo`, what `make demo` runs) with no
stdin, into a temporary directory; it must exit 0 without a traceback, tell its three stories
(the help-desk assistant to production with its criteria confirmed, the clinical assistant
rejected at readiness review, the developer-productivity assistant terminated at its deadline),
leave an intact audit chain and write the report.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_demo_tells_its_three_stories_to_the_end(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PILOTGATE_", "SLACK_"))}
    env.update({"PILOTGATE_DEMO_DIR": str(tmp_path / "demo"), "COLUMNS": "200",
                "NO_COLOR": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"})
    run = subprocess.run([sys.executable, "-m", "pilotgate.demo"], cwd=ROOT, env=env,
                         stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-4000:]
    assert "Traceback" not in out
    assert "confirms technical.1" in out and "confirms operational.3" in out
    assert "production" in out and "terminated" in out
    assert "rejected" in out
    assert "audit chain: intact" in out
    assert (tmp_path / "demo" / "report.html").stat().st_size > 10_000
