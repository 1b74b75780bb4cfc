"""`pilotgate metric record|import|show` and `pilotgate report`: good input is stored with its
time and source; bad input gets a specific error and exit code and writes nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from metric_harness import MetricCli

METRICS = "resolution_minutes (minutes), first_contact_resolution (percent)"


def test_record_stores_value_time_and_source(cli: MetricCli) -> None:
    pilot_id = cli.propose()
    code, out, err = cli.run(
        "metric",
        "record",
        pilot_id,
        "resolution_minutes",
        "1.25",
        "--at",
        "2026-01-10T08:30:00+01:00",
        "--source",
        "ITSM export",
        "--unit",
        "minutes",
    )
    assert code == 0, err
    assert "recorded resolution_minutes = 1.25 minutes" in out
    code, _, err = cli.run("metric", "record", pilot_id, "first_contact_resolution", "81")
    assert code == 0, err
    rows = cli.observations()
    assert rows[0][:3] == ("resolution_minutes", 1.25, "minutes")
    assert rows[0][3].startswith("2026-01-10 07:30:00")  # stored in UTC
    assert rows[0][4] == "ITSM export"
    assert rows[1][:3] == ("first_contact_resolution", 81.0, "percent")
    assert rows[1][4] is None


@pytest.mark.parametrize(
    "args,expected",
    [
        (
            ["no_such_metric", "1"],
            f"NAME: unknown metric 'no_such_metric'; this pilot's metrics are {METRICS}",
        ),
        (
            ["resolution_minutes", "1", "--unit", "seconds"],
            "--unit: unit 'seconds' does not match the proposal: resolution_minutes is measured in "
            "'minutes'",
        ),
        (["resolution_minutes", "abc"], "VALUE: 'abc' is not a number"),
        (["resolution_minutes", "nan"], "VALUE: 'nan' is not a finite number"),
        (
            ["resolution_minutes", "1", "--at", "yesterday"],
            "--at: 'yesterday' is not an ISO 8601 time",
        ),
        (
            ["resolution_minutes", "1", "--at", "2999-01-01T00:00:00Z"],
            "--at: 2999-01-01T00:00:00Z is in the future",
        ),
    ],
)
def test_record_bad_input_exits_2_and_writes_nothing(
    cli: MetricCli, args: list[str], expected: str
) -> None:
    pilot_id = cli.propose()
    code, out, err = cli.run("metric", "record", pilot_id, *args)
    assert code == 2
    assert expected in " ".join(err.split()), err
    assert cli.observations() == []


def test_record_names_every_problem_at_once(cli: MetricCli) -> None:
    pilot_id = cli.propose()
    code, _, err = cli.run("metric", "record", pilot_id, "typo", "x", "--at", "soon")
    assert code == 2
    assert "NAME: unknown metric" in err and "VALUE: 'x'" in err and "--at: 'soon'" in err


def test_unknown_pilot_exits_3(cli: MetricCli) -> None:
    code, _, err = cli.run("metric", "record", "pg-00000000", "resolution_minutes", "1")
    assert code == 3
    assert "no pilot with id 'pg-00000000'" in err


CSV_OK = """metric,value,observed_at,unit,source
resolution_minutes,1.4,2026-01-10T09:00:00Z,minutes,ITSM
resolution_minutes,1.1,2026-01-11T09:00:00Z,,
first_contact_resolution,82,2026-01-11,percent,survey
"""


def test_import_writes_every_row_and_skips_repeats(cli: MetricCli) -> None:
    pilot_id = cli.propose()
    path = cli.write("ok.csv", CSV_OK)
    code, out, err = cli.run("metric", "import", pilot_id, str(path))
    assert code == 0, err
    assert "imported 3 observation(s)" in out
    assert "first_contact_resolution: 1, resolution_minutes: 2" in out
    rows = cli.observations()
    assert [(r[0], r[1], r[4]) for r in rows] == [
        ("resolution_minutes", 1.4, "ITSM"),
        ("first_contact_resolution", 82.0, "survey"),
        ("resolution_minutes", 1.1, "import ok.csv"),
    ]
    again = cli.run("metric", "import", pilot_id, str(path))
    assert again[0] == 0 and "imported 0 observation(s)" in again[1]
    assert "skipped 3 row(s) already recorded" in again[2]
    assert len(cli.observations()) == 3


def test_import_is_all_or_nothing_and_names_row_and_column(cli: MetricCli) -> None:
    pilot_id = cli.propose()
    future = (datetime.now(UTC) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    path = cli.write(
        "bad.csv",
        "\n".join(
            [
                "metric,value,observed_at,unit",
                "resolution_minutes,1.4,2026-01-10T09:00:00Z,minutes",  # row 1: fine
                "resolution_minutes,fast,2026-01-11T09:00:00Z,minutes",  # row 2: value
                "resolution_minutes,1.0,2026-13-40,minutes",  # row 3: time
                "first_contact_resolution,80,2026-01-12T09:00:00Z,minutes",  # row 4: unit
                f"resolution_minutes,0.9,{future},minutes",  # row 5: future
                "mttr,3,2026-01-12T09:00:00Z,",  # row 6: metric
                "resolution_minutes,1.4,2026-01-10T09:00:00Z,minutes",  # row 7: repeats row 1
                "resolution_minutes,1.2",  # row 8: empty time
            ]
        )
        + "\n",
    )
    code, out, err = cli.run("metric", "import", pilot_id, str(path))
    assert code == 2
    text = " ".join(err.split())
    assert "(nothing was imported)" in text
    for expected in [
        "row 2 (line 3), column value: 'fast' is not a number",
        "row 3 (line 4), column observed_at: '2026-13-40' is not an ISO 8601 time",
        "row 4 (line 5), column unit: unit 'minutes' does not match the proposal: "
        "first_contact_resolution is measured in 'percent'",
        "row 5 (line 6), column observed_at: " + future + " is in the future",
        f"row 6 (line 7), column metric: unknown metric 'mttr'; this pilot's metrics are {METRICS}",
        "row 7 (line 8), column observed_at: resolution_minutes at 2026-01-10T09:00:00+00:00 "
        "repeats row 1",
        "row 8 (line 9), column observed_at: empty",
    ]:
        assert expected in text, f"{expected!r} not in {text!r}"
    assert "row 1 (line 2)" not in text
    assert cli.observations() == []


@pytest.mark.parametrize(
    "text,expected",
    [
        ("", "the file is empty"),
        ("metric,value\nresolution_minutes,1\n", "header: missing column(s) observed_at"),
        ("metric,value,observed_at,comment\n", "header: unknown column(s) comment"),
        ("metric,value,observed_at\n", "no data rows under the header"),
        (
            "metric,value,observed_at\nresolution_minutes,1,2026-01-10,extra\n",
            "row 1 (line 2): 4 cells, but the header has 3 columns",
        ),
    ],
)
def test_import_bad_files(cli: MetricCli, text: str, expected: str) -> None:
    pilot_id = cli.propose()
    code, _, err = cli.run("metric", "import", pilot_id, str(cli.write("f.csv", text)))
    assert code == 2
    assert expected in " ".join(err.split()), err
    assert cli.observations() == []


def test_import_missing_file_and_unknown_pilot(cli: MetricCli) -> None:
    pilot_id = cli.propose()
    code, _, err = cli.run("metric", "import", pilot_id, str(cli.tmp / "nope.csv"))
    assert code == 2 and "cannot read the file" in err
    code, _, err = cli.run("metric", "import", "pg-00000000", str(cli.write("x.csv", CSV_OK)))
    assert code == 3
    assert cli.observations() == []


@pytest.mark.parametrize("end", ["terminated", "retired"])
def test_an_ended_pilot_takes_no_metrics(cli: MetricCli, end: str) -> None:
    import sqlite3

    pilot_id = cli.propose()
    with sqlite3.connect(cli.db_path) as conn:
        conn.execute(
            "UPDATE pilots SET stage = ?, end_reason = 'stalled' WHERE id = ?",
            (end, pilot_id),
        )
    code, _, err = cli.run("metric", "record", pilot_id, "resolution_minutes", "1")
    assert code == 4 and f"is {end} (stalled); its metrics are closed" in err
    assert cli.observations() == []


def test_show_and_report_commands(cli: MetricCli) -> None:
    pilot_id = cli.propose()
    day = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert cli.run("metric", "record", pilot_id, "resolution_minutes", "0.8", "--at", day)[0] == 0
    code, out, err = cli.run("metric", "show", pilot_id, "--json")
    assert code == 0, err
    shown = json.loads(out)
    assert [(m["name"], m["status"], m["current"]) for m in shown["metrics"]] == [
        ("resolution_minutes", "met", 0.8),
        ("first_contact_resolution", "missing", None),
    ]

    html, md = cli.tmp / "r" / "report.html", cli.tmp / "report.md"
    code, out, err = cli.run("report", "--html", str(html), "--markdown", str(md))
    assert code == 0, err
    assert "Portfolio report" in out and "1 pilot(s), 1 active" in out
    assert f"HTML report written to {html.resolve()}" in " ".join(err.split())
    assert html.read_text().startswith("<!DOCTYPE html>")
    assert md.read_text().startswith("# Portfolio report")
    code, out, _ = cli.run("report", "--json")
    assert code == 0 and json.loads(out)["totals"]["pilots"] == 1


def test_a_negative_value_is_a_value_not_an_option(cli: MetricCli) -> None:
    pilot_id = cli.propose()
    code, out, err = cli.run("metric", "record", pilot_id, "resolution_minutes", "-5")
    assert "No such option" not in err
    assert code == 0, err
    assert [(r[0], r[1]) for r in cli.observations()] == [("resolution_minutes", -5.0)]
