"""Value delivered: what a pilot's measured improvement is worth per year, with the sum shown.

Value is tracked as measured outcomes (time saved, cost, error rate, revenue), not adoption.
For a success metric with `volume_per_year`, the estimate is the improvement per occurrence
(baseline -> current, direction-aware) times how often it occurs in a year, converted to a
unit people budget in (minutes saved per ticket x tickets a year -> hours a year). The formula
travels with the number so nobody has to trust a figure they cannot recompute. Pure: the
current figure is computed from the observations given; nothing is read here.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from lifecycle.evidence import Observation
from lifecycle.policy import ValueRules
from lifecycle.proposal import Proposal, SuccessMetric

#: time units and how many hours one of them is.
TIME_UNITS: dict[str, float] = {
    "s": 1 / 3600,
    "sec": 1 / 3600,
    "secs": 1 / 3600,
    "second": 1 / 3600,
    "seconds": 1 / 3600,
    "min": 1 / 60,
    "mins": 1 / 60,
    "minute": 1 / 60,
    "minutes": 1 / 60,
    "h": 1.0,
    "hr": 1.0,
    "hrs": 1.0,
    "hour": 1.0,
    "hours": 1.0,
    "day": 24.0,
    "days": 24.0,
}
PERCENT_UNITS = {"percent", "%", "pct", "percentage points", "pp"}

#: stages whose pilots deliver value to users now (the rest is projected).
DELIVERING_STAGES = ("internal_rollout", "customer_rollout", "production")
PROJECTED_STAGES = ("pilot", "readiness_review")


def _fmt(value: float) -> str:
    text = f"{value:,.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


#: how a figure is written in a formula (public: value_series and `pilotgate value` write them too).
fmt = _fmt


@dataclass(frozen=True)
class ValueEstimate:
    metric: str
    unit: str
    better: str
    baseline: float
    current: float
    volume_per_year: float
    #: baseline -> current, positive when the metric moved the good way.
    improvement: float
    per_year: float
    per_year_unit: str
    formula: str
    #: how `current` was computed.
    basis: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "unit": self.unit,
            "better": self.better,
            "baseline": self.baseline,
            "current": self.current,
            "volume_per_year": self.volume_per_year,
            "improvement": self.improvement,
            "per_year": self.per_year,
            "per_year_unit": self.per_year_unit,
            "formula": self.formula,
            "basis": self.basis,
        }


def improvement(metric: SuccessMetric, current: float) -> float:
    """How far the metric moved from its baseline in the good direction (negative: worse)."""
    return metric.baseline - current if metric.better == "lower" else current - metric.baseline


def estimate(metric: SuccessMetric, current: float, basis: str) -> ValueEstimate | None:
    """improvement x volume_per_year, in hours/year for time units; None without a volume."""
    if metric.volume_per_year is None:
        return None
    volume = metric.volume_per_year
    delta = improvement(metric, current)
    unit = metric.unit.strip()
    key = unit.lower()
    if metric.better == "lower":
        moved = f"({_fmt(metric.baseline)} - {_fmt(current)}) {unit}"
    else:
        moved = f"({_fmt(current)} - {_fmt(metric.baseline)}) {unit}"
    if key in TIME_UNITS:
        hours = TIME_UNITS[key]
        per_year, per_unit = delta * volume * hours, "hours/year"
        convert = (
            "" if hours == 1 else (f" / {_fmt(1 / hours)}" if hours < 1 else f" x {_fmt(hours)}")
        )
        formula = f"{moved} x {_fmt(volume)} per year{convert} = {_fmt(per_year)} hours/year"
    elif key in PERCENT_UNITS:
        per_year, per_unit = delta / 100 * volume, "occurrences/year"
        formula = f"{moved} / 100 x {_fmt(volume)} per year = {_fmt(per_year)} occurrences/year"
    else:
        per_year, per_unit = delta * volume, f"{unit}/year"
        formula = f"{moved} x {_fmt(volume)} per year = {_fmt(per_year)} {unit}/year"
    return ValueEstimate(
        metric.name,
        unit,
        metric.better,
        metric.baseline,
        current,
        volume,
        delta,
        per_year,
        per_unit,
        formula,
        basis,
    )


def current_figure(
    observations: Iterable[Observation], metric: SuccessMetric, last_n: int
) -> tuple[float, str] | None:
    """Median of the last N observations of the metric (in its unit), whenever they were made."""
    series = sorted(
        (o for o in observations if o.metric == metric.name and o.unit == metric.unit),
        key=lambda o: o.observed_at,
    )[-last_n:]
    if not series:
        return None
    value = float(statistics.median(o.value for o in series))
    return value, (
        f"median of the last {len(series)} observation(s), "
        f"{series[0].observed_at:%Y-%m-%d} to {series[-1].observed_at:%Y-%m-%d}"
    )


def pilot_value(
    proposal: Proposal, observations: Iterable[Observation], last_n: int
) -> list[ValueEstimate]:
    """One estimate per metric that has a volume_per_year and at least one observation."""
    observations = list(observations)
    estimates = []
    for metric in proposal.success_metrics:
        if metric.volume_per_year is None:
            continue
        figure = current_figure(observations, metric, last_n)
        if figure is None:
            continue
        found = estimate(metric, *figure)
        if found is not None:
            estimates.append(found)
    return estimates


def totals(estimates: Iterable[ValueEstimate]) -> dict[str, float]:
    """Sum per value unit (hours/year with hours/year, USD/year with USD/year)."""
    summed: dict[str, float] = {}
    for e in estimates:
        summed[e.per_year_unit] = summed.get(e.per_year_unit, 0.0) + e.per_year
    return summed


@dataclass(frozen=True)
class Money:
    """A pilot's yearly value in money against its budget: hours saved x the policy's rate."""

    per_year: float
    currency: str
    budget: float
    budget_currency: str
    #: months for the value to repay the budget; None when nothing is saved yet or the budget
    #: is in another currency (no exchange rate is assumed).
    payback_months: float | None
    formula: str


def money(
    estimates: Iterable[ValueEstimate], proposal: Proposal, rules: ValueRules
) -> Money | None:
    """hours/year x `rules.hour_rate`, set against the business owner's budget; None without a
    rate or without hours saved to price."""
    if rules.hour_rate is None:
        return None
    hours = sum(e.per_year for e in estimates if e.per_year_unit == "hours/year")
    if not any(e.per_year_unit == "hours/year" for e in estimates):
        return None
    per_year = round(hours * rules.hour_rate, 2)
    budget = float(proposal.business_owner.budget)
    same = proposal.business_owner.currency == rules.currency
    payback = round(budget / per_year * 12, 1) if per_year > 0 and same else None
    formula = f"{_fmt(round(hours, 2))} hours/year x {_fmt(rules.hour_rate)} {rules.currency}/hour"
    if payback is not None:
        formula += (
            f"; budget {_fmt(budget)} {rules.currency} / {_fmt(per_year)} per year x 12 = "
            f"{_fmt(payback)} months"
        )
    return Money(
        per_year, rules.currency, budget, proposal.business_owner.currency, payback, formula
    )
