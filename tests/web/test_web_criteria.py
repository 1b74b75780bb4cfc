"""A pilot's page shows each readiness criterion as confirmed (by whom, how) or not confirmed.

Over real HTTP on the listener's port, signed in through the emulator's OpenID endpoints, on
SQLite and PostgreSQL; the note a confirmer wrote is user text and is escaped.
"""

from __future__ import annotations

from web_site import PMO1, Site

from config.clock import utcnow
from store import confirmations


def test_the_pilot_page_tells_confirmed_from_declared(site: Site) -> None:
    pilot_id, _ = site.propose_and_ask()
    with site.db.session() as session:
        confirmations.record(
            session, pilot_id, criterion="technical.1", confirmed_by="U0ARC0001",
            role="architecture", note="load test <b>passed</b>", link=None, now=utcnow(),
            actor="test",
        )
    page = site.sign_in(PMO1).get(f"/pilots/{pilot_id}").text
    assert "confirmed by U0ARC0001 (architecture)" in page
    assert "load test &lt;b&gt;passed&lt;/b&gt;" in page and "<b>passed</b>" not in page
    assert page.count('class="status not_confirmed"') == 4  # technical.2, operational.1-3
