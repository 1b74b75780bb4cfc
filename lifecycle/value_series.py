"""Value over time after go-live: what a pilot in production has realised, period by period.

`lifecycle.value` prices a pilot's value as of now (the latest figure x its yearly volume). Once
a pilot is in production the question changes to "what has it delivered since go-live, against
what it promised and what it cost?". This module answers it from the proposal's own baseline
and target and the observations recorded after go-live. Pure: the caller passes the go-live
time, the observations, the policy's value rules and `now`.

The rules, stated once (they are also written into every figure's formula):

* Periods are calendar months (UTC) from the month of go-live; while go-live is fewer than
  `WEEKLY_UNDER_DAYS` days before the end of the series, ISO weeks (Monday 00:00 UTC) instead,
  so a recent go-live still shows a shape. The first period starts at go-live, the last ends
  at `now` (or when the pilot left production): partial periods count their days only.
* A period's figure is the median of the metric's observations made in it. A period without
  observations carries the latest earlier figure made since go-live (marked `carried`);
  before the first observation after go-live nothing is realised. Observations made before
  go-live never count: no value is realised before production.
* Realised value in a period = improvement from the baseline (direction-aware) x
  volume_per_year x days / 365, converted like `lifecycle.value.estimate` (time units to
  hours, percentages / 100 to occurrences). Promised = the same with the target as the figure.
* Money = hours x `value.hour_rate`; payback is the moment cumulative realised money reaches
  the business owner's budget (linear within the period that crosses it), only when the
  budget is in the policy's currency. Not yet: projected at the current rate (the latest
  figures' money per year) from the end of the series, while the pilot is still in production.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from lifecycle.evidence import Observation
from lifecycle.policy import ValueRules
from lifecycle.proposal import Proposal, SuccessMetric
from lifecycle.value import PERCENT_UNITS, TIME_UNITS, improvement
from lifecycle.value import fmt as _fmt

#: while go-live is fewer days than this before the end of the series, periods are ISO weeks.
WEEKLY_UNDER_DAYS = 92
YEAR_DAYS = 365.0
DAY_SECONDS = 86400.0

Granularity = Literal["month", "week"]
PaybackState = Literal[
    "paid back", "not yet", "not at the current rate", "no hour rate", "other currency"
]


@dataclass(frozen=True)
class MetricPeriod:
    """One metric in one period: its figure against baseline and target, and what it realised."""

    label: str
    start: datetime
    end: datetime
    days: float
    #: observations made in the period.
    observed: int
    #: the period's figure (median of its observations, or carried); None before any.
    value: float | None
    carried: bool
    #: improvement from the baseline in the good direction (negative: worse than baseline).
    vs_baseline: float | None
    #: what is still missing to reach the target in the good direction (<= 0: target met).
    to_target: float | None
    #: realised in the period, in `MetricSeries.value_unit`.
    realised: float
    promised: float
    cumulative: float
    cumulative_promised: float
    formula: str


@dataclass(frozen=True)
class MetricSeries:
    metric: str
    unit: str
    better: str
    baseline: float
    target: float
    volume_per_year: float
    #: "hours" for time metrics, "occurrences" for percentages, else the metric's unit.
    value_unit: str
    periods: tuple[MetricPeriod, ...]


@dataclass(frozen=True)
class PilotPeriod:
    """The pilot's hours (time metrics summed) and money in one period, and to date."""

    label: str
    start: datetime
    end: datetime
    hours: float
    promised_hours: float
    cumulative_hours: float
    cumulative_promised_hours: float
    money: float | None
    cumulative_money: float | None
    cumulative_promised_money: float | None


@dataclass(frozen=True)
class Payback:
    state: PaybackState
    #: when cumulative realised money reached the budget.
    at: datetime | None
    period: str | None
    #: not yet: when it would, at the current rate.
    projected_at: datetime | None
    #: money per year at the latest figures (the current rate).
    rate_per_year: float | None
    formula: str


