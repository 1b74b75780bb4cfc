"""The pages' templates (`web/templates/`, shipped inside the package) and their filters.

Autoescaping is on for every template: whatever people typed (titles, problems, reasons, names)
is text on the page, never markup.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from lifecycle.stages import Stage, stage_label

TEMPLATES = Path(__file__).resolve().parent / "templates"


def when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC" if value else "—"


def day(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d}" if value else "—"


def span(days: float | None) -> str:
    """Days left as people say it: "in 3.5 days", "overdue by 2 hours"."""
    if days is None:
        return "—"
    size = abs(days)
    text = f"{size * 24:.0f} hours" if size < 2 else f"{size:.1f} days"
    if size * 24 < 1:
        text = f"{size * 24 * 60:.0f} minutes"
    return f"overdue by {text}" if days < 0 else f"in {text}"


def label(stage: str | None) -> str:
    if not stage:
        return "—"
    try:
        return stage_label(Stage(stage))
    except ValueError:
        return stage


def number(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.2f}".rstrip("0").rstrip(".") if value != int(value) else f"{value:,.0f}"


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(when=when, day=day, span=span, label=label, number=number)
    return env


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)


def asset(name: str) -> bytes:
    """A static file shipped beside the templates (the stylesheet, the icon)."""
    path = (TEMPLATES / name).resolve()
    if path.parent != TEMPLATES:
        raise FileNotFoundError(name)
    return path.read_bytes()
