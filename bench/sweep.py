"""The sweep end to end, as an operator runs it: `pilotgate sweep` against a large register with
1,000 due items, beside its own `--dry-run` on the same register in the same measurement.

For each database (SQLite, and PostgreSQL at PILOTGATE_BENCH_PG, default the test server) and
each register size, the register is filled once (N pilots in their pilot stage, each with an
open gate and an unanswered sign-off request) with 1,000 items due at the same moment:

* 300 pilots past their deploy-or-terminate date (terminated),
* 400 gates past their deadline, already extended once (expired, and the pilot terminated),
* 300 gates past a reminder point (one reminder each).

Each measurement is a fresh copy of that register (a file copy on SQLite, a template database
on PostgreSQL), so every run starts from the same state; dry and real runs are interleaved.
Each run is the installed console script in its own process with its own temporary Prefect API,
as `pilotgate sweep` runs without `serve`. Slack is not configured: the sweep queues its
messages in the outbox for `serve`'s relay (measured by bench/relay.py). After each real run the
register is checked: every due item handled, none left due.

Prints figures beside their reference (the dry run), with the load average; asserts nothing.

    .venv/bin/python bench/sweep.py [--pilots 10000 100000] [--runs 3] [--db sqlite postgresql]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import make_url

from lifecycle.proposal import load_proposal
from store.migrate import upgrade
from store.models import Gate, Pilot, SignoffRequest

ROOT = Path(__file__).resolve().parent.parent
PILOTGATE = Path(sys.executable).parent / "pilotgate"
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

OVERDUE = 300
EXPIRING = 400
REMINDED = 300
DUE = OVERDUE + EXPIRING + REMINDED


def fill(url: str, pilots: int, now: datetime) -> None:
    """N pilots with an open gate each; the first DUE of them due at `now` (see the module)."""
    engine = create_engine(url)
    proposal = load_proposal(ROOT / "examples" / "helpdesk-assistant.yaml").model_dump(mode="json")
    chunk = 5000
    with engine.begin() as conn:
        for start in range(0, pilots, chunk):
            ids = range(start, min(start + chunk, pilots))
            conn.execute(
                insert(Pilot),
                [
                    {
                        "id": f"pg-{i:08x}",
                        "title": f"bench pilot {i}",
                        "portfolio": f"portfolio-{i % 50}",
                        "risk_tier": "low",
                        "customer_facing": False,
                        "proposer": "U0PRO0001",
                        "business_owner": f"U0OWN{i % 200:04d}",
                        "proposal": proposal,
                        "stage": "pilot",
                        "created_at": now - timedelta(days=40),
                        "pilot_started_at": now - timedelta(days=40),
                        "deploy_by": now - timedelta(days=1)
                        if i < OVERDUE
                        else now + timedelta(days=20 + i % 140),
                    }
                    for i in ids
                ],
            )
            conn.execute(insert(Gate), [_gate(i, now) for i in ids])
        gate_ids = dict(conn.execute(select(Gate.pilot_id, Gate.id)).all())
        for start in range(0, pilots, chunk):
            conn.execute(
                insert(SignoffRequest),
                [
                    {
                        "gate_id": gate_ids[f"pg-{i:08x}"],
                        "approver": "U0PMO0001",
                        "role": "programme_office",
                        "round": 0,
                        "asked_at": _opened(i, now),
                    }
                    for i in range(start, min(start + chunk, pilots))
                ],
            )
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
    engine.dispose()


def _opened(i: int, now: datetime) -> datetime:
    if OVERDUE <= i < OVERDUE + EXPIRING:
        return now - timedelta(days=22)
    return now - timedelta(days=8)


def _gate(i: int, now: datetime) -> dict[str, Any]:
    gate: dict[str, Any] = {
        "pilot_id": f"pg-{i:08x}",
        "stage": "pilot",
        "target": "readiness_review",
        "status": "open",
        "quorum": {"programme_office": 1},
        "excluded": [],
        "any_rejection_rejects": True,
        "opened_at": _opened(i, now),
        # not due: the first reminder (half the window) is a day away
        "deadline": now + timedelta(days=8),
        "next_reminder_at": now + timedelta(days=1),
        "extended_at": None,  # every row has every key: an executemany takes the first's
    }
    if OVERDUE <= i < OVERDUE + EXPIRING:  # extended once already: now it expires
        gate.update(
            extended_at=now - timedelta(days=8),
            deadline=now - timedelta(hours=1),
            next_reminder_at=None,
        )
    elif OVERDUE + EXPIRING <= i < DUE:  # 8 of 14 days gone: the 50% reminder is due
        gate.update(deadline=now + timedelta(days=6), next_reminder_at=now - timedelta(minutes=10))
    return gate


@dataclass
class Register:
    """A filled register and how to get a fresh copy of it."""

    kind: str
    base: str  # SQLite: the file; PostgreSQL: the template database's URL
    tmp: Path

    def fresh(self, n: int) -> str:
        if self.kind == "sqlite":
            copy = self.tmp / f"run-{n}.db"
            shutil.copyfile(self.base, copy)
            return f"sqlite:///{copy}"
        url = make_url(self.base)
        name = f"{url.database}_run{n}"
        _pg_admin(self.base, f'DROP DATABASE IF EXISTS "{name}"')
        _pg_admin(self.base, f'CREATE DATABASE "{name}" TEMPLATE "{url.database}"')
        return url.set(database=name).render_as_string(hide_password=False)

    def drop(self, url: str) -> None:
        if self.kind == "sqlite":
            Path(make_url(url).database or "").unlink(missing_ok=True)
        else:
            _pg_admin(self.base, f'DROP DATABASE IF EXISTS "{make_url(url).database}"')


def _pg_admin(url: str, statement: str) -> None:
    engine = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(statement))
    engine.dispose()


def _pg_server() -> str:
    return make_url(os.environ.get("PILOTGATE_BENCH_PG", PG_DEFAULT)).render_as_string()


def _pg_reachable() -> bool:
    try:
        _pg_admin(os.environ.get("PILOTGATE_BENCH_PG", PG_DEFAULT), "SELECT 1")
    except Exception:
        return False
    return True


def make_register(kind: str, pilots: int, now: datetime, tmp: Path) -> Register:
    if kind == "sqlite":
        path = tmp / f"register-{pilots}.db"
        url = f"sqlite:///{path}"
        base = str(path)
    else:
        server = make_url(os.environ.get("PILOTGATE_BENCH_PG", PG_DEFAULT))
        url = server.set(database=f"bench_sweep_{pilots}").render_as_string(hide_password=False)
        _pg_admin(url, f'DROP DATABASE IF EXISTS "bench_sweep_{pilots}"')
        _pg_admin(url, f'CREATE DATABASE "bench_sweep_{pilots}"')
        base = url
    upgrade(url)
    fill(url, pilots, now)
    return Register(kind, base, tmp)


def run_sweep(url: str, now: datetime, home: Path, dry: bool) -> tuple[float, dict[str, Any]]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PILOTGATE_", "SLACK_", "PREFECT_"))
    }
    env.update(
        {
            "PILOTGATE_DATABASE_URL": url,
            "PILOTGATE_POLICY": str(ROOT / "examples" / "policy.yaml"),
            "PREFECT_HOME": str(home),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_LOGGING_LEVEL": "WARNING",
        }
    )
    args = [str(PILOTGATE), "sweep", "--json", "--now", now.isoformat()]
    if dry:
        args.append("--dry-run")
    started = time.perf_counter()
    proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=1800)
    took = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"pilotgate sweep failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return took, json.loads(proc.stdout)


def check(url: str, now: datetime, result: dict[str, Any]) -> str:
    """What the real run did, read back from the register."""
    engine = create_engine(url)
    with engine.connect() as conn:
        terminated = conn.execute(
            select(func.count()).select_from(Pilot).where(Pilot.stage == "terminated")
        ).scalar_one()
        expired = conn.execute(
            select(func.count()).select_from(Gate).where(Gate.status == "expired")
        ).scalar_one()
        still_due = conn.execute(
            select(func.count())
            .select_from(Gate)
            .where(Gate.status == "open", Gate.next_reminder_at <= now)
        ).scalar_one()
    engine.dispose()
    return (
        f"{terminated} terminated, {expired} gates expired, {result['reminders']} reminders, "
        f"{still_due} reminders still due"
    )


def loadavg() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--pilots", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--db", nargs="+", default=["sqlite", "postgresql"])
    args = parser.parse_args()
    now = datetime.now(UTC).replace(microsecond=0)
    print(f"# sweep end to end (bench/sweep.py): {DUE} due items; load average {loadavg()}")
    print(
        f"{'database':<11} {'pilots':>7} {'dry run (ref)':>14} {'sweep':>8} {'ratio':>6} "
        f"{'target':>7}  handled"
    )
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        home = tmp / "prefect-home"
        for kind in args.db:
            if kind == "postgresql" and not _pg_reachable():
                print(
                    f"postgresql: skipped, no server at {_pg_server()} (PILOTGATE_BENCH_PG; "
                    "scripts/test-services.sh starts the local one)"
                )
                continue
            for pilots in args.pilots:
                started = time.perf_counter()
                register = make_register(kind, pilots, now, tmp)
                filled = time.perf_counter() - started
                dry: list[float] = []
                real: list[float] = []
                handled = ""
                for n in range(args.runs):
                    for is_dry in (True, False):
                        url = register.fresh(n * 2 + int(is_dry))
                        took, result = run_sweep(url, now, home, is_dry)
                        (dry if is_dry else real).append(took)
                        if not is_dry:
                            handled = check(url, now, result)
                        register.drop(url)
                d, r = statistics.median(dry), statistics.median(real)
                print(
                    f"{kind:<11} {pilots:>7} {d:>12.1f} s {r:>6.1f} s {r / d:>5.2f}x {'<= 2x':>7}"
                    f"  {handled} (runs: dry {_range(dry)}, sweep {_range(real)}; "
                    f"filled in {filled:.0f} s)",
                    flush=True,
                )
                if kind == "postgresql":
                    _pg_admin(register.base, f'DROP DATABASE IF EXISTS "bench_sweep_{pilots}"')
    print(f"load average after: {loadavg()}")


def _range(xs: list[float]) -> str:
    return "-".join(f"{x:.1f}" for x in (min(xs), max(xs))) + " s"


if __name__ == "__main__":
    main()
