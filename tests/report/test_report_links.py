"""Every pilot's row of the report links to the pilot's page, and people are shown by name, on
the known dataset (report_dataset.py): the HTML's pilot rows (ages, terminations, value) each
carry one link to `PILOTGATE_BASE_URL/pilots/ID`, approvers and who terminated a pilot carry
their names (the id as a tooltip), a hostile Slack name stays text, and the Markdown says the
same. The JSON export is untouched by either."""

from __future__ import annotations

import re
from datetime import timedelta
from html.parser import HTMLParser

import report_dataset as ds
from sqlalchemy.orm import Session

from config.links import pilot_url
from lifecycle.policy import Policy
from pilotgate.report import build_report, render_html, render_markdown
from store import people

BASE = "https://pilotgate.example.com"
HOSTILE = '<img src=x onerror="alert(1)"> | Sam'
PILOT_ROWS = ("ages", "terminations", "value")


class Rows(HTMLParser):
    """rows[section] = [(cell texts, hrefs, span titles)] for each body row."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: dict[str, list[tuple[list[str], list[str], list[str]]]] = {}
        self._section = ""
        self._row: tuple[list[str], list[str], list[str]] | None = None
        self._text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "section":
            self._section = a.get("id") or ""
        elif tag == "tr":
            self._row = ([], [], [])
        elif tag == "td":
            self._text = []
        elif tag == "a" and self._row is not None and a.get("href"):
            self._row[1].append(str(a["href"]))
        elif tag == "span" and self._row is not None and a.get("title"):
            self._row[2].append(str(a["title"]))

    def handle_data(self, data: str) -> None:
        self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._row is not None:
            self._row[0].append(" ".join("".join(self._text).split()))
        elif tag == "tr" and self._row is not None:
            if self._row[0]:  # header rows have th cells only
                self.rows.setdefault(self._section, []).append(self._row)
            self._row = None


def test_every_pilot_row_links_to_its_page_and_people_have_names(
    session: Session, policy: Policy
) -> None:
    ds.build(session, policy)
    people.record(session, "U0ARC0001", name=HOSTILE, real_name=None, source=people.SLACK,
                  now=ds.NOW - timedelta(days=1))
    session.flush()
    data = build_report(session, policy, ds.NOW)
    names = people.names(session, policy)
    html = render_html(data, names=names, base_url=BASE)
    page = Rows(html)
    ids = {r.id for r in data.ages} | {t.id for t in data.terminations}
    ids |= {p.id for p in data.value.pilots if p.estimates}
    linked: set[str] = set()
    for section in PILOT_ROWS:
        assert page.rows.get(section), section
        for cells, hrefs, _ in page.rows[section]:
            if cells == [] or cells[0].startswith("No "):
                continue
            pid = re.search(r"pg-[0-9a-z]{8}", cells[0])
            assert pid is not None, cells
            assert hrefs == [pilot_url(pid.group(0), BASE)], (section, cells)
            linked.add(pid.group(0))
    assert linked == ids and len(ids) >= 3

    approvers = {cells[0]: titles for cells, _, titles in page.rows["gate-lead"] if titles}
    assert approvers["Pat Moreno"] == ["U0PMO0001"]  # the example policy names them
    assert approvers["Dana Smith"] == ["U0FIN0001"]
    assert approvers[" ".join(HOSTILE.split())] == ["U0ARC0001"]  # Slack's name, as text
    assert "<img src=x" not in html and "&lt;img src=x" in html
    unnamed = [c[0] for c, _, t in page.rows["gate-lead"] if not t and c[0].startswith("U0")]
    assert unnamed, "someone without a name is shown by their id"

    md = render_markdown(data, names=names, base_url=BASE)
    for pid in ids:
        assert f"]({pilot_url(pid, BASE)})" in md, pid
    assert "| Pat Moreno (U0PMO0001) | programme_office |" in md
    assert "<img" not in md and "&lt;img" in md  # no raw HTML for a Markdown renderer
    assert "\\| Sam (U0ARC0001) |" in md  # and a pipe cannot split the cell

    bare = render_html(data, names=names)
    assert "<a href" not in bare and "/pilots/" not in bare
    assert data.to_json() == build_report(session, policy, ds.NOW).to_json()
