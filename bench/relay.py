"""Benchmark of the outbox relay under Slack's rate limits: how close to the floor it drains.

    python bench/relay.py [--messages 500] [--channels 20] [--runs 3] [--database-url URL]

Queues `--messages` chat.postMessage rows spread round-robin over `--channels` channels in a
migrated register (a temporary SQLite file by default), then drains them with the real relay
and the real slack_sdk client against the Slack emulator enforcing Slack's limits: one message
a second per channel for chat.postMessage, beyond which it answers 429 with an integer
Retry-After, as Slack does. The loop is the relay's own: run a round, and when a round sends
nothing, sleep until the earliest pending row is due (`RelayReport.next_due`), at most 1 s.

The reference, from the same run's parameters, is the limit's floor: with N messages per
channel at 1 msg/s the last one cannot go before (N - 1) s after the first. Printed: the drain
time, its ratio to the floor (target: at most 1.15x), the 429s met, lost and duplicated
messages (both must be 0), and the load average. Medians over `--runs` runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from config.clock import utcnow
from config.settings import Settings
from slack_out.client import make_client
from slack_out.relay import RateLimits, relay_outbox
from slackemu import SlackEmulator
from store import outbox
from store.db import Database
from store.migrate import upgrade

TOKEN = "xoxb-pilotgate-relay-bench"


@dataclass
class Run:
    seconds: float
    floor: float
    rate_limited: int
    lost: int
    duplicated: int
    rounds: int


def one_run(url: str, messages: int, channels: int) -> Run:
    upgrade(url)
    db = Database(url)
    names = [f"C0BENCH{i:03d}" for i in range(channels)]
    with SlackEmulator(bot_token=TOKEN) as emu:
        emu.enforce_rate_limits()
        settings = Settings(
            _env_file=None,
            PILOTGATE_DATABASE_URL=db.url,  # type: ignore[call-arg]
            SLACK_API_URL=emu.api_url,
            SLACK_BOT_TOKEN=TOKEN,
            SLACK_SIGNING_SECRET="bench",
        )
        with db.session() as session:
            for i in range(messages):
                outbox.enqueue(
                    session,
                    "chat.postMessage",
                    {"channel": names[i % channels], "text": f"message {i}"},
                    now=utcnow(),
                )
        client = make_client(settings)
        limits = RateLimits()
        rounds = 0
        start = time.perf_counter()
        while True:
            report = relay_outbox(db, client, utcnow, limit=1000, limits=limits)
            rounds += 1
            with db.session() as session:
                if outbox.pending_outbox_count(session) == 0:
                    break
            if report.sent == 0 and report.next_due is not None:
                # nothing due now: sleep until the earliest held row is (a tick at most)
                time.sleep(min(1.0, max(0.0, (report.next_due - utcnow()).total_seconds())))
        seconds = time.perf_counter() - start
        accepted = Counter(
            str(c.params.get("text")) for c in emu.calls if c.method == "chat.postMessage" and c.ok
        )
        limited = sum(1 for c in emu.calls if c.status == 429)
    db.dispose()
    expected = {f"message {i}" for i in range(messages)}
    per_channel = -(-messages // channels)
    return Run(
        seconds=seconds,
        floor=float(per_channel - 1),
        rate_limited=limited,
        lost=len(expected - set(accepted)),
        duplicated=sum(n - 1 for n in accepted.values() if n > 1),
        rounds=rounds,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--channels", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--database-url", default=None, help="an empty database (default: a temporary SQLite)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        runs = [
            one_run(
                args.database_url or f"sqlite:///{Path(tmp) / f'relay-bench-{n}.db'}",
                args.messages,
                args.channels,
            )
            for n in range(args.runs)
        ]
    seconds = statistics.median(r.seconds for r in runs)
    floor = runs[0].floor
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    backend = "sqlite" if args.database_url is None else args.database_url.split(":", 1)[0]
    print(
        f"relay: {args.messages} messages over {args.channels} channels at 1 msg/s/channel "
        f"({backend}, median of {len(runs)})"
    )
    print(
        f"  drained in {seconds:.2f} s    floor {floor:.2f} s    ratio {seconds / floor:.3f}x "
        f"(target <= 1.15x)"
    )
    print(
        f"  429s met {statistics.median(r.rate_limited for r in runs):.0f}, rounds "
        f"{statistics.median(r.rounds for r in runs):.0f}, lost {max(r.lost for r in runs)}, "
        f"duplicated {max(r.duplicated for r in runs)}"
    )
    print(f"  runs: {', '.join(f'{r.seconds:.2f}' for r in runs)} s    load average {load}")
    if any(r.lost or r.duplicated for r in runs):
        sys.exit(1)


if __name__ == "__main__":
    main()
