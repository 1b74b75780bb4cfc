"""Benchmark of the Slack listener: signed clicks per second through the real stack.

    python bench/listener.py [--clicks 2000] [--concurrency 10] [--approvers 40]

Sets up a SQLite register (temp dir, migrated with Alembic), one pilot whose proposal gate asks
`--approvers` programme-office members plus one finance member (all must approve), delivers the
asks to the Slack emulator, then starts the listener in its own process (uvicorn on loopback,
the same `slack_in.server.create_asgi_app` as production) and fires signed `block_actions`
clicks at it from `--concurrency` concurrent httpx clients. The clicks are mostly duplicates
(an approver clicking again) and not-yours clicks (someone clicking another approver's
message); each approver's first click on their own message is a real decision. Every click
goes through signature verification, ack, and one database transaction.

Reference (DESIGN.md): a bare bolt app that only verifies and acks answered about 590 clicks/s
at 10 concurrent clients, p99 about 37 ms, on the same 2-core machine, load client included.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import httpx
import yaml
from slack_bolt import Ack, App
from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient
from sqlalchemy import func, select

from config.clock import utcnow
from config.settings import Settings
from lifecycle.policy import Policy, parse_policy
from lifecycle.proposal import load_proposal
from lifecycle.stages import Stage
from slack_out.client import make_client
from slack_out.relay import relay_outbox
from slackemu import SlackEmulator
from store import gates, pilots
from store.db import Database
from store.migrate import upgrade
from store.models import Decision, FlowRequest, OutboxMessage
from tasks.runtime import Runtime, set_runtime

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "xoxb-pilotgate-bench"
SECRET = "pilotgate-bench-signing-secret"
REFERENCE = "bare verify+ack bolt app: ~590 clicks/s, p99 ~37 ms"


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


def prepare(database_url: str, emu: SlackEmulator, approvers: int) -> dict[str, tuple[str, str]]:
    """Migrate, propose, open the gate, deliver the asks. Returns approver -> (channel, ts)."""
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
        pilot_id = pilots.create_pilot(
            session, proposal, policy, actor=proposal.proposer.slack_id, now=utcnow()
        ).id
    opened = open_gate.fn(OpenGateInput(pilot_id=pilot_id, stage=Stage.PROPOSAL))
    report = relay_outbox(db, make_client(settings), utcnow, limit=10_000)
    assert not report.errors and report.sent == len(opened.asked), report
    with db.session() as session:
        where = {
            r.approver: (str(r.channel), str(r.message_ts))
            for r in gates.requests_for(session, opened.gate_id)
        }
    set_runtime(None)
    db.dispose()
    return where


def plan_clicks(where: dict[str, tuple[str, str]], n: int, seed: int) -> list[Click]:
    """Each approver's first click plus duplicates and not-yours clicks, shuffled."""
    rng = random.Random(seed)
    approvers = sorted(where)
    clicks = [Click(a, *where[a], "first") for a in approvers]
    while len(clicks) < n:
        user = rng.choice(approvers)
        if rng.random() < 0.5:
            clicks.append(Click(user, *where[user], "duplicate"))
        else:
            other = rng.choice([a for a in approvers if a != user])
            clicks.append(Click(user, *where[other], "not_yours"))
    rng.shuffle(clicks)
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

    from slack_in.server import create_asgi_app, serve_http

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

    def line(self, label: str) -> str:
        ms = sorted(self.latencies_ms)
        cpu = (
            f"   server CPU {self.server_cpu * 1000 / len(ms):.2f} ms/click"
            if self.server_cpu is not None
            else ""
        )
        return (
            f"  {label:<9} {len(ms) / self.elapsed:6,.0f} clicks/s   p50 "
            f"{statistics.median(ms):6.1f} ms   p99 {percentile(ms, 99):6.1f} ms   max "
            f"{ms[-1]:6.1f} ms{cpu}   statuses {dict(self.statuses)}"
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
    proc = subprocess.Popen(cmd, env=env, cwd=cwd)
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
        return Run(
            [x * 1000 for x in latencies], statuses, elapsed, len(emu.calls) - calls_before, cpu
        )
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument(
        "--approvers",
        type=int,
        default=40,
        help="programme-office approvers on the gate (plus one finance)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--no-bare", action="store_true", help="skip the bare verify+ack reference run"
    )
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--bare", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve, args.bare)
        return 0
    if args.clicks < args.approvers + 1:
        parser.error("--clicks must cover at least one click per approver")

    with (
        tempfile.TemporaryDirectory(prefix="pilotgate-bench-") as tmp,
        SlackEmulator(bot_token=TOKEN, signing_secret=SECRET) as emu,
    ):
        database_url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        t0 = time.perf_counter()
        where = prepare(database_url, emu, args.approvers)
        clicks = plan_clicks(where, args.clicks, args.seed)
        payloads = bodies(emu, clicks)
        env = {**os.environ, **settings_env(database_url, emu.api_url), "PYTHONPATH": str(ROOT)}
        setup = time.perf_counter() - t0
        bare = (
            None
            if args.no_bare
            else run_against_server(env, tmp, payloads, args.concurrency, emu, bare=True)
        )
        real = run_against_server(env, tmp, payloads, args.concurrency, emu, bare=False)
        db = Database(database_url)
        with db.session() as session:
            decided = session.execute(select(func.count()).select_from(Decision)).scalar_one()
            resolves = session.execute(
                select(func.count())
                .select_from(FlowRequest)
                .where(FlowRequest.flow == "resolve-gate")
            ).scalar_one()
            queued = Counter(
                session.execute(
                    select(OutboxMessage.method).where(OutboxMessage.status == "pending")
                ).scalars()
            )
        db.dispose()

    kinds = Counter(c.kind for c in clicks)
    print(
        f"listener benchmark: {len(clicks)} signed clicks, {args.concurrency} concurrent "
        f"clients (httpx), SQLite, uvicorn in its own process (setup {setup:.1f} s)"
    )
    print(
        f"  mix: {kinds['first']} first clicks by approvers, {kinds['duplicate']} duplicates, "
        f"{kinds['not_yours']} not-yours"
    )
    if bare is not None:
        print(bare.line("bare"))
    print(real.line("pilotgate"))
    print(
        f"  decisions recorded: {decided} (expected {len(where)}); resolve-gate flow "
        f"requests: {resolves}; Slack Web API calls during the run: {real.slack_calls}"
    )
    print(f"  queued for the outbox relay: {dict(queued)}")
    print(
        f"  DESIGN.md reference: {REFERENCE}; load average now "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    ok = (
        real.statuses == Counter({200: len(clicks)})
        and decided == len(where)
        and resolves == 1
        and real.slack_calls == 0
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
