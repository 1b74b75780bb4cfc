"""People by name on the pages (SQLite and PostgreSQL): who blocks a gate, who was asked and the
business owner show the policy's name, else the name Slack's users.info gave (the `people`
cache), else the proposal's, else the id; the id is always there as the tooltip. A DM-only row
of the cache (no name yet) shows the id; a hostile Slack name stays text."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from web_site import FIN, OWNER, PMO1, PMO2, Site

from config.clock import utcnow
from lifecycle.policy import Policy
from store import dm_channels, people


@pytest.fixture
def policy(policy: Policy) -> Policy:
    """The example policy, but naming only FIN: PMO1 and PMO2 get their names from Slack."""
    return policy.model_copy(update={"people": {FIN: policy.people[FIN]}})


def titled(html: str, slack_id: str) -> list[str]:
    """The texts shown with `slack_id` as their tooltip."""
    return [t.strip() for t in re.findall(rf'title="{slack_id}">([^<]*)<', html)]


def test_names_on_the_portfolio_and_the_pilots_page(site: Site) -> None:
    pilot_id, _ = site.propose_and_ask()
    now = utcnow()
    with site.db.session() as session:
        people.record(session, PMO1, name="Pat Moreno", real_name=None, source=people.SLACK,
                      now=now)
        people.record(session, OWNER, name="Thomas Becker", real_name=None,
                      source=people.SLACK, now=now - timedelta(days=60))  # expired: still shown
        people.record(session, PMO2, name="<b>Jordan</b>", real_name=None, source=people.SLACK,
                      now=now)
    client = site.sign_in(PMO1)
    portfolio = client.get("/").text
    blocking = re.search(r'<td class="blocking">(.*?)</td>', portfolio, re.S)
    assert blocking is not None
    assert titled(blocking.group(1), PMO1) == ["Pat Moreno"]  # Slack's, from the cache
    assert titled(blocking.group(1), FIN) == ["Dana Smith"]  # the policy's
    assert titled(portfolio, OWNER)[0] == "Thomas Becker"  # Slack's, over the proposal's
    assert "<b>Jordan</b>" not in portfolio and "&lt;b&gt;Jordan&lt;/b&gt;" in portfolio

    page = client.get(f"/pilots/{pilot_id}").text
    assert "Pat Moreno" in titled(page, PMO1) and "Dana Smith" in titled(page, FIN)
    assert "Tom Becker" in page  # the proposal itself says what the proposer wrote


def test_without_a_name_the_id_is_shown(site: Site) -> None:
    site.propose_and_ask()
    with site.db.session() as session:
        dm_channels.remember(session, PMO2, "D0PMO0002")  # the DM cache: a row with no name
    portfolio = site.sign_in(FIN).get("/").text
    assert titled(portfolio, PMO2) and set(titled(portfolio, PMO2)) == {PMO2}
