"""Benchmark of the Slack listener: signed clicks per second through the real stack.

    python bench/listener.py [--db sqlite postgresql] [--concurrency 1 10 50] [--clicks 600]

For each database (SQLite in a temp dir; PostgreSQL at PILOTGATE_BENCH_PG, default the tests'
server, a fresh database) it migrates a register with Alembic, opens one proposal gate on each of
enough pilots, every gate asking `--approvers` programme-office members plus one finance member
(all must approve), and delivers the asks to the Slack emulator. Then, per concurrency level, it
starts a listener in its own process (uvicorn on loopback, the same
`slack_in.server.create_asgi_app` as production) and fires `--clicks` signed `block_actions`
clicks at it from that many concurrent httpx clients: every click is an approver's first click on
their own, not yet answered request, i.e. a real decision (the decision row, its audit row, the
closed buttons and App Home refresh queued, and on each gate's last click the resolve-gate
request). Each level uses requests of its own.

Reference, in the same run: a bare bolt app in the same kind of process that only verifies the
signature and acks, fired the same clicks by the same client. Afterwards the register is checked:
one decision per click, one resolve-gate request per settled gate, `audit verify` passes.
Statements per click are counted in the listener process (a SQLAlchemy `before_cursor_execute`
listener), and written when it stops.

Targets (issue 17): at 10 clients at least 0.6x the bare app's clicks/s and p99 under 100 ms; at
50 clients no errors and p99 under 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import httpx
import yaml
from slack_bolt import Ack, App
from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from config.clock import utcnow
from config.settings import Settings
from lifecycle.policy import Policy, parse_policy
from lifecycle.proposal import load_proposal
from lifecycle.stages import Stage
from slack_out.client import make_client
from slack_out.relay import relay_outbox
from slackemu import SlackEmulator
from store import audit, gates, pilots
from store.db import Database
from store.migrate import upgrade
from store.models import Decision, FlowRequest
from tasks.runtime import Runtime, set_runtime

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "xoxb-pilotgate-bench"
SECRET = "pilotgate-bench-signing-secret"
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
STATEMENTS_ENV = "PILOTGATE_BENCH_STATEMENTS"


@dataclass(frozen=True)
class Click:
    user: str
    channel: str
    ts: str
    kind: str  # first | duplicate | not_yours


def bench_policy(approvers: int) -> Policy:
    data = yaml.safe_load((ROOT / "examples" / "policy.yaml").read_text())
    data["roles"]["programme_office"] = [f"U0PMB{i:04d}" for i in range(approvers)]
    data["gates"]["proposal"]["approvers"] = {"programme_office": approvers, "finance": 1}
    data["portfolio"]["max_active_pilots"] = 100  # the most a policy allows
    return parse_policy(yaml.safe_dump(data), "bench-policy.yaml")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def settings_env(database_url: str, api_url: str) -> dict[str, str]:
    return {
        "PILOTGATE_DATABASE_URL": database_url,
        "SLACK_API_URL": api_url,
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
    }


def prepare(database_url: str, emu: SlackEmulator, approvers: int, gates_n: int) -> list[Click]:
    """Migrate, propose `gates_n` pilots, open each one's gate, deliver the asks. Returns one
    first click per sign-off request."""
    # Deferred: tasks bring Prefect, which loads after the settings are in place.
    from tasks.gates import open_gate
    from tasks.inputs import OpenGateInput

    upgrade(database_url)
    db = Database(database_url)
    policy = bench_policy(approvers)
    settings = Settings(_env_file=None, **settings_env(database_url, emu.api_url))  # type: ignore[arg-type]
    set_runtime(Runtime(settings, db=db, policy=policy))
    proposal = load_proposal(ROOT / "examples" / "helpdesk-assistant.yaml")
    with db.session() as session:
        pilot_ids = [
            pilots.create_pilot(
                # A policy caps a portfolio at 100 active pilots: spread them.
                session,
                proposal.model_copy(update={"portfolio": f"bench-{i // 100}"}),
                policy,
                actor=proposal.proposer.slack_id,
                now=utcnow(),
            ).id
            for i in range(gates_n)
        ]
    gate_ids = [
        open_gate.fn(OpenGateInput(pilot_id=pid, stage=Stage.PROPOSAL)).gate_id for pid in pilot_ids
    ]
    report = relay_outbox(db, make_client(settings), utcnow, limit=1_000_000)
    assert not report.errors, report
    with db.session() as session:
        clicks = [
            Click(r.approver, str(r.channel), str(r.message_ts), "first")
            for gate_id in gate_ids
            for r in gates.requests_for(session, gate_id)
        ]
    assert all(c.ts != "None" for c in clicks), "an ask was not delivered"
    set_runtime(None)
    db.dispose()
    return clicks


def bodies(emu: SlackEmulator, clicks: list[Click]) -> list[str]:
    out = []
    for c in clicks:
        payload = emu.build_block_actions(c.user, c.channel, c.ts, "pilotgate_approve")
        out.append(urlencode({"payload": json.dumps(payload, separators=(",", ":"))}))
    return out


async def fire(
    url: str, payloads: list[str], concurrency: int, emu: SlackEmulator
) -> tuple[list[float], Counter[int], float]:
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    queue: asyncio.Queue[str] = asyncio.Queue()
    for body in payloads:
        queue.put_nowait(body)

    async def worker(client: httpx.AsyncClient) -> None:
        while True:
            try:
                body = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            ts = str(int(time.time()))
            headers = {
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Slack-Request-Timestamp": ts,
                "X-Slack-Signature": emu.sign(body, ts),
            }
            start = time.perf_counter()
            response = await client.post(url, content=body, headers=headers)
            latencies.append(time.perf_counter() - start)
            statuses[response.status_code] += 1

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        for _ in range(20):  # warm-up: connections, bolt's lazy setup, SQLite page cache
            await client.get(url.rsplit("/slack/", 1)[0] + "/healthz")
        start = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    return latencies, statuses, elapsed


def wait_healthy(base_url: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"listener exited with {proc.returncode}")
        try:
            if httpx.get(base_url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise TimeoutError("listener did not come up")


def bare_app() -> App:
    """The reference: bolt verifies the signature and acks, nothing else."""

    def authorize(enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
        return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_token=TOKEN)

    app = App(
        signing_secret=SECRET,
        client=WebClient(),
        authorize=authorize,
        process_before_response=True,
        token_verification_enabled=False,
    )

    @app.action("pilotgate_approve")
    def ack_only(ack: Ack) -> None:
        ack()

    return app


def serve(port: int, bare: bool) -> None:
    """The listener process: settings from the environment, as in production."""
    # Deferred: the listener process loads only what it serves.
    import uvicorn
    from sqlalchemy import Engine, event

    from slack_in.server import create_asgi_app, serve_http

    statements = [0]
    out = os.environ.get(STATEMENTS_ENV)
    if out:

        def count(*_args: object) -> None:
            statements[0] += 1

        event.listen(Engine, "before_cursor_execute", count)

        def write_and_exit(_signum: int, _frame: object) -> None:
            Path(out).write_text(str(statements[0]))
            sys.exit(0)

        # uvicorn restores this handler when it has shut down and raises the signal again.
        signal.signal(signal.SIGTERM, write_and_exit)
    runtime = Runtime(Settings())
    if bare:
        os.environ.pop("SLACK_BOT_TOKEN", None)  # bolt would read it and warn it is unused
        uvicorn.run(
            create_asgi_app(runtime, app=bare_app()),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    else:
        serve_http(runtime, port=port)


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux /proc), None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


@dataclass
class Run:
    latencies_ms: list[float]
    statuses: Counter[int]
    elapsed: float
    slack_calls: int
    server_cpu: float | None
    statements: int | None = None

    @property
    def rate(self) -> float:
        return len(self.latencies_ms) / self.elapsed

    def p(self, q: float) -> float:
        return percentile(sorted(self.latencies_ms), q)

    @property
    def errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status != 200)

    def line(self, label: str) -> str:
        ms = sorted(self.latencies_ms)
        cpu = (
            f"   server CPU {self.server_cpu * 1000 / len(ms):.2f} ms/click"
            if self.server_cpu is not None
            else ""
        )
        stmts = (
            f"   {self.statements / len(ms):.1f} statements/click"
            if self.statements is not None
            else ""
        )
        return (
            f"  {label:<9} {self.rate:6,.0f} clicks/s   p50 "
            f"{statistics.median(ms):6.1f} ms   p99 {self.p(99):6.1f} ms   max "
            f"{ms[-1]:6.1f} ms{cpu}{stmts}   statuses {dict(self.statuses)}"
        )


def run_against_server(
    env: dict[str, str],
    cwd: str,
    payloads: list[str],
    concurrency: int,
    emu: SlackEmulator,
    bare: bool,
) -> Run:
    port = free_port()
    cmd = [sys.executable, __file__, "--serve", str(port)] + (["--bare"] if bare else [])
    counted = Path(cwd) / f"statements-{port}.txt"
    proc = subprocess.Popen(cmd, env={**env, STATEMENTS_ENV: str(counted)}, cwd=cwd)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_healthy(base, proc)
        calls_before = len(emu.calls)
        cpu_before = cpu_seconds(proc.pid)
        latencies, statuses, elapsed = asyncio.run(
            fire(base + "/slack/events", payloads, concurrency, emu)
        )
        cpu_after = cpu_seconds(proc.pid)
        cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    statements = int(counted.read_text()) if counted.exists() else None
    return Run(
        [x * 1000 for x in latencies],
        statuses,
        elapsed,
        len(emu.calls) - calls_before,
        cpu,
        None if bare else statements,
    )


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def _pg_admin(url: str, statement: str) -> None:
    engine = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(statement))
    finally:
        engine.dispose()


@contextmanager
def register_url(kind: str, tmp: str) -> Iterator[str | None]:
    """A fresh, empty register: a SQLite file, or a new PostgreSQL database (dropped after)."""
    if kind == "sqlite":
        yield f"sqlite:///{Path(tmp) / 'bench.db'}"
        return
    server = make_url(os.environ.get("PILOTGATE_BENCH_PG", PG_DEFAULT))
    name = f"pilotgate_bench_listener_{os.getpid()}"
    try:
        _pg_admin(server.render_as_string(hide_password=False), "SELECT 1")
    except Exception as exc:
        print(f"postgresql: skipped, no server at {server} ({type(exc).__name__})")
        yield None
        return
    _pg_admin(server.render_as_string(hide_password=False), f"CREATE DATABASE {name}")
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        _pg_admin(
            server.render_as_string(hide_password=False), f"DROP DATABASE {name} WITH (FORCE)"
        )


def loadavg() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def target(concurrency: int, bare: Run | None, real: Run) -> tuple[str, bool]:
    """The issue's target for this level, and whether the run met it."""
    if concurrency == 10:
        ratio_ok = bare is None or real.rate >= 0.6 * bare.rate
        return ">= 0.6x bare, p99 < 100 ms", ratio_ok and real.p(99) < 100 and not real.errors
    if concurrency == 50:
        return "no errors, p99 < 1 s", real.p(99) < 1000 and not real.errors
    return "-", not real.errors


