"""The report in a real browser: headless Chromium (driven by Playwright) loads the HTML file
from disk; any console error, uncaught exception, failed or external load, or a chart without a
visible <svg> fails the test. The screenshot is saved under the test's temporary folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import report_dataset as ds
from chromium import Browser
from sqlalchemy.orm import Session

from lifecycle.policy import Policy
from pilotgate.report import build_report, write_html

CHARTS = [
    "chart-funnel",
    "chart-caps",
    "chart-ages",
    "chart-stage-time",
    "chart-gate-lead",
    "chart-approvers",
    "chart-terminations",
    "chart-value",
]


@pytest.fixture
def browser() -> Iterator[Browser]:
    b = Browser()
    try:
        yield b
    finally:
        b.close()


@pytest.mark.parametrize("backend", ["sqlite"])  # the browser is the subject, not the database
def test_report_renders_in_chromium_without_errors(
    session: Session, policy: Policy, browser: Browser, tmp_path: Path
) -> None:
    ds.build(session, policy)
    html = write_html(tmp_path / "report.html", build_report(session, policy, ds.NOW))
    page = browser.load(html)
    shot = browser.screenshot(tmp_path / "report.png")

    assert page.errors == [], page.errors
    assert page.requests == [page.url]  # nothing but the file itself was fetched
    assert page.title == "pilotgate portfolio report 2026-04-15"
    assert [c["id"] for c in page.charts] == CHARTS
    for chart in page.charts:
        assert chart["svg"], f"{chart['id']} has no <svg>"
        assert chart["width"] > 100 and chart["height"] > 30, chart
        assert chart["bars"] > 0, f"{chart['id']} draws no bars"
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


def test_the_check_catches_console_errors_and_missing_charts(
    browser: Browser, tmp_path: Path
) -> None:
    """The detector itself: a broken page must not pass."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        "<!DOCTYPE html><html><head><title>bad</title></head><body>"
        "<figure class='chart' id='chart-missing'></figure>"
        "<script>console.error('boom'); undefinedFunction();</script>"
        "<img src='missing.png'></body></html>"
    )
    page = browser.load(bad)
    assert any("console.error: boom" in e for e in page.errors), page.errors
    assert any("undefinedFunction" in e for e in page.errors), page.errors
    assert any("load failed" in e for e in page.errors), page.errors
    assert page.charts == [
        {"id": "chart-missing", "svg": False, "width": 0, "height": 0, "bars": 0}
    ]
