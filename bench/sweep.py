"""How the sweep's cost grows: with the number of due items, not the number of pilots.

Fills a register (SQLite by default, or PILOTGATE_BENCH_DB=postgresql+psycopg://...) with N
pilots that each have an open gate, of which only D are due, then times the sweep's planning
queries (the indexed due-gate, due-reminder and overdue-pilot look-ups). Prints figures; asserts
nothing.

    .venv/bin/python bench/sweep.py [--pilots 1000 10000 50000] [--due 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, text

from lifecycle.policy import load_policy
from store import gates
from store import pilots as pilots_store
from store.db import Database
from store.migrate import upgrade
from store.models import Base, Gate, Pilot

ROOT = Path(__file__).resolve().parent.parent


def fill(db: Database, pilots: int, due: int, now: datetime) -> None:
    proposal = {"title": "bench"}
    with db.session() as session:
        session.execute(
            insert(Pilot),
            [
                {
                    "id": f"pg-{i:08x}",
                    "title": f"bench {i}",
                    "portfolio": f"p{i % 50}",
                    "risk_tier": "low",
                    "customer_facing": False,
                    "proposer": "U0PRO0001",
                    "business_owner": "U0BIZ0001",
                    "proposal": proposal,
                    "stage": "pilot",
                    "created_at": now - timedelta(days=30),
                    "pilot_started_at": now - timedelta(days=30),
                    "deploy_by": now + timedelta(days=150) if i >= due else now - timedelta(days=1),
                }
                for i in range(pilots)
            ],
        )
        session.execute(
            insert(Gate),
            [
                {
                    "pilot_id": f"pg-{i:08x}",
                    "stage": "pilot",
                    "target": "readiness_review",
                    "status": "open",
                    "quorum": {"programme_office": 1},
                    "excluded": [],
                    "any_rejection_rejects": True,
                    "opened_at": now - timedelta(days=10),
                    "deadline": now + timedelta(days=4) if i >= due else now - timedelta(hours=1),
                    "next_reminder_at": now + timedelta(days=2)
                    if i >= due
                    else now - timedelta(hours=2),
                }
                for i in range(pilots)
            ],
        )


def time_queries(db: Database, now: datetime, repeats: int = 20) -> tuple[float, int]:
    samples = []
    found = 0
    for _ in range(repeats):
        started = time.perf_counter()
        with db.session() as session:
            found = (
                len(gates.open_gates_past_deadline(session, now))
                + len(gates.gates_due_for_reminder(session, now))
                + len(pilots_store.pilots_past_deploy_by(session, now))
            )
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pilots", type=int, nargs="+", default=[1000, 10000, 50000])
    parser.add_argument("--due", type=int, default=5)
    args = parser.parse_args()
    load_policy(ROOT / "examples" / "policy.yaml")
    now = datetime.now(UTC)
    url = os.environ.get("PILOTGATE_BENCH_DB")
    print(f"{'pilots':>8} {'due':>5} {'items found':>12} {'plan queries (median ms)':>26}")
    for n in args.pilots:
        with tempfile.TemporaryDirectory() as tmp:
            db_url = url or f"sqlite:///{tmp}/bench.db"
            upgrade(db_url)
            db = Database(db_url)
            with db.session() as session:
                for table in reversed(Base.metadata.sorted_tables):
                    if table.name != "audit_head":
                        session.execute(table.delete())
            fill(db, n, args.due, now)
            if db.is_postgres:
                with db.session() as session:
                    session.execute(text("ANALYZE"))
            ms, found = time_queries(db, now)
            print(f"{n:>8} {args.due:>5} {found:>12} {ms:>26.2f}")
            db.dispose()


if __name__ == "__main__":
    main()