def bench_database(kind: str, args: argparse.Namespace) -> list[str]:
    """Run every concurrency level on one database; the summary rows."""
    per_gate = args.approvers + 1
    gates_n = -(-args.clicks * len(args.concurrency) // per_gate)
    rows: list[str] = []
    with (
        tempfile.TemporaryDirectory(prefix="pilotgate-bench-") as tmp,
        SlackEmulator(bot_token=TOKEN, signing_secret=SECRET) as emu,
        register_url(kind, tmp) as database_url,
    ):
        if database_url is None:
            return rows
        t0 = time.perf_counter()
        clicks = prepare(database_url, emu, args.approvers, gates_n)
        env = {**os.environ, **settings_env(database_url, emu.api_url), "PYTHONPATH": str(ROOT)}
        print(
            f"{kind}: {gates_n} open gates x {per_gate} approvers, asks delivered "
            f"(setup {time.perf_counter() - t0:.1f} s); load average {loadavg()}"
        )
        ok = True
        for i, concurrency in enumerate(args.concurrency):
            # In gate order, so the gates settle that the levels' clicks cover in full;
            # shuffled within a level, so concurrent clicks meet on a gate and across gates.
            mine = clicks[i * args.clicks : (i + 1) * args.clicks]
            random.Random(args.seed + i).shuffle(mine)
            payloads = bodies(emu, mine)
            bare = (
                None
                if args.no_bare
                else run_against_server(env, tmp, payloads, concurrency, emu, bare=True)
            )
            real = run_against_server(env, tmp, payloads, concurrency, emu, bare=False)
            print(f" c={concurrency}, {len(mine)} clicks, every one a real decision:")
            if bare is not None:
                print(bare.line("bare"))
            print(real.line("pilotgate"))
            goal, met = target(concurrency, bare, real)
            ok = ok and real.slack_calls == 0  # targets are reported per row
            ratio = f"{real.rate / bare.rate:.2f}x" if bare is not None else "-"
            stmts = f"{real.statements / len(mine):.1f}" if real.statements is not None else "-"
            rows.append(
                f"| {kind} | {concurrency} | {bare.rate if bare else 0:,.0f} | {real.rate:,.0f} "
                f"| {ratio} | {real.p(50):.1f} ms | {real.p(99):.1f} ms | {real.errors} "
                f"| {stmts} | {goal} | {'met' if met else 'NOT met'} | {loadavg()} |"
            )
        db = Database(database_url)
        with db.session() as session:
            decided = session.execute(select(func.count()).select_from(Decision)).scalar_one()
            resolves = session.execute(
                select(func.count())
                .select_from(FlowRequest)
                .where(FlowRequest.flow == "resolve-gate")
            ).scalar_one()
            chain = audit.verify(session)
        db.dispose()
        fired = args.clicks * len(args.concurrency)
        settled = fired // per_gate
        print(
            f"  register: {decided} decisions (expected {fired}), {resolves} resolve-gate "
            f"requests (expected {settled}), audit verify: "
            f"{'ok, ' + str(chain.rows) + ' rows' if chain.ok else chain.problem}"
        )
        if not (ok and decided == fired and resolves == settled and chain.ok):
            rows.append(f"| {kind} | check failed: see above | | | | | | | | | | |")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--clicks", type=int, default=600, help="clicks per concurrency level")
    parser.add_argument(
        "--approvers",
        type=int,
        default=4,
        help="programme-office approvers on each gate (plus one finance); every other "
        "approver's ask is refreshed after each decision, so this sets a decision's cost",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--no-bare", action="store_true", help="skip the bare verify+ack reference runs"
    )
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--bare", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve, args.bare)
        return 0
    print(f"listener benchmark on {os.cpu_count()} CPUs; load average before {loadavg()}")
    rows: list[str] = []
    for kind in args.db:
        rows += bench_database(kind, args)
    print()
    print(
        "| database | clients | bare clicks/s (reference) | pilotgate clicks/s | ratio | p50 "
        "| p99 | errors | statements/click | target | | load average |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(row)
    return 0 if rows and not any("NOT met" in r or "check failed" in r for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
