"""The CLI harness: a fresh SQLite file per test, the example policy, and canary Slack secrets.

Commands run in-process through typer's CliRunner on `pilotgate.cli.app` (fast); a few tests
run the installed `pilotgate` console script in a subprocess. Every invocation is checked for
the canary secrets.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from typer.testing import CliRunner

from pilotgate.cli import app

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES_DIR = ROOT / "examples"
BOT_TOKEN = "xoxb-canary-7f3a9d2e-bot-token-do-not-print"
SIGNING_SECRET = "canary-signing-secret-51c0ffee"
CONSOLE_SCRIPT = Path(sys.executable).parent / "pilotgate"


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str


@dataclass
class Cli:
    tmp: Path
    db_path: Path
    env: dict[str, str]
    outputs: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"sqlite:///{self.db_path}"

    def _check(self, result: Result) -> Result:
        for text in (result.stdout, result.stderr):
            self.outputs.append(text)
            assert BOT_TOKEN not in text and SIGNING_SECRET not in text, "a secret was printed"
        return result

    def run(self, *args: str, **env: str) -> Result:
        unset: dict[str, str | None] = {k: None for k in os.environ
                                        if k.startswith(("PILOTGATE_", "SLACK_"))}
        r = CliRunner().invoke(app, list(args), env={**unset, **self.env, **env},
                               catch_exceptions=False)
        return self._check(Result(r.exit_code, r.stdout, r.stderr))

    def run_script(self, *args: str) -> Result:
        """The real console entry point, in its own process."""
        p = subprocess.run([str(CONSOLE_SCRIPT), *args], env=self.env, cwd=self.tmp,
                           capture_output=True, text=True, timeout=60)
        return self._check(Result(p.returncode, p.stdout, p.stderr))

    def rows(self, table: str) -> int:
        if not self.db_path.exists():
            return 0
        with sqlite3.connect(self.db_path) as conn:
            return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])

    def written(self) -> tuple[int, int, int]:
        return self.rows("pilots"), self.rows("stage_history"), self.rows("audit_log")

    def write(self, name: str, text: str) -> Path:
        path = self.tmp / name
        path.write_text(text)
        return path
