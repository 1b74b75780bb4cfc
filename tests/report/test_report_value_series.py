"""The report's "Value since go-live": a pilot live since 1 January, measured monthly, on both
databases; the figures are worked out by hand (the same as tests/lifecycle/test_value_series)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

from report_html import ReportPage
from sqlalchemy.orm import Session

from lifecycle.policy import Policy, ValueRules
from pilotgate.report import build_report, render_html, render_markdown

#: the pilot is `measured_live_pilot`'s (tests/conftest.py): live on 2026-01-01, its series
#: there; the report is made on 1 May.
NOW = datetime(2026, 5, 1, tzinfo=UTC)
TITLE = "Help <desk> & co"


def test_value_since_go_live_in_json_html_and_markdown(
    session: Session, policy: Policy, measured_live_pilot: Callable[..., str]
) -> None:
    assert policy.value.hour_rate == 55 and policy.value.currency == "USD"
    measured_live_pilot(session, policy, TITLE, "pg-live0001")
    report = build_report(session, policy, NOW)
    data = json.loads(report.to_json())
    vot = data["value_over_time"]
    assert list(vot) == ["pilots", "portfolios", "realised_hours", "realised_money", "currency"]
    (p,) = vot["pilots"]
    assert (p["id"], p["title"], p["portfolio"], p["stage"]) == (
        "pg-live0001",
        TITLE,
        "it-operations",
        "production",
    )
    s = p["series"]
    assert s["production_at"] == "2026-01-01T00:00:00+00:00" and s["granularity"] == "month"
    # (11 - figure) x 42000 x days / 365 / 60 per month; money x 55
    assert [(r["label"], r["hours"], r["cumulative_money"]) for r in s["periods"]] == [
        ("2026-01", 356.71, 19619.05),
        ("2026-02", 375.89, 40293.0),
        ("2026-03", 416.16, 63181.8),
        ("2026-04", 517.81, 91661.35),
    ]
    assert (s["realised_hours"], s["promised_hours"], s["realised_money"]) == (
        1666.57,
        2301.37,
        91661.35,
    )
    assert s["payback"]["state"] == "not yet"
    assert s["payback"]["projected_at"].startswith("2026-08-02")
    assert vot["realised_hours"] == 1666.57 and vot["realised_money"] == 91661.35
    assert vot["portfolios"] == [
        {
            "portfolio": "it-operations",
            "pilots": 1,
            "realised_hours": 1666.57,
            "promised_hours": 2301.37,
            "realised_money": 91661.35,
            "budget": 180000.0,
            "other_currency": 0,
            "paid_back": 0,
            "currency": "USD",
        }
    ]
    # the older keys hold what they held: value "now" is still the estimate as of now
    assert data["value"]["pilots"][0]["id"] == "pg-live0001"

    html = render_html(report)
    page = ReportPage(html)
    assert page.scripts == 0 and page.external == []
    chart = page.figures["chart-value-since-pg-live0001"]
    assert chart == {
        "unit": "USD",
        "realised": {
            "2026-01": 19619.05,
            "2026-02": 40293.0,
            "2026-03": 63181.8,
            "2026-04": 91661.35,
        },
        "promised": {
            "2026-01": round(594.52 * 55, 2),
            "2026-02": round((594.52 + 536.99) * 55, 2),
            "2026-03": round((594.52 + 536.99 + 594.52) * 55, 2),
            "2026-04": round(2301.37 * 55, 2),
        },
        "budget": 180000.0,
    }
    assert "chart-value-since-pg-live0001" in page.svgs
    assert page.figures["value-since-go-live"] == vot
    series_table, portfolio_table = page.tables["value-since-go-live"]
    assert series_table[0] == [
        "month",
        "resolution_minutes (minutes; baseline 11, target 1)",
        "hours",
        "to date",
        "at target, to date",
        "USD to date",
    ]
    assert series_table[1:] == [
        ["2026-01", "5", "356.7", "356.7", "594.5", "19,619"],
        ["2026-02", "4", "375.9", "732.6", "1,131.5", "40,293"],
        ["2026-03", "4 (carried)", "416.2", "1,148.8", "1,726", "63,182"],
        ["2026-04", "2", "517.8", "1,666.6", "2,301.4", "91,661"],
    ]
    assert portfolio_table[1] == [
        "it-operations",
        "1",
        "1,667",
        "2,301",
        "91,661",
        "180,000",
        "0/1",
    ]
    # the title people typed is text, in the heading and in the chart's caption and label
    assert "<desk>" not in html
    assert "Help &lt;desk&gt; &amp; co: cumulative value since go-live 2026-01-01" in html
    assert "payback: <b>not yet, about 2026-08-02 at the current rate</b>" in html

    md = render_markdown(report)
    assert "## Value since go-live" in md
    assert "| 2026-03 | 4 (carried) | 416.2 | 1,148.8 | 1,726 | 63,182 |" in md
    assert (
        "Live since 2026-01-01: realised 1,667 hours = 91,661 USD against 2,301 hours at "
        "target; budget 180,000 USD; payback: not yet, about 2026-08-02 at the current rate."
    ) in md
    assert "| it-operations | 1 | 1,667 | 2,301 | 91,661 | 180,000 | 0/1 |" in md


def test_no_pilot_live_yet(session: Session, policy: Policy) -> None:
    report = build_report(session, policy, NOW)
    assert report.as_dict()["value_over_time"] == {
        "pilots": [],
        "portfolios": [],
        "realised_hours": 0.0,
        "realised_money": 0.0,
        "currency": "USD",
    }
    assert "No pilot has reached production yet." in render_html(report)
    assert "No pilot has reached production yet." in render_markdown(report)


def test_without_an_hour_rate_hours_only(
    session: Session, policy: Policy, measured_live_pilot: Callable[..., str]
) -> None:
    unpriced = policy.model_copy(update={"value": ValueRules()})
    measured_live_pilot(session, unpriced, "Help desk", "pg-live0002")
    report = build_report(session, unpriced, NOW)
    (p,) = report.value_over_time.pilots
    assert p.series.realised_hours == 1666.57 and p.series.realised_money is None
    assert p.series.payback.state == "no hour rate"
    assert report.value_over_time.realised_money is None
    page = ReportPage(render_html(report))
    chart = page.figures["chart-value-since-pg-live0002"]
    assert chart["unit"] == "hours" and chart["budget"] is None
    assert chart["realised"]["2026-04"] == 1666.57
    series_table, portfolio_table = page.tables["value-since-go-live"]
    assert series_table[0][-1] == "at target, to date"  # no money column
    assert portfolio_table[1][4] == "-"
    assert "payback: no hour rate." in render_markdown(report)
