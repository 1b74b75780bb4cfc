"""Running the CLI in its own process and seeing what it imported.

`run_cli` runs `pilotgate.cli.main()` exactly as the console script does, in a fresh
interpreter, and reports at exit which heavy packages ended up in `sys.modules` (including
those a command imports late, inside a function). `ServeProcess` is a real `pilotgate serve`
(the console script, its own process group) on a free loopback port.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from cli_harness import BOT_TOKEN, CONSOLE_SCRIPT, SIGNING_SECRET

WATCHED = (
    "prefect",
    "slack_bolt",
    "slack_sdk",
    "httpx",
    "alembic",
    "pilotgate.report",
    "sqlalchemy",
    "sqlalchemy.dialects.postgresql",
    "pydantic",
    "pydantic_settings",
    "yaml",
    "jinja2",
)
MARKER = "PILOTGATE_TEST_LOADED="
RUNNER = f"""
import atexit, sys

def _report():
    loaded = [m for m in {WATCHED!r} if m in sys.modules]
    sys.stderr.write("\\n{MARKER}" + ",".join(loaded) + "\\n")

atexit.register(_report)
sys.argv = ["pilotgate", *sys.argv[1:]]
from pilotgate.cli import main
main()
"""


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str
    loaded: set[str]
    seconds: float


def run_cli(env: dict[str, str], cwd: Path, *args: str, timeout: float = 300) -> Run:
    started = time.monotonic()
    p = subprocess.run(
        [sys.executable, "-c", RUNNER, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    seconds = time.monotonic() - started
    before, _, after = p.stderr.rpartition(MARKER)
    assert _ == MARKER, f"the runner did not report its imports: {p.stderr[-2000:]}"
    loaded = {m for m in after.strip().split(",") if m}
    for text in (p.stdout, before):
        assert BOT_TOKEN not in text and SIGNING_SECRET not in text, "a secret was printed"
    return Run(p.returncode, p.stdout, before, loaded, seconds)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServeProcess:
    """`pilotgate serve --port PORT` with `env`, its output in `log`."""

    def __init__(self, env: dict[str, str], cwd: Path, log: Path) -> None:
        self.env, self.cwd, self.log = env, cwd, log
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def health(self) -> dict[str, Any]:
        return dict(httpx.get(self.base_url + "/healthz", timeout=2).json())

    def start(self, timeout: float = 120) -> ServeProcess:
        handle = self.log.open("ab")
        self.proc = subprocess.Popen(
            [str(CONSOLE_SCRIPT), "serve", "--port", str(self.port)],
            env=self.env,
            cwd=self.cwd,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited: {self.text()[-3000:]}")
            try:
                if self.health().get("service") == "pilotgate serve":
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"serve did not start: {self.text()[-3000:]}")

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
