"""How fast the CLI answers: read commands against `import prefect`, and `advance` with and
without `pilotgate serve` running on the same register.

    .venv/bin/python bench/cli.py [--runs 7] [--advance-runs 5] [--results FILE.md] [--keep]

Sets up a migrated SQLite register (temp dir) with a few pilots, the Slack emulator (in this
process) and a real `pilotgate serve` on a free loopback port, then times, as wall-clock time
of the installed console script in a fresh process, medians of interleaved runs of:

* `python -c "import prefect"` (the reference: what a command that needs Prefect pays first);
* `pilotgate --help`, `pilotgate list`, `pilotgate status ID`;
* `pilotgate advance ID` handed over to serve (serve's dispatcher runs the flow; the CLI never
  imports Prefect) and `pilotgate advance ID` with no serve to hand over to (the CLI starts
  Prefect and its temporary local API, as before).

Also `python -c pass` (the floor of any Python command), each fast command's CPU time beside
the reference's, serve's memory (its own and its children's, beside a bare listener process;
once up with nothing due, when no Prefect API runs, and after the runs) and whether anything of
serve is left after SIGTERM.

Targets (from the issue): `--help`, `list` and `status` at most 0.5 s and at most 0.25x
`import prefect`; `advance` with serve running at most 3 s; nothing of serve left after
SIGTERM. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from config.clock import utcnow
from lifecycle.policy import load_policy
from lifecycle.proposal import load_proposal
from slackemu import SlackEmulator
from store import flow_queue, pilots
from store.db import Database
from store.migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent
PILOTGATE = Path(sys.executable).parent / "pilotgate"
TOKEN = "xoxb-pilotgate-bench-cli"
SECRET = "pilotgate-bench-cli-signing-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Figure:
    label: str
    command: list[str]
    seconds: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    reference: str | None = None
    target: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def run_timed(
    command: list[str], env: dict[str, str], cwd: Path, check: Callable[[str], bool]
) -> tuple[float, float]:
    """(wall-clock seconds, CPU seconds: user + system) of one run of `command`. The CPU time
    moves less than the wall-clock time when other work shares the cores."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    p = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0 or not check(p.stderr):
        raise SystemExit(f"{' '.join(command)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, cpu


def timed(
    command: list[str], env: dict[str, str], cwd: Path, check: Callable[[str], bool]
) -> float:
    return run_timed(command, env, cwd, check)[0]


class Serve:
    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = cwd / "serve.log"
        self.proc = subprocess.Popen(
            [str(PILOTGATE), "serve", "--port", str(self.port)],
            env=env,
            cwd=cwd,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, db: Database, timeout: float = 300) -> None:
        """Up, and its start-up sweep decided: run (a sweep request finished) or not needed
        (nothing due: serve then starts Prefect with the first flow it runs)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"serve exited:\n{self.log.read_text()[-3000:]}")
            try:
                up = httpx.get(self.url + "/healthz", timeout=2).json().get("dispatcher")
            except httpx.HTTPError:
                up = False
            if up and "sweep not needed" in self.log.read_text(errors="replace"):
                return
            if up:
                with db.session() as session:
                    if any(
                        r.flow == "sweep" and r.status in ("done", "failed")
                        for r in flow_queue.flow_requests(session)
                    ):
                        return
            time.sleep(0.5)
        raise SystemExit(f"serve not ready:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)


def make_pilots(db: Database, count: int, prefix: str) -> list[str]:
    """Proposals in portfolios of their own (the cap is per portfolio)."""
    policy = load_policy(ROOT / "examples" / "policy.yaml")
    proposal = load_proposal(ROOT / "examples" / "helpdesk-assistant.yaml")
    ids = []
    with db.session() as session:
        for i in range(count):
            p = proposal.model_copy(update={"portfolio": f"{prefix}-{i}"})
            ids.append(pilots.create_pilot(session, p, policy, actor="bench", now=utcnow()).id)
    return ids


def handed(stderr: str) -> bool:
    return "handed over to pilotgate serve" in stderr


def here(stderr: str) -> bool:
    return "handed over" not in stderr


def anything(stderr: str) -> bool:
    return True


def serve_side(db: Database, pilot_ids: list[str]) -> str:
    """Where the handed-over advances spent their time in serve, from their flow requests."""
    with db.session() as session:
        requests = [
            r
            for r in flow_queue.flow_requests(session)
            if r.pilot_id in pilot_ids and flow_queue.is_waited(r.dedupe_key)
        ]
    woken = [(r.started_at - r.created_at).total_seconds() for r in requests if r.started_at]
    ran = [
        (r.finished_at - r.started_at).total_seconds()
        for r in requests
        if r.started_at and r.finished_at
    ]
    if not woken or not ran:
        return "serve side: no flow requests found"
    return (
        f"serve side of `advance` (serve running), from its {len(requests)} flow requests: "
        f"queued -> started median {statistics.median(woken):.2f} s (woken, not the tick), "
        f"flow run median {statistics.median(ran):.2f} s "
        f"(range {min(ran):.2f}-{max(ran):.2f} s); the rest is the CLI process"
    )


def _status(pid: int) -> dict[str, str]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def session_pids(sid: int) -> list[int]:
    """The live processes of session `sid` (serve runs in its own: it and what it started)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (
                    os.getsid(int(entry.name)) == sid
                    and _status(int(entry.name))["State"][0] != "Z"
                ):
                    pids.append(int(entry.name))
            except (OSError, KeyError):
                continue
    return pids


def memory_mb(pid: int) -> tuple[float, float]:
    """(resident now, peak resident) in MB, from /proc."""
    fields = _status(pid)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


#: What a bare listener holds: the interpreter with slack-bolt, starlette and uvicorn loaded.
BARE_LISTENER = (
    "import sys, time, slack_bolt, slack_bolt.adapter.starlette, uvicorn, starlette.applications;"
    " print('ready', flush=True); time.sleep(60)"
)


def bare_listener_mb() -> float:
    proc = subprocess.Popen(
        [sys.executable, "-c", BARE_LISTENER], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        return memory_mb(proc.pid)[0]
    finally:
        proc.kill()
        proc.wait()


def serve_memory(serve: Serve, when: str = "after the runs above") -> str:
    """serve's memory and its children's (the temporary Prefect API), beside a bare listener."""
    sid = os.getsid(serve.proc.pid)
    own_now, own_peak = memory_mb(serve.proc.pid)
    children = [p for p in session_pids(sid) if p != serve.proc.pid]
    child_mb = sum(memory_mb(p)[0] for p in children)
    bare = bare_listener_mb()
    return (
        f"serve memory ({when}): serve {own_now:.0f} MB resident "
        f"(peak {own_peak:.0f} MB) plus {len(children)} child process(es) {child_mb:.0f} MB "
        f"(the temporary Prefect API); reference: a bare listener process (slack-bolt, "
        f"starlette, uvicorn loaded) {bare:.0f} MB, ratio {(own_now + child_mb) / bare:.1f}x"
    )


def stop_and_count(serve: Serve) -> str:
    """SIGTERM to serve alone (as a service manager sends it); what of its session is left."""
    sid = os.getsid(serve.proc.pid)
    serve.proc.send_signal(signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        serve.proc.wait(30)
    deadline = time.monotonic() + 10
    while session_pids(sid) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = session_pids(sid)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    return f"processes of serve left 10 s after SIGTERM to serve: {len(left)} (target 0)"


def loadavg() -> str:
    try:
        return "/".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="runs of each fast command")
    parser.add_argument(
        "--advance-runs", type=int, default=5, help="runs of each advance (12-20 s without serve)"
    )
    parser.add_argument("--results", type=Path, help="write the table to this Markdown file")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (serve.log)")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="pilotgate-bench-cli-"))
    url = f"sqlite:///{tmp / 'pilotgate.db'}"
    upgrade(url)
    db = Database(url)
    make_pilots(db, 3, "bench-read")  # a few more rows for `list`
    with_serve = make_pilots(db, args.advance_runs + 1, "bench-serve")
    without = make_pilots(db, args.advance_runs + 1, "bench-here")

    emu = SlackEmulator(bot_token=TOKEN, signing_secret=SECRET).start()
    # PYTHONDONTWRITEBYTECODE is dropped: the commands run with their bytecode cached, as
    # from an installed wheel (pip compiles it) or any checkout after its first run; without
    # the cache each of pilotgate's ~40 modules is compiled from source at every start.
    base_env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PILOTGATE_", "SLACK_", "PREFECT_")) and k != "PYTHONDONTWRITEBYTECODE"
    }
    base_env.update(
        {
            "PILOTGATE_DATABASE_URL": url,
            "PILOTGATE_POLICY": str(ROOT / "examples" / "policy.yaml"),
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": emu.api_url,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "COLUMNS": "200",
            "NO_COLOR": "1",
        }
    )
    # serve and the CLI without serve each start Prefect's temporary local API; separate homes
    # keep their two Prefect databases apart.
    serve_env = {**base_env, "PREFECT_HOME": str(tmp / "prefect-serve")}
    serve = Serve(serve_env, tmp)
    load_before = loadavg()
    try:
        serve.wait_ready(db)
        idle = serve_memory(serve, "up, nothing due, before any flow run")
        cli_env = {
            **base_env,
            "PREFECT_HOME": str(tmp / "prefect-cli"),
            "PILOTGATE_SERVE_URL": serve.url,
        }
        alone_env = {**cli_env, "PILOTGATE_SERVE_URL": f"http://127.0.0.1:{free_port()}"}
        # Warm-up (not measured): one advance each way (the CLI's first temporary API also
        # creates its Prefect database); the pilot advanced through serve, with its gate now
        # open, is the one `status` shows.
        shown = with_serve.pop()
        timed([str(PILOTGATE), "advance", shown], cli_env, tmp, handed)
        timed([str(PILOTGATE), "advance", without.pop()], alone_env, tmp, here)

        ref = Figure("python -c 'import prefect'", [sys.executable, "-c", "import prefect"])
        startup = "<= 0.5 s and <= 0.25x import prefect"
        fast = [
            Figure("python -c pass", [sys.executable, "-c", "pass"]),
            ref,
            Figure(
                "pilotgate --help",
                [str(PILOTGATE), "--help"],
                reference=ref.label,
                target=startup,
            ),
            Figure("pilotgate list", [str(PILOTGATE), "list"], reference=ref.label, target=startup),
            Figure(
                "pilotgate status ID",
                [str(PILOTGATE), "status", shown],
                reference=ref.label,
                target=startup,
            ),
        ]
        alone = Figure(
            "pilotgate advance ID (no serve)", [str(PILOTGATE), "advance"], reference=ref.label
        )
        served = Figure(
            "pilotgate advance ID (serve running)",
            [str(PILOTGATE), "advance"],
            reference=alone.label,
            target="<= 3 s",
        )
        for f in fast:  # warm-up (not measured): each command's bytecode cached
            timed(f.command, cli_env, tmp, anything)
        served_ids: list[str] = []
        for i in range(max(args.runs, args.advance_runs)):
            if i < args.runs:
                for f in fast:
                    wall, cpu = run_timed(f.command, cli_env, tmp, anything)
                    f.seconds.append(wall)
                    f.cpu.append(cpu)
            if i < args.advance_runs:
                served_ids.append(with_serve.pop())
                served.seconds.append(
                    timed(served.command + [served_ids[-1]], cli_env, tmp, handed)
                )
                alone.seconds.append(timed(alone.command + [without.pop()], alone_env, tmp, here))
            print(f"round {i + 1} done (load {loadavg()})", file=sys.stderr)
        inside = serve_side(db, served_ids)
        memory = serve_memory(serve)
        left = stop_and_count(serve)
    finally:
        serve.stop()
        emu.stop()
        db.dispose()
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    load_after = loadavg()

    figures = [*fast, alone, served]
    by_label = {f.label: f for f in figures}
    rows = []
    for f in figures:
        r = by_label[f.reference] if f.reference else None
        rows.append(
            (
                f.label,
                f"{f.median:.2f} s",
                f"{min(f.seconds):.2f}-{max(f.seconds):.2f} s",
                len(f.seconds),
                f"{r.label}: {r.median:.2f} s" if r else "-",
                f"{f.median / r.median:.2f}x" if r else "-",
                f"{statistics.median(f.cpu):.2f} s" if f.cpu else "-",
                f"{statistics.median(f.cpu) / statistics.median(r.cpu):.2f}x"
                if f.cpu and r and r.cpu
                else "-",
                f.target or "-",
            )
        )
    header = (
        "command",
        "median",
        "range",
        "runs",
        "reference (same run)",
        "ratio",
        "CPU median",
        "CPU ratio",
        "target",
    )
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    for row in (header, *rows):
        print("  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True)))
    cores = os.cpu_count()
    print(f"\n{inside}\n{idle}\n{memory}\n{left}")
    print(
        f"machine: {cores} cores, {platform.python_implementation()} {platform.python_version()}"
        f", load average {load_before} before, {load_after} after"
    )

    if args.results:
        lines = [
            "# CLI latency (bench/cli.py)",
            "",
            f"Measured {dt.date.today().isoformat()} on {cores} cores; load average (1/5/15 min) "
            f"{load_before} before and {load_after} after the run. Wall-clock time of the "
            "console script in a fresh process (bytecode cached, as installed); medians of "
            "interleaved runs; CPU: its user + system time, less moved by other work.",
            "",
            "| " + " | ".join(header) + " |",
            "|" + "---|" * len(header),
            *("| " + " | ".join(str(x) for x in row) + " |" for row in rows),
            "",
            inside[0].upper() + inside[1:] + ".",
            "",
            idle[0].upper() + idle[1:] + ".",
            "",
            memory[0].upper() + memory[1:] + ".",
            "",
            left[0].upper() + left[1:] + ".",
            "",
        ]
        args.results.write_text("\n".join(lines))
        print(f"written to {args.results}")


if __name__ == "__main__":
    main()
