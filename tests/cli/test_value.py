"""`pilotgate metric` keeps taking measurements after go-live, and `pilotgate value` shows what
they add up to since then, with the figures worked out by hand.

Live since 1 January 2026 (baseline 11 minutes, target 1, 42,000 tickets a year, the example
policy's 55 USD an hour): 5 minutes in January, a median of 4 in February, nothing in March
(February's figure carried), 2 in April; the command runs on 1 May (the clock is travelled).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import time_machine
from cli_harness import EXAMPLES_DIR, Cli
from process_harness import run_cli

from lifecycle.policy import load_policy
from store.db import Database

LIVE = datetime(2026, 1, 1, tzinfo=UTC)
NOW = datetime(2026, 5, 1, tzinfo=UTC)
CSV = """metric,value,observed_at,unit,source
resolution_minutes,3,2026-02-10T09:00:00Z,minutes,ITSM
resolution_minutes,5,2026-02-20T09:00:00Z,minutes,ITSM
resolution_minutes,2,2026-04-10T09:00:00Z,minutes,ITSM
"""


def _go_live(cli: Cli, walk: Callable[..., None]) -> str:
    with time_machine.travel(LIVE - timedelta(days=60), tick=False):
        proposed = cli.run("propose", str(EXAMPLES_DIR / "helpdesk-assistant.yaml"))
        assert proposed.exit_code == 0, proposed.stderr
        pilot = proposed.stdout.strip()
        # a figure from the pilot phase: recorded, never counted after go-live
        pilot_phase = cli.run(
            "metric", "record", pilot, "resolution_minutes", "1", "--at", "2025-10-20"
        )
        assert pilot_phase.exit_code == 0, pilot_phase.stderr
    policy = load_policy(EXAMPLES_DIR / "policy.yaml")
    db = Database(cli.url)
    try:
        with db.session() as session:
            walk(
                session,
                pilot,
                policy,
                live=LIVE,
                start=LIVE - timedelta(days=50),
                step=timedelta(days=5),
                actor="test",
                reason="approved",
            )
    finally:
        db.dispose()
    return pilot


def _measured_in_production(cli: Cli, walk: Callable[..., None]) -> str:
    pilot = _go_live(cli, walk)
    with time_machine.travel(NOW, tick=False):
        assert cli.run("status", pilot, "--json").exit_code == 0
        recorded = cli.run(
            "metric", "record", pilot, "resolution_minutes", "5", "--at", "2026-01-15"
        )
        assert recorded.exit_code == 0, recorded.stderr
        path = cli.tmp / "after.csv"
        path.write_text(CSV)
        imported = cli.run("metric", "import", pilot, str(path))
        assert imported.exit_code == 0, imported.stderr
        assert "imported 3 observation(s)" in imported.stdout
    return pilot


def test_metrics_are_recorded_after_production(
    migrated: Cli, walk_to_production: Callable[..., None]
) -> None:
    pilot = _measured_in_production(migrated, walk_to_production)
    with time_machine.travel(NOW, tick=False):
        status = json.loads(migrated.run("status", pilot, "--json").stdout)
    assert status["stage"] == "production"
    import sqlite3

    with sqlite3.connect(migrated.db_path) as conn:
        rows = conn.execute(
            "SELECT value, substr(observed_at, 1, 10), source FROM metric_observations "
            "WHERE pilot_id = ? ORDER BY observed_at",
            (pilot,),
        ).fetchall()
    assert rows == [
        (1.0, "2025-10-20", None),
        (5.0, "2026-01-15", None),
        (3.0, "2026-02-10", "ITSM"),
        (5.0, "2026-02-20", "ITSM"),
        (2.0, "2026-04-10", "ITSM"),
    ]


def test_value_json_figures_by_hand(migrated: Cli, walk_to_production: Callable[..., None]) -> None:
    pilot = _measured_in_production(migrated, walk_to_production)
    with time_machine.travel(NOW, tick=False):
        run = migrated.run("value", pilot, "--json")
    assert run.exit_code == 0, run.stderr
    data = json.loads(run.stdout)
    assert list(data) == [
        "id",
        "title",
        "portfolio",
        "stage",
        "business_owner",
        "value_since_go_live",
    ]
    assert (data["id"], data["stage"]) == (pilot, "production")
    assert data["business_owner"] == {"slack_id": "U0BIZ0001", "name": "Tom Becker"}
    s = data["value_since_go_live"]
    assert (s["production_at"], s["until"], s["granularity"]) == (
        "2026-01-01T00:00:00+00:00",
        "2026-05-01T00:00:00+00:00",
        "month",
    )
    (m,) = s["metrics"]
    assert [(p["label"], p["value"], p["carried"], p["realised"]) for p in m["periods"]] == [
        ("2026-01", 5.0, False, 356.71),  # (11 - 5) x 42000 x 31 / 365 / 60
        ("2026-02", 4.0, False, 375.89),  # (11 - 4) x 42000 x 28 / 365 / 60
        ("2026-03", 4.0, True, 416.16),  # (11 - 4) x 42000 x 31 / 365 / 60
        ("2026-04", 2.0, False, 517.81),  # (11 - 2) x 42000 x 30 / 365 / 60
    ]
    assert [p["cumulative_money"] for p in s["periods"]] == [
        19619.05,
        40293.0,
        63181.8,
        91661.35,
    ]
    assert (s["realised_hours"], s["realised_money"], s["budget"]) == (1666.57, 91661.35, 180000)
    # 180000 - 91661.35 = 88338.65 to go at 9 x 42000 / 60 x 55 = 346,500 USD a year
    assert s["payback"]["state"] == "not yet"
    assert s["payback"]["rate_per_year"] == 346500
    assert s["payback"]["projected_at"].startswith("2026-08-02")


def test_value_in_the_terminal(migrated: Cli, walk_to_production: Callable[..., None]) -> None:
    pilot = _measured_in_production(migrated, walk_to_production)
    with time_machine.travel(NOW, tick=False):
        run = migrated.run("value", pilot)
    assert run.exit_code == 0, run.stderr
    text = " ".join(run.stdout.split())
    assert f"IT help-desk assistant ({pilot}), portfolio it-operations, business owner " in text
    assert "Tom Becker (U0BIZ0001)" in text
    assert "live since 2026-01-01 (now production); per month" in text
    assert "2026-03 │ 4 (carried) │ 416.16 │ 1,148.76 │ 1,726.03 │ 63,181.8" in text
    assert (
        "realised 1,666.57 hours = 91,661.35 USD; at target 2,301.37 hours; budget 180,000 USD; "
        "payback: not yet; about 2026-08-02 at the current rate"
    ) in text
    assert "88,338.65 USD to go / 346,500 USD per year at the latest figures x 365" in text


def test_value_refuses_a_pilot_not_live_and_an_unknown_id(migrated: Cli) -> None:
    proposed = migrated.run("propose", str(EXAMPLES_DIR / "helpdesk-assistant.yaml"))
    pilot = proposed.stdout.strip()
    run = migrated.run("value", pilot, "--json")
    assert run.exit_code == 4 and run.stdout == ""
    assert f"pilot {pilot} has not gone live (stage proposal)" in " ".join(run.stderr.split())
    assert "Traceback" not in run.stderr
    missing = migrated.run("value", "pg-00000000")
    assert missing.exit_code == 3 and "no pilot with id 'pg-00000000'" in missing.stderr


def test_value_is_a_read_command(migrated: Cli, walk_to_production: Callable[..., None]) -> None:
    """In its own process, as the console script runs it: no Prefect, no Slack SDK."""
    pilot = _go_live(migrated, walk_to_production)
    run = run_cli(migrated.env, migrated.tmp, "value", pilot)
    assert run.exit_code == 0, run.stdout + run.stderr
    assert "live since 2026-01-01" in run.stdout
    assert not run.loaded & {"prefect", "slack_bolt", "slack_sdk", "pilotgate.report"}, run.loaded
