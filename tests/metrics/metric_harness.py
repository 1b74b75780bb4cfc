"""The metric CLI harness: `pilotgate` in-process (typer CliRunner) on a per-test SQLite file."""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner

from pilotgate.cli import app

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


@dataclass
class MetricCli:
    tmp: Path
    db_path: Path
    env: dict[str, str]

    def run(self, *args: str) -> tuple[int, str, str]:
        unset: dict[str, str | None] = {
            k: None for k in os.environ if k.startswith(("PILOTGATE_", "SLACK_"))
        }
        r = CliRunner().invoke(app, list(args), env={**unset, **self.env}, catch_exceptions=False)
        return r.exit_code, r.stdout, r.stderr

    def propose(self, example: str = "helpdesk-assistant") -> str:
        code, out, err = self.run("propose", str(EXAMPLES / f"{example}.yaml"))
        assert code == 0, err
        return out.strip()

    def observations(self) -> list[tuple[str, float, str, str, str | None]]:
        with sqlite3.connect(self.db_path) as conn:
            return conn.execute(
                "SELECT metric, value, unit, observed_at, source FROM "
                "metric_observations ORDER BY observed_at, id"
            ).fetchall()

    def write(self, name: str, text: str) -> Path:
        path = self.tmp / name
        path.write_text(text)
        return path