@dataclass(frozen=True)
class ValueSeries:
    """A production pilot's value since go-live."""

    production_at: datetime
    #: the end of the series: now, or when the pilot left production.
    until: datetime
    in_production: bool
    granularity: Granularity
    metrics: tuple[MetricSeries, ...]
    periods: tuple[PilotPeriod, ...]
    realised_hours: float
    promised_hours: float
    hour_rate: float | None
    currency: str
    realised_money: float | None
    promised_money: float | None
    budget: float
    budget_currency: str
    payback: Payback
    formula: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: field names in order, timestamps as ISO 8601 (like the report's JSON)."""
        out = _plain(asdict(self))
        assert isinstance(out, dict)
        return out


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True)
class PortfolioValue:
    """Realised to date over a portfolio's production pilots (money in the policy's currency;
    budgets in another currency are left out of `budget` and counted in `other_currency`)."""

    portfolio: str
    pilots: int
    realised_hours: float
    promised_hours: float
    realised_money: float | None
    budget: float
    other_currency: int
    paid_back: int
    currency: str


# ---------------------------------------------------------------- periods


def granularity(production_at: datetime, until: datetime) -> Granularity:
    """Weeks while go-live is recent (fewer than WEEKLY_UNDER_DAYS days), else months."""
    return "week" if (until - production_at).days < WEEKLY_UNDER_DAYS else "month"


