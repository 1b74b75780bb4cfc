"""The report's three renderings of the same `Report`: one self-contained HTML file (inline
SVG, no scripts or external assets), Markdown, and a summary in the terminal.

The templates ship inside this package (`pilotgate/report/templates/`). HTML templates are
autoescaped, so whatever people typed (titles, reasons, approver ids) stays text.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from rich.console import Console
from rich.table import Table
from rich.text import Text

from config.links import pilot_url
from lifecycle.stages import Stage
from lifecycle.value_series import WEEKLY_UNDER_DAYS
from pilotgate.report.charts import build_charts, series_charts
from pilotgate.report.data import LABELS, Report, plain
from pilotgate.report.format import cell, day, duration, minute, num, percent
from store.people import Names


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("pilotgate.report", "templates"),
        undefined=StrictUndefined,
        autoescape=select_autoescape(["html", "html.j2"], default=False),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(num=num, duration=duration, day=day, minute=minute, cell=cell, plain=plain)
    env.filters["percent"] = percent
    return env


def _labels() -> dict[str, str]:
    return {s.value: LABELS[s] for s in Stage}


def _people_and_links(names: Names | None, base_url: str | None) -> dict[str, object]:
    """What the templates need to show people by name and link each pilot's row to its page
    (no `base_url`: no links; the figures, and the JSON export, are the same either way)."""

    def url(pilot_id: str) -> str | None:
        return pilot_url(pilot_id, base_url) if base_url else None

    return {"names": names or Names(), "url": url, "base_url": (base_url or "").rstrip("/")}


def render_html(data: Report, *, names: Names | None = None, base_url: str | None = None) -> str:
    return (
        environment()
        .get_template("report.html.j2")
        .render(
            data=data,
            charts=build_charts(data),
            charts_since=series_charts(data),
            weekly_days=WEEKLY_UNDER_DAYS,
            labels=_labels(),
            **_people_and_links(names, base_url),
        )
    )


def write_html(
    path: str | Path, data: Report, *, names: Names | None = None, base_url: str | None = None
) -> Path:
    """Write the report as one self-contained HTML file; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(data, names=names, base_url=base_url), encoding="utf-8")
    return path


def render_markdown(
    data: Report, *, names: Names | None = None, base_url: str | None = None
) -> str:
    return (
        environment()
        .get_template("report.md.j2")
        .render(
            data=data,
            labels=_labels(),
            weekly_days=WEEKLY_UNDER_DAYS,
            **_people_and_links(names, base_url),
        )
    )


def print_summary(data: Report, console: Console) -> None:
    """The report in a terminal: headline figures and the tables that matter most. Text people
    wrote (titles, reasons, names) goes in as `Text`, never as rich markup."""
    t = data.totals
    console.print(
        f"[bold]Portfolio report[/] at {data.generated_at.isoformat()[:16]} UTC: "
        f"{t.pilots} pilot(s), {t.active} active, {t.production} in "
        f"production, {t.terminated} terminated, {t.open_gates} open gate(s); "
        f"median gate lead time {duration(t.median_gate_lead_hours)}",
        highlight=False,
    )
    funnel = Table("stage", "reached", "here now", title="funnel")
    for r in data.funnel:
        funnel.add_row(r.label, str(r.reached), str(r.current))
    console.print(funnel)
    caps = Table("portfolio", "active", "cap", title="caps")
    for c in data.caps:
        caps.add_row(Text(c.portfolio), str(c.active), str(c.cap))
    console.print(caps)
    ages = Table("pilot", "stage", "age (days)", "limit (days)", "days left", title="ages")
    for a in data.ages:
        ages.add_row(
            Text(f"{a.title} ({a.id})"),
            a.stage,
            num(a.age_days),
            num(a.limit_days),
            num(a.days_left),
        )
    console.print(ages)
    gates = Table("gate", "decided", "median lead", "longest", "open", title="gate lead times")
    for g in data.gate_stages:
        if g.gates:
            gates.add_row(
                g.label,
                f"{g.decided}/{g.gates}",
                duration(g.median_lead_hours),
                duration(g.max_lead_hours),
                str(g.open),
            )
    console.print(gates)
    if data.terminations:
        ended = Table("pilot", "ended in", "on", "reason", title="terminations")
        for x in data.terminations:
            ended.add_row(
                Text(f"{x.title} ({x.id})"), x.from_stage or "-", day(x.at), Text(x.reason)
            )
        console.print(ended)
    value = Table("pilot", "metric", "per year", "formula", title="value")
    for p in data.value.pilots:
        for e in p.estimates:
            value.add_row(
                Text(f"{p.title} ({p.status})"),
                Text(e.metric),
                f"{num(e.per_year, 0)} {e.per_year_unit}",
                Text(e.formula),
            )
    console.print(value)
    for status, figures in (
        ("delivering", data.value.totals.delivering),
        ("projected", data.value.totals.projected),
    ):
        if figures:
            console.print(
                f"value {status}: " + ", ".join(f"{num(v, 0)} {u}" for u, v in figures.items()),
                highlight=False,
            )
    since = data.value_over_time
    if since.pilots:
        live = Table(
            "pilot", "live since", "realised", "at target", "payback", title="value since go-live"
        )
        for live_pilot in since.pilots:
            s = live_pilot.series
            money = (
                f" = {num(s.realised_money, 0)} {s.currency}"
                if s.realised_money is not None
                else ""
            )
            if s.payback.state == "paid back":
                payback = f"reached {day(s.payback.at)}"
            elif s.payback.state == "not yet":
                payback = f"not yet, about {day(s.payback.projected_at)}"
            else:
                payback = s.payback.state
            live.add_row(
                Text(f"{live_pilot.title} ({live_pilot.id})"),
                day(s.production_at),
                f"{num(s.realised_hours, 0)} hours{money}",
                f"{num(s.promised_hours, 0)} hours",
                payback,
            )
        console.print(live)
