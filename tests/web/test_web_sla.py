"""The portfolio page's approver SLA table: the same figures as the report (`lifecycle.sla`),
over the filtered pilots, served over real HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from html.parser import HTMLParser

from web_site import FIN, PMO1, PMO2, Site

from lifecycle.gates import Verdict
from store import gates


class _Rows(HTMLParser):
    """The cells of each `<tr data-approver=...>` in the table `#approvers`."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: dict[str, list[str]] = {}
        self._table = False
        self._row: str | None = None
        self._cell: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table":
            self._table = a.get("id") == "approvers"
        elif tag == "tr" and self._table and a.get("data-approver"):
            self._row = str(a["data-approver"])
            self.rows[self._row] = []
        elif tag == "td" and self._row:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._row and self._cell is not None:
            self.rows[self._row].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr":
            self._row = None
        elif tag == "table":
            self._table = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def test_the_portfolio_shows_who_is_slow(site: Site) -> None:
    empty = _Rows(site.sign_in(PMO1).get("/").text)
    assert empty.rows == {}

    pilot_id, gate_id = site.propose_and_ask()
    asked = site.requests(gate_id)
    pmo1 = asked[PMO1]
    with site.db.session() as session:
        request = gates.get_request(session, pmo1.id)
        # Reminded after 90 minutes, answered after two hours, well before the deadline.
        reminded_at = request.asked_at + timedelta(hours=1.5)
        assert gates.mark_reminder(session, request.id, 0.5, reminded_at)
        gates.record_decision(
            session,
            request,
            verdict=Verdict.APPROVE,
            reason=None,
            now=request.asked_at + timedelta(hours=2),
            source="test",
        )
    page = site.sign_in(PMO1).get("/")
    assert page.status_code == 200
    rows = _Rows(page.text).rows
    assert set(rows) == {PMO1, PMO2, FIN}
    # roles, asked, answered, waiting, median, slowest, reminders, hit rate, never answered,
    # not needed, handed over, on behalf (the name column first)
    assert rows[PMO1][1:] == ["programme_office", "1", "1", "0", "2 h", "2 h", "1", "100%"] + [
        "0",
        "0",
        "0",
        "0",
    ]
    assert rows[PMO2][1:] == ["programme_office", "1", "0", "1", "—", "—", "0", "—"] + ["0"] * 4
    assert rows[FIN][1:] == ["finance", "1", "0", "1", "—", "—", "0", "—"] + ["0"] * 4
    assert all(r[0] for r in rows.values())  # a name (or the id) for everyone
    # A filter that matches no pilot shows nobody.
    other = _Rows(site.sign_in(PMO1).get("/", params={"portfolio": "no-such"}).text)
    assert other.rows == {}
    assert pilot_id in page.text
