"""Read back what the rendered report shows: each chart's data-figures and each table's cells."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from typing import Any


class ReportPage(HTMLParser):
    """figures[element id] = parsed data-figures; tables[section id] = [rows of cell texts]."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.figures: dict[str, Any] = {}
        self.tables: dict[str, list[list[list[str]]]] = {}
        self.svgs: list[str] = []
        self.scripts = 0
        self.external: list[str] = []
        self._section: str | None = None
        self._figure: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if "data-figures" in a and a.get("id"):
            self.figures[str(a["id"])] = json.loads(a["data-figures"] or "null")
        if "data-totals" in a and a.get("id"):
            self.figures[f"{a['id']}:totals"] = json.loads(a["data-totals"] or "null")
        if tag == "section":
            self._section = a.get("id")
        elif tag == "figure":
            self._figure = a.get("id")
        elif tag == "svg" and self._figure:
            self.svgs.append(self._figure)
        elif tag == "script":
            self.scripts += 1
        elif tag == "table":
            self.tables.setdefault(self._section or "", []).append([])
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        for name in ("src", "href"):
            value = a.get(name)
            if value and not value.startswith(("data:", "#")):
                self.external.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[self._section or ""][-1].append(self._row)
            self._row = None
        elif tag == "figure":
            self._figure = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def table(self, section: str, index: int = 0) -> list[list[str]]:
        """The body rows (header row dropped) of a section's index-th table."""
        return self.tables[section][index][1:]
