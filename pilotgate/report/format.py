"""How the report writes numbers, durations and dates: shared by the charts and the renderings
(the templates use these as jinja2 filters)."""

from __future__ import annotations

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


def cell(value: object) -> str:
    """Text safe inside a Markdown table cell: one line, pipes escaped."""
    return " ".join(str(value).split()).replace("|", "\\|")


def day(value: datetime | None) -> str:
    """The date of a timestamp (YYYY-MM-DD), or "-"."""
    return value.isoformat()[:10] if value else "-"


def minute(value: datetime) -> str:
    """A timestamp to the minute, as "YYYY-MM-DD HH:MM" (in its own time zone)."""
    return value.isoformat()[:16].replace("T", " ")
