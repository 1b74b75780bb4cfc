"""A real pilotgate cluster on loopback: PostgreSQL databases, `prefect server start`, a process
work pool, workers, `pilotgate serve`, each in its own process group so it can be killed whole.

Every process is started with the same commands the README's "At scale" section gives.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PG_ADMIN_URL = os.environ.get("PILOTGATE_TEST_PG",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/test")
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(what: str, check: Callable[[], T | None], timeout: float,
             interval: float = 0.25, on_timeout: Callable[[], str] | None = None) -> T:
    """Poll `check` until it returns something truthy; fail with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            detail = on_timeout() if on_timeout else ""
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}\n{detail}")
        time.sleep(interval)


# ---------------------------------------------------------------- PostgreSQL


def pg_url(name: str, driver: str = "psycopg") -> str:
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return f"postgresql+{driver}://" + base.split("://", 1)[1] + "/" + name


@contextlib.contextmanager
def pg_database(prefix: str) -> Iterator[str]:
    """A fresh database (its name); dropped afterwards, open connections and all."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield name
    finally:
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = :n AND pid <> pg_backend_pid()"), {"n": name})
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


# ---------------------------------------------------------------- processes


def descendants(pid: int) -> list[int]:
    """All live descendants of `pid` (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def environ_of(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, v in pairs}


def processes_with_env(key: str, value: str) -> list[int]:
    """Live processes whose environment has key=value (what a cluster's processes carry)."""
    me = os.getpid()
    return [int(e.name) for e in Path("/proc").iterdir()
            if e.name.isdigit() and int(e.name) != me
            and environ_of(int(e.name)).get(key) == value]


@dataclass
class Proc:
    """A process started in its own session (process group), logging to a file."""

    name: str
    args: list[str]
    log: Path
    popen: subprocess.Popen[bytes]
    started: float = field(default_factory=time.monotonic)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 40) -> str:
        try:
            text_ = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return f"--- {self.name} ({self.log}) ---\n" + "\n".join(text_.splitlines()[-lines:])

    def kill(self, sig: int = signal.SIGKILL) -> list[int]:
        """Signal the whole process group and every descendant (flow processes a worker
        started may live in groups of their own). Returns the pids signalled."""
        pids = [self.pid, *descendants(self.pid)]
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        return pids

    def terminate(self) -> list[int]:
        """SIGTERM the group; returns the tree to SIGKILL if it does not go."""
        if not self.alive():
            return []
        tree = [self.pid, *descendants(self.pid)]
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGTERM)
        return tree

    def reap(self, tree: list[int], deadline: float) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(max(0.0, deadline - time.monotonic()))
        for pid in tree:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(5)


class Processes:
    """Everything started for one cluster; `stop_all` ends it in reverse order."""

    def __init__(self, logs: Path, env: dict[str, str]) -> None:
        self.logs = logs
        self.env = env
        self.procs: list[Proc] = []

    def start(self, name: str, args: list[str], **env: str) -> Proc:
        log = self.logs / f"{name}.log"
        handle = log.open("ab")
        popen = subprocess.Popen(args, cwd=ROOT, env={**self.env, **env}, stdout=handle,
                                 stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 start_new_session=True)
        handle.close()
        proc = Proc(name, args, log, popen)
        self.procs.append(proc)
        return proc

    def run(self, args: list[str], timeout: float = 120, check: bool = True,
            **env: str) -> subprocess.CompletedProcess[str]:
        """Run a command to completion (in its own group, killed whole on timeout)."""
        popen = subprocess.Popen(args, cwd=ROOT, env={**self.env, **env}, text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            out, err = popen.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(popen.pid, signal.SIGKILL)
            out, err = popen.communicate()
            raise AssertionError(f"{' '.join(args)} timed out after {timeout} s\n{out}\n{err}"
                                 f"\n{self.tails()}") from None
        finally:  # interrupted (Ctrl-C, a failing test): leave nothing behind
            if popen.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(popen.pid, signal.SIGKILL)
                popen.wait()
        result = subprocess.CompletedProcess(args, popen.returncode, out, err)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(args)} exited {result.returncode}\nstdout:\n{out}"
                                 f"\nstderr:\n{err}\n{self.tails()}")
        return result

    def tails(self, lines: int = 30) -> str:
        return "\n".join(p.tail(lines) for p in self.procs)

    def stop_all(self, grace: float = 10.0) -> None:
        """SIGTERM every group at once, SIGKILL whatever is left after `grace` seconds."""
        trees = [(proc, proc.terminate()) for proc in reversed(self.procs)]
        deadline = time.monotonic() + grace
        for proc, tree in trees:
            proc.reap(tree, deadline)


# ---------------------------------------------------------------- the Prefect API


class PrefectAPI:
    """The few REST calls the test makes."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.http = httpx.Client(base_url=self.url + "/", timeout=30)

    def healthy(self) -> bool:
        try:
            return self.http.get("health").status_code == 200
        except httpx.HTTPError:
            return False

    def flow_run(self, run_id: str) -> dict[str, Any]:
        response = self.http.get(f"flow_runs/{run_id}")
        response.raise_for_status()
        return dict(response.json())

    def flow_runs(self) -> list[dict[str, Any]]:
        response = self.http.post("flow_runs/filter", json={"limit": 200, "offset": 0,
                                                            "sort": "EXPECTED_START_TIME_ASC"})
        response.raise_for_status()
        return list(response.json())

    def flow_names(self) -> dict[str, str]:
        response = self.http.post("flows/filter", json={"limit": 200, "offset": 0})
        response.raise_for_status()
        return {f["id"]: f["name"] for f in response.json()}

    def online_workers(self, pool: str) -> list[str]:
        response = self.http.post(f"work_pools/{pool}/workers/filter",
                                  json={"limit": 50, "offset": 0})
        if response.status_code != 200:
            return []
        return [w["name"] for w in response.json() if w.get("status") == "ONLINE"]

    def close(self) -> None:
        self.http.close()


def _seconds(later: str | None, earlier: str | None) -> float | None:
    from datetime import datetime

    if not later or not earlier:
        return None
    delta = datetime.fromisoformat(later) - datetime.fromisoformat(earlier)
    return round(delta.total_seconds(), 1)


def summarize_runs(api: PrefectAPI) -> list[dict[str, Any]]:
    """Each run: flow, state, run_count, parameters, and seconds from creation to the start
    of its flow code (`wait_s`: worker poll + process start) and in the flow (`run_s`)."""
    names = api.flow_names()
    return [{"id": r["id"], "flow": names.get(r["flow_id"], r["flow_id"]),
             "state": r["state_name"], "run_count": r.get("run_count"),
             "parameters": r.get("parameters"),
             "wait_s": _seconds(r.get("start_time"), r.get("created")),
             "run_s": _seconds(r.get("end_time"), r.get("start_time"))}
            for r in api.flow_runs()]


def dump(obj: Any) -> str:
    return json.dumps(obj, indent=1, default=str)
