"""`pilotgate value`: what a pilot has realised since go-live, period by period, in hours and money.

    pilotgate value pg-1a2b3c4d [--json]

The same figures as the report's "Value since go-live" and the pilot's page (one computation,
`lifecycle.value_series`), for one pilot, in the terminal. A read command: it loads neither
Prefect nor Slack's SDK. A pilot that has not gone live is refused with exit 4 and told where
its projected value is shown; an unknown id exits 3.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from config.clock import utcnow
from pilotgate.console import JsonFlag, emit_json, guarded, out, runtime
from store.errors import Conflict

if TYPE_CHECKING:
    from lifecycle.value_series import ValueSeries


def _payback(s: ValueSeries) -> str:
    p = s.payback
    if p.state == "paid back" and p.at is not None:
        return f"reached {p.at:%Y-%m-%d} (in {p.period})"
    if p.state == "not yet" and p.projected_at is not None:
        return f"not yet; about {p.projected_at:%Y-%m-%d} at the current rate"
    return p.state


def value(
    pilot_id: Annotated[str, typer.Argument(help="Pilot id (pg-...).")],
    as_json: JsonFlag = False,
) -> None:
    """Value since go-live: per month (weeks while go-live is recent) each metric against its
    baseline and target, hours realised and, with the policy's value.hour_rate, money, to date
    against what the target would deliver and against the budget; the payback date or its
    projection. Every figure carries its formula."""
    # Deferred: SQLAlchemy and pydantic load when a command runs, not for `pilotgate --help`.
    from lifecycle.value_series import value_series
    from store import people, read_value

    rt = runtime()
    with guarded(), rt.db.session() as session:
        got = read_value.live_inputs(session, pilot_id)
        pilot = got.pilot
        if got.window is None:
            raise Conflict(
                f"pilot {pilot.id} has not gone live (stage {pilot.stage}): value since go-live "
                "is counted from production; `pilotgate report` shows its projected value"
            )
        series = value_series(
            got.proposal,
            got.observations,
            got.window.since,
            rt.policy.value,
            utcnow(),
            got.window.until,
        )
        owner = people.names(session, rt.policy, {pilot.business_owner}).name(pilot.business_owner)
    data: dict[str, Any] = {
        "id": pilot.id,
        "title": pilot.title,
        "portfolio": pilot.portfolio,
        "stage": pilot.stage,
        "business_owner": {"slack_id": pilot.business_owner, "name": owner},
        "value_since_go_live": series.to_dict(),
    }
    if as_json:
        emit_json(data)
        return
    _print(data, series)


def _print(data: dict[str, Any], s: ValueSeries) -> None:
    # Deferred: SQLAlchemy and pydantic load when a command runs, not for `pilotgate --help`.
    from lifecycle.value import fmt as _fmt
    from store import people

    owner = people.label(data["business_owner"]["name"], data["business_owner"]["slack_id"])
    out.print(
        f"[bold]{escape(data['title'])}[/] ({data['id']}), portfolio {escape(data['portfolio'])}, "
        f"business owner {escape(owner)}",
        highlight=False,
    )
    left = "" if s.in_production else f", left production {s.until:%Y-%m-%d}"
    out.print(
        f"live since {s.production_at:%Y-%m-%d}{left} (now {data['stage']}); per {s.granularity}",
        highlight=False,
    )
    columns: list[str] = [s.granularity]
    columns += [
        escape(f"{m.metric} ({m.unit}; {_fmt(m.baseline)} -> {_fmt(m.target)})") for m in s.metrics
    ]
    columns += ["hours", "hours to date", "at target to date"]
    priced = s.hour_rate is not None
    if priced:
        columns.append(f"{s.currency} to date")
    table = Table(*columns)
    for i, r in enumerate(s.periods):
        cells: list[str | Text] = [r.label]
        for m in s.metrics:
            mp = m.periods[i]
            shown = "-" if mp.value is None else _fmt(mp.value)
            cells.append(shown + (" (carried)" if mp.carried else ""))
        cells += [_fmt(r.hours), _fmt(r.cumulative_hours), _fmt(r.cumulative_promised_hours)]
        if priced:
            cells.append(_fmt(r.cumulative_money or 0.0))
        table.add_row(*cells)
    out.print(table)
    if not s.metrics:
        out.print("no success metric has a volume_per_year: nothing to price", highlight=False)
    money = f" = {_fmt(s.realised_money)} {s.currency}" if s.realised_money is not None else ""
    out.print(
        f"realised {_fmt(s.realised_hours)} hours{money}; at target "
        f"{_fmt(s.promised_hours)} hours; budget {_fmt(s.budget)} {s.budget_currency}; "
        f"payback: {_payback(s)}",
        highlight=False,
    )
    out.print(Text(s.formula))
    out.print(Text(s.payback.formula))


def register(app: typer.Typer) -> None:
    app.command("value")(value)
