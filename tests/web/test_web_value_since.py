"""A pilot's page shows its value since go-live, period by period, once it is in production.

Over real HTTP, signed in through the emulator, on SQLite and PostgreSQL; the pages' clock is
fixed at 1 May 2026 so the figures are the ones worked out by hand in
tests/lifecycle/test_value_series.py (live since 1 January, 11 -> 5, 4, 4 carried, 2 minutes).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from web_site import PMO1, Site, make_runtime, serve_site

from lifecycle.policy import Policy
from slackemu import SlackEmulator
from store.db import Database
from tasks.runtime import set_runtime

#: the pilot is `measured_live_pilot`'s (tests/conftest.py), live on 2026-01-01; the page is
#: read on 1 May.
NOW = datetime(2026, 5, 1, tzinfo=UTC)


@pytest.fixture
def site_in_may(db: Database, policy: Policy, emu: SlackEmulator) -> Iterator[Site]:
    server, runtime = serve_site(make_runtime(db, policy, emu), emu, clock=lambda: NOW)
    set_runtime(runtime)
    try:
        yield Site(db, runtime, emu, server)
    finally:
        server.stop()
        set_runtime(None)


def _go_live(site: Site, title: str, make: Callable[..., str]) -> str:
    with site.db.session() as session:
        return make(session, site.runtime.policy, title)


def _cells(row: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]


def test_the_page_shows_value_since_go_live(
    site_in_may: Site, measured_live_pilot: Callable[..., str]
) -> None:
    pilot_id = _go_live(site_in_may, "Help <desk>", measured_live_pilot)
    page = site_in_may.sign_in(PMO1).get(f"/pilots/{pilot_id}")
    assert page.status_code == 200
    html = page.text
    assert '<section id="value-since-go-live">' in html and "<h2>Value since go-live</h2>" in html
    text = " ".join(re.sub(r"<[^>]+>", " ", html).split())
    assert (
        "Live since 2026-01-01: realised 1,666.57 hours = 91,661.35 USD , against 2,301.37 "
        "hours at target. Budget 180,000 USD; payback: not yet, about 2026-08-02 at the "
        "current rate ."
    ) in text
    rows = {
        label: _cells(row)
        for label, row in re.findall(r'<tr data-period="([^"]+)">(.*?)</tr>', html, re.S)
    }
    assert rows == {
        "2026-01": ["2026-01", "5", "356.71", "356.71", "594.52", "19,619.05"],
        "2026-02": ["2026-02", "4", "375.89", "732.6", "1,131.51", "40,293"],
        "2026-03": ["2026-03", "4 carried", "416.16", "1,148.76", "1,726.03", "63,181.8"],
        "2026-04": ["2026-04", "2", "517.81", "1,666.57", "2,301.37", "91,661.35"],
    }
    assert "(11 - 5) minutes x 42,000 per year x 31 / 365 days / 60 = 356.71 hours" in html
    assert "Help &lt;desk&gt;" in html and "<desk>" not in html


def test_before_production_the_page_has_no_such_section(site_in_may: Site) -> None:
    pilot_id = site_in_may.propose()
    html = site_in_may.sign_in(PMO1).get(f"/pilots/{pilot_id}").text
    assert "Success metrics" in html and "Value since go-live" not in html