def periods(
    production_at: datetime, until: datetime, kind: Granularity
) -> list[tuple[str, datetime, datetime]]:
    """(label, start, end) from go-live to `until`, clipped at both ends; UTC calendar."""
    start = production_at.astimezone(UTC)
    until = until.astimezone(UTC)
    if kind == "week":
        day = start.replace(hour=0, minute=0, second=0, microsecond=0)
        edge = day - timedelta(days=day.weekday())
    else:
        edge = start.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    out = []
    while edge < until:
        if kind == "week":
            nxt = edge + timedelta(days=7)
            year, week, _ = edge.isocalendar()
            label = f"{year}-W{week:02d}"
        else:
            nxt = edge.replace(year=edge.year + edge.month // 12, month=edge.month % 12 + 1)
            label = f"{edge:%Y-%m}"
        lo, hi = max(edge, start), min(nxt, until)
        if hi > lo:
            out.append((label, lo, hi))
        edge = nxt
    return out


def _convert(metric: SuccessMetric) -> tuple[float, str, str]:
    """(factor to the value unit, value unit, how the formula says it)."""
    key = metric.unit.strip().lower()
    if key in TIME_UNITS:
        hours = TIME_UNITS[key]
        say = "" if hours == 1 else (f" / {_fmt(1 / hours)}" if hours < 1 else f" x {_fmt(hours)}")
        return hours, "hours", say
    if key in PERCENT_UNITS:
        return 0.01, "occurrences", " / 100"
    return 1.0, metric.unit.strip(), ""


def metric_series(
    metric: SuccessMetric,
    observations: Iterable[Observation],
    production_at: datetime,
    spans: Sequence[tuple[str, datetime, datetime]],
) -> MetricSeries | None:
    """The metric's periods; None without a volume_per_year (nothing to price)."""
    if metric.volume_per_year is None:
        return None
    volume = metric.volume_per_year
    factor, value_unit, say = _convert(metric)
    mine = sorted(
        (
            o
            for o in observations
            if o.metric == metric.name and o.unit == metric.unit and o.observed_at >= production_at
        ),
        key=lambda o: o.observed_at,
    )
    promised_delta = improvement(metric, metric.target)
    rows: list[MetricPeriod] = []
    figure: float | None = None
    cumulative = cumulative_promised = 0.0
    for label, start, end in spans:
        inside = [o.value for o in mine if start <= o.observed_at < end]
        carried = not inside and figure is not None
        if inside:
            figure = float(statistics.median(inside))
        days = (end - start).total_seconds() / DAY_SECONDS
        share = volume * days / YEAR_DAYS * factor
        promised = promised_delta * share
        if figure is None:
            delta = None
            realised = 0.0
            formula = f"no observation since go-live yet: 0 {value_unit}"
        else:
            delta = improvement(metric, figure)
            realised = delta * share
            moved = (
                f"({_fmt(metric.baseline)} - {_fmt(figure)})"
                if metric.better == "lower"
                else f"({_fmt(figure)} - {_fmt(metric.baseline)})"
            )
            formula = (
                f"{moved} {metric.unit} x {_fmt(volume)} per year x {_fmt(round(days, 2))} / 365 "
                f"days{say} = {_fmt(round(realised, 2))} {value_unit}"
                + (" (figure carried from an earlier period)" if carried else "")
            )
        # sums of the figures shown (each rounded to 2 decimals), so the columns add up
        realised, promised = round(realised, 2), round(promised, 2)
        cumulative += realised
        cumulative_promised += promised
        rows.append(
            MetricPeriod(
                label=label,
                start=start,
                end=end,
                days=round(days, 4),
                observed=len(inside),
                value=None if figure is None else round(figure, 4),
                carried=carried,
                vs_baseline=None if delta is None else round(delta, 4),
                to_target=None if delta is None else round(promised_delta - delta, 4),
                realised=realised,
                promised=promised,
                cumulative=round(cumulative, 2),
                cumulative_promised=round(cumulative_promised, 2),
                formula=formula,
            )
        )
    return MetricSeries(
        metric=metric.name,
        unit=metric.unit,
        better=metric.better,
        baseline=metric.baseline,
        target=metric.target,
        volume_per_year=volume,
        value_unit=value_unit,
        periods=tuple(rows),
    )


# ---------------------------------------------------------------- the pilot


def _money(hours: float, rate: float | None) -> float | None:
    return None if rate is None else round(hours * rate, 2)


def value_series(
    proposal: Proposal,
    observations: Iterable[Observation],
    production_at: datetime,
    rules: ValueRules,
    now: datetime,
    left_at: datetime | None = None,
) -> ValueSeries:
    """The pilot's value since `production_at`, to `left_at` (left production) or `now`."""
    observations = list(observations)
    until = min(left_at, now) if left_at is not None else now
    until = max(until, production_at)
    kind = granularity(production_at, until)
    spans = periods(production_at, until, kind)
    found = [metric_series(m, observations, production_at, spans) for m in proposal.success_metrics]
    series = tuple(s for s in found if s is not None)
    hour_metrics = [s for s in series if s.value_unit == "hours"]
    rate = rules.hour_rate
    rows: list[PilotPeriod] = []
    cum = cum_promised = 0.0
    for i, (label, start, end) in enumerate(spans):
        # the sum of the figures shown (each rounded to 2 decimals), so a reader can add them up
        hours = sum(s.periods[i].realised for s in hour_metrics)
        promised = sum(s.periods[i].promised for s in hour_metrics)
        cum += hours
        cum_promised += promised
        rows.append(
            PilotPeriod(
                label=label,
                start=start,
                end=end,
                hours=round(hours, 2),
                promised_hours=round(promised, 2),
                cumulative_hours=round(cum, 2),
                cumulative_promised_hours=round(cum_promised, 2),
                money=_money(hours, rate),
                cumulative_money=_money(cum, rate),
                cumulative_promised_money=_money(cum_promised, rate),
            )
        )
    budget = float(proposal.business_owner.budget)
    budget_currency = proposal.business_owner.currency
    in_production = left_at is None or left_at > now
    payback = _payback(
        rows, hour_metrics, proposal, rules, budget, budget_currency, until, in_production
    )
    realised_money = _money(cum, rate)
    formula = (
        f"realised since go-live {production_at:%Y-%m-%d}: {_fmt(round(cum, 2))} hours "
        f"(promised at target: {_fmt(round(cum_promised, 2))} hours)"
    )
    if rate is not None and realised_money is not None:
        formula += (
            f"; {_fmt(round(cum, 2))} hours x {_fmt(rate)} {rules.currency}/hour = "
            f"{_fmt(realised_money)} {rules.currency} against a budget of {_fmt(budget)} "
            f"{budget_currency}"
        )
    return ValueSeries(
        production_at=production_at,
        until=until,
        in_production=in_production,
        granularity=kind,
        metrics=series,
        periods=tuple(rows),
        realised_hours=round(cum, 2),
        promised_hours=round(cum_promised, 2),
        hour_rate=rate,
        currency=rules.currency,
        realised_money=realised_money,
        promised_money=_money(cum_promised, rate),
        budget=budget,
        budget_currency=budget_currency,
        payback=payback,
        formula=formula,
    )


def _current_hours_per_year(hour_metrics: Sequence[MetricSeries], proposal: Proposal) -> float:
    """Hours a year at each metric's latest figure (nothing for a metric not yet measured)."""
    total = 0.0
    for s in hour_metrics:
        last = s.periods[-1].value if s.periods else None
        metric = proposal.metric(s.metric)
        if last is None or metric is None or metric.volume_per_year is None:
            continue
        total += improvement(metric, last) * metric.volume_per_year * _convert(metric)[0]
    return total


def _payback(
    rows: Sequence[PilotPeriod],
    hour_metrics: Sequence[MetricSeries],
    proposal: Proposal,
    rules: ValueRules,
    budget: float,
    budget_currency: str,
    until: datetime,
    in_production: bool,
) -> Payback:
    rate = rules.hour_rate
    if rate is None:
        return Payback("no hour rate", None, None, None, None, "no value.hour_rate: hours only")
    if budget_currency != rules.currency:
        return Payback(
            "other currency",
            None,
            None,
            None,
            None,
            f"budget in {budget_currency}, value in {rules.currency}: no exchange rate assumed",
        )
    before = 0.0
    for row in rows:
        assert row.money is not None
        if row.money > 0 and before + row.money >= budget:
            share = (budget - before) / row.money
            at = row.start + (row.end - row.start) * share
            return Payback(
                "paid back",
                at,
                row.label,
                None,
                None,
                f"cumulative {_fmt(round(before, 2))} + {_fmt(row.money)} {rules.currency} in "
                f"{row.label} reaches the budget of {_fmt(budget)} {rules.currency} on "
                f"{at:%Y-%m-%d}",
            )
        before += row.money
    per_year = round(_current_hours_per_year(hour_metrics, proposal) * rate, 2)
    short = round(budget - before, 2)
    if per_year <= 0 or not in_production:
        why = "left production" if not in_production else "the current rate saves nothing"
        return Payback(
            "not at the current rate",
            None,
            None,
            None,
            per_year,
            f"{_fmt(short)} {rules.currency} of the budget not yet repaid; {why}",
        )
    days = short / per_year * YEAR_DAYS
    projected = until + timedelta(days=days)
    return Payback(
        "not yet",
        None,
        None,
        projected,
        per_year,
        f"{_fmt(short)} {rules.currency} to go / {_fmt(per_year)} {rules.currency} per year at "
        f"the latest figures x 365 = {_fmt(round(days, 1))} days: about {projected:%Y-%m-%d}",
    )


def portfolio_totals(
    rows: Iterable[tuple[str, ValueSeries]], rules: ValueRules
) -> tuple[PortfolioValue, ...]:
    """Realised value to date per portfolio, from (portfolio, series) pairs, sorted by name."""
    grouped: dict[str, list[ValueSeries]] = {}
    for portfolio, s in rows:
        grouped.setdefault(portfolio, []).append(s)
    out = []
    for name in sorted(grouped):
        mine = grouped[name]
        hours = sum(s.realised_hours for s in mine)
        same = [s for s in mine if s.budget_currency == rules.currency]
        out.append(
            PortfolioValue(
                portfolio=name,
                pilots=len(mine),
                realised_hours=round(hours, 2),
                promised_hours=round(sum(s.promised_hours for s in mine), 2),
                realised_money=_money(hours, rules.hour_rate),
                budget=round(sum(s.budget for s in same), 2),
                other_currency=len(mine) - len(same),
                paid_back=sum(1 for s in mine if s.payback.state == "paid back"),
                currency=rules.currency,
            )
        )
    return tuple(out)


def production_window(
    changes: Iterable[tuple[str, datetime]], production: str = "production"
) -> tuple[datetime, datetime | None] | None:
    """(went live, left production or None) from a pilot's (to_stage, at) history in order;
    None if it never reached production."""
    went: datetime | None = None
    for stage, at in changes:
        if went is None:
            if stage == production:
                went = at
        elif stage != production:
            return went, at
    return None if went is None else (went, None)
