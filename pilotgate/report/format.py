"""How the report writes numbers, durations and dates: shared by the charts and the renderings
(the templates use these as jinja2 filters)."""

from __future__ import annotations

import re
from datetime import datetime


def num(value: float | int | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    text = f"{value:,.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def duration(hours: float | None) -> str:
    """Hours as people say them: minutes under an hour, hours under two days, else days."""
    if hours is None:
        return "-"
    if hours < 1:
        return f"{num(hours * 60, 0)} min"
    if hours < 48:
        return f"{num(hours)} h"
    return f"{num(hours / 24)} days"


def percent(rate: float | None) -> str:
    """A share (0-1) as a whole percentage, or "-" when there was nothing to count."""
    if rate is None:
        return "-"
    return f"{num(rate * 100, 0)}%"


#: Markdown punctuation that can make text into a link, an image, code, emphasis or a heading
#: wherever it stands; the backslash too, so an escape written by a person stays text. ( and )
#: stay as they are: they make a link only after a `]`, and every `]` here is escaped.
_MARKDOWN_PUNCTUATION = "\\`*_[]!#~|"
#: what makes a list item only at the start of a line ("- x", "+ x", "1. x").
_LEADING_LIST = re.compile(r"^([-+]|\d+\.)(?=\s|$)")


def cell(value: object) -> str:
    """Text safe inside a Markdown table cell or list item: one line, no HTML (Markdown renderers
    pass raw HTML through) and no Markdown (a name like `[Approve here](https://evil)` or
    `![](https://tracker)` must not become a link or an image): what people wrote stays text."""
    text = " ".join(str(value).split())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = "".join(
        "\\" + ch if ch in _MARKDOWN_PUNCTUATION and not _intraword(text, i) else ch
        for i, ch in enumerate(text)
    )
    found = _LEADING_LIST.match(text)
    if found:
        marker = found.group(1)
        text = (marker[:-1] + "\\" + marker[-1]) + text[found.end(1) :]
    return text


def _intraword(text: str, i: int) -> bool:
    """An underscore between letters or digits (programme_office) emphasises nothing."""
    return (
        text[i] == "_" and 0 < i < len(text) - 1 and text[i - 1].isalnum() and text[i + 1].isalnum()
    )


def day(value: datetime | None) -> str:
    """The date of a timestamp (YYYY-MM-DD), or "-"."""
    return value.isoformat()[:10] if value else "-"


def minute(value: datetime) -> str:
    """A timestamp to the minute, as "YYYY-MM-DD HH:MM" (in its own time zone)."""
    return value.isoformat()[:16].replace("T", " ")
