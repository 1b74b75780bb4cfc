"""Geometry of the report's inline SVG charts, computed from the typed report data.

Every chart is a set of horizontal bars, one row per item: a label on the left, stacked bar
segments scaled to the chart's largest figure, an optional marker line (a cap, a deadline) and
a text on the right. Each chart also carries the figures it draws, which the HTML writes into a
data-figures attribute so a test (or a person) can read back exactly what was drawn.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TypeAlias

from lifecycle.stages import ACTIVE, Stage
from pilotgate.report.data import GATE_STATUSES, LABELS, PATH, PilotValueSeries, Report
from pilotgate.report.format import duration, num

CHART_WIDTH = 760
LABEL_WIDTH = 280
TEXT_WIDTH = 180
ROW_HEIGHT = 26
BAR_AREA = CHART_WIDTH - LABEL_WIDTH - TEXT_WIDTH - 10
STAGE_CLASS = {s.value: f"s-{s.value.replace('_', '-')}" for s in Stage}

#: what a chart's data-figures attribute holds (JSON).
Figure: TypeAlias = "float | str | None | Mapping[str, Figure]"
Figures: TypeAlias = Mapping[str, Figure]


@dataclass(frozen=True)
class Bar:
    """One bar segment: where it starts, how wide it is, its CSS class and tooltip."""

    x: float
    w: float
    cls: str
    title: str


@dataclass(frozen=True)
class ChartRow:
    label: str
    text: str
    segments: tuple[Bar, ...]
    #: x of the marker line, or None.
    marker: float | None
    title: str
    y: int = 0


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    rows: tuple[ChartRow, ...]
    width: int
    height: int
    label_width: int
    bar_x: int
    bar_width: int
    text_x: int
    figures: Figures
    legend: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Charts:
    funnel: Chart
    caps: Chart
    ages: Chart
    stage_time: Chart
    gate_lead: Chart
    approvers: Chart
    terminations: Chart
    value: Chart


def _scale(value: float, top: float) -> float:
    return 0.0 if top <= 0 else round(max(value, 0) / top * BAR_AREA, 1)


def _bar(w: float, cls: str, title: str) -> Bar:
    return Bar(x=0.0, w=w, cls=cls, title=title)


def _chart(
    chart_id: str,
    title: str,
    rows: Iterable[ChartRow],
    figures: Figures,
    legend: Iterable[tuple[str, str]] = (),
) -> Chart:
    placed = tuple(replace(row, y=8 + i * ROW_HEIGHT) for i, row in enumerate(rows))
    return Chart(
        id=chart_id,
        title=title,
        rows=placed,
        width=CHART_WIDTH,
        height=max(40, 16 + len(placed) * ROW_HEIGHT),
        label_width=LABEL_WIDTH,
        bar_x=LABEL_WIDTH,
        bar_width=BAR_AREA,
        text_x=LABEL_WIDTH + BAR_AREA + 10,
        figures=figures,
        legend=tuple(legend),
    )


def _row(
    label: str,
    text: str,
    segments: Iterable[Bar],
    marker: float | None = None,
    title: str = "",
) -> ChartRow:
    x = 0.0
    placed = []
    for s in segments:
        placed.append(replace(s, x=round(LABEL_WIDTH + x, 1)))
        x += s.w
    return ChartRow(
        label=label if len(label) <= 42 else label[:41] + "…",
        text=text,
        segments=tuple(placed),
        marker=None if marker is None else LABEL_WIDTH + marker,
        title=title or label,
    )


def build_charts(data: Report) -> Charts:
    """Geometry for the SVG charts; each carries its figures for a data-figures attribute."""
    return Charts(
        funnel=_funnel(data),
        caps=_caps(data),
        ages=_ages(data),
        stage_time=_stage_time(data),
        gate_lead=_gate_lead(data),
        approvers=_approvers(data),
        terminations=_terminations(data),
        value=_value(data),
    )


def _funnel(data: Report) -> Chart:
    top = max([r.reached for r in data.funnel] + [1])
    return _chart(
        "chart-funnel",
        "Stage funnel: pilots that reached each stage",
        [
            _row(
                r.label,
                f"{r.reached} reached, {r.current} here now",
                [
                    _bar(
                        _scale(r.reached, top),
                        STAGE_CLASS[r.stage],
                        f"{r.label}: {r.reached} reached",
                    )
                ],
            )
            for r in data.funnel
        ],
        {r.stage: r.reached for r in data.funnel},
    )


def _caps(data: Report) -> Chart:
    top = max([max(r.cap, r.active) for r in data.caps] + [1])
    return _chart(
        "chart-caps",
        "Active pilots against each portfolio's cap",
        [
            _row(
                r.portfolio,
                f"{r.active} of {r.cap} active",
                [
                    _bar(
                        _scale(r.active, top),
                        "over" if r.at_cap else "ok",
                        f"{r.active} active",
                    )
                ],
                marker=_scale(r.cap, top),
                title=f"{r.portfolio}: cap {r.cap}",
            )
            for r in data.caps
        ],
        {r.portfolio: {"active": r.active, "cap": r.cap} for r in data.caps},
        legend=[("ok", "below cap"), ("over", "at or over cap"), ("marker", "cap")],
    )


def _ages(data: Report) -> Chart:
    top = max([max(r.age_days, r.limit_days) for r in data.ages] + [1])
    state_class = {"ended": "ended", "overdue": "over", "running": "ok"}
    return _chart(
        "chart-ages",
        "Age of each pilot against its deploy-or-terminate date",
        [
            _row(
                r.title,
                f"{num(r.age_days)} of {num(r.limit_days)} days"
                + (f" ({r.stage})" if r.state == "ended" else ""),
                [_bar(_scale(r.age_days, top), state_class[r.state], f"{num(r.age_days)} days")],
                marker=_scale(r.limit_days, top),
                title=f"{r.title} ({r.id})",
            )
            for r in data.ages
        ],
        {r.id: {"age_days": r.age_days, "limit_days": r.limit_days} for r in data.ages},
        legend=[
            ("ok", "running"),
            ("over", "past its date"),
            ("ended", "ended"),
            ("marker", "deploy-or-terminate date"),
        ],
    )


def _stage_time(data: Report) -> Chart:
    pilots = data.stage_time.pilots
    top = max([r.total_days for r in pilots] + [1])
    return _chart(
        "chart-stage-time",
        "Time spent in each stage (days)",
        [
            _row(
                r.title,
                f"{num(r.total_days)} days",
                [
                    _bar(
                        _scale(s.days, top),
                        STAGE_CLASS[s.stage],
                        f"{LABELS[Stage(s.stage)]}: {num(s.days)} days"
                        + (" (so far)" if s.ongoing else ""),
                    )
                    for s in r.segments
                ],
                title=f"{r.title} ({r.id})",
            )
            for r in pilots
        ],
        {r.id: r.by_stage for r in pilots},
        legend=[(STAGE_CLASS[s.value], LABELS[s]) for s in PATH if s in ACTIVE],
    )


def _gate_lead(data: Report) -> Chart:
    top = max([r.lead_hours for r in data.gates] + [1])
    return _chart(
        "chart-gate-lead",
        "Gate lead times: asked -> decided",
        [
            _row(
                f"{r.stage.replace('_', ' ')}: {r.title}",
                f"{duration(r.lead_hours)} {r.status}",
                [
                    _bar(
                        _scale(r.lead_hours, top),
                        f"g-{r.status}",
                        f"gate {r.id}: {duration(r.lead_hours)}, {r.status}",
                    )
                ],
                title=f"gate {r.id} {r.stage} -> {r.target}",
            )
            for r in data.gates
        ],
        {str(r.id): {"lead_hours": r.lead_hours, "status": r.status} for r in data.gates},
        legend=[(f"g-{s}", s) for s in GATE_STATUSES],
    )


def _approvers(data: Report) -> Chart:
    top = max(
        [r.median_response_hours for r in data.approvers if r.median_response_hours is not None]
        + [1]
    )
    return _chart(
        "chart-approvers",
        "Approver responsiveness: median time to answer",
        [
            _row(
                r.approver + f" ({', '.join(r.roles)})",
                (f"median {duration(r.median_response_hours)}; " if r.answered else "")
                + f"{r.answered}/{r.asked} answered",
                [
                    _bar(
                        _scale(r.median_response_hours or 0, top),
                        "ok",
                        f"median {duration(r.median_response_hours)}",
                    )
                ],
            )
            for r in data.approvers
        ],
        {
            r.approver: {
                "asked": r.asked,
                "answered": r.answered,
                "median_response_hours": r.median_response_hours,
            }
            for r in data.approvers
        },
    )


def _terminations(data: Report) -> Chart:
    by_stage: dict[str, int] = defaultdict(int)
    for r in data.terminations:
        by_stage[r.from_stage or "unknown"] += 1
    top = max(list(by_stage.values()) + [1])
    return _chart(
        "chart-terminations",
        "Terminations by the stage they ended in",
        [
            _row(
                stage.replace("_", " "),
                f"{count} terminated",
                [_bar(_scale(count, top), "over", f"{count} terminated")],
            )
            for stage, count in sorted(by_stage.items())
        ],
        dict(sorted(by_stage.items())),
    )


def _value(data: Report) -> Chart:
    rows = []
    figures: dict[str, float] = {}
    estimates = [(p, e) for p in data.value.pilots for e in p.estimates]
    tops: dict[str, float] = defaultdict(float)
    for _, e in estimates:
        tops[e.per_year_unit] = max(tops[e.per_year_unit], abs(e.per_year))
    for p, e in estimates:
        figures[f"{p.id}:{e.metric}"] = e.per_year
        if e.per_year >= 0 and p.status == "delivering":
            cls = "ok"
        else:
            cls = "over" if e.per_year < 0 else "projected"
        rows.append(
            _row(
                f"{p.title}: {e.metric}",
                f"{num(e.per_year, 0)} {e.per_year_unit}",
                [_bar(_scale(abs(e.per_year), tops[e.per_year_unit]), cls, e.formula)],
                title=e.formula,
            )
        )
    return _chart(
        "chart-value",
        "Value per year, at current performance (bars scaled within each unit)",
        rows,
        figures,
        legend=[
            ("ok", "delivering"),
            ("projected", "projected or ended"),
            ("over", "worse than baseline"),
        ],
    )


# ---------------------------------------------------------------- value since go-live

SERIES_HEIGHT = 170
SERIES_LEFT = 70
SERIES_RIGHT = CHART_WIDTH - 150
SERIES_TOP = 14
SERIES_BOTTOM = SERIES_HEIGHT - 28


@dataclass(frozen=True)
class SeriesChart:
    """One production pilot's cumulative value since go-live as lines: realised, what the
    target would have delivered, and the budget (money only, same currency)."""

    id: str
    title: str
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    unit: str
    #: SVG polyline points ("x,y x,y ..."), from go-live (0) to each period's end.
    realised: str
    promised: str
    budget_y: float | None
    zero_y: float
    #: (x, text) under the axis: the first and last periods (and the middle one if many).
    x_labels: tuple[tuple[float, str], ...]
    #: (y, text) beside the axis.
    y_labels: tuple[tuple[float, str], ...]
    #: (x, y, text) at each line's end.
    ends: tuple[tuple[float, float, str, str], ...]
    figures: Figures
    legend: tuple[tuple[str, str], ...]


def series_charts(data: Report) -> tuple[SeriesChart, ...]:
    """A small line chart per pilot that went live (the report's "Value since go-live")."""
    return tuple(_series_chart(p) for p in data.value_over_time.pilots)


def _series_chart(p: PilotValueSeries) -> SeriesChart:
    s = p.series
    priced = s.hour_rate is not None
    same = priced and s.budget_currency == s.currency
    if priced:
        realised = [r.cumulative_money or 0.0 for r in s.periods]
        promised = [r.cumulative_promised_money or 0.0 for r in s.periods]
        unit = s.currency
    else:
        realised = [r.cumulative_hours for r in s.periods]
        promised = [r.cumulative_promised_hours for r in s.periods]
        unit = "hours"
    budget = s.budget if same else None
    values = [0.0, *realised, *promised] + ([budget] if budget is not None else [])
    hi, lo = max(max(values), 1.0), min(values)
    n = max(len(s.periods), 1)
    span = SERIES_RIGHT - SERIES_LEFT

    def x(i: int) -> float:
        return round(SERIES_LEFT + i / n * span, 1)

    def y(v: float) -> float:
        return round(SERIES_BOTTOM - (v - lo) / (hi - lo) * (SERIES_BOTTOM - SERIES_TOP), 1)

    def points(figures: list[float]) -> str:
        return " ".join(f"{x(i)},{y(v)}" for i, v in enumerate([0.0, *figures]))

    labels = (
        [s.periods[i] for i in sorted({0, len(s.periods) // 2, len(s.periods) - 1})]
        if (s.periods)
        else []
    )
    index = {r.label: i for i, r in enumerate(s.periods)}
    ends = []
    if s.periods:
        ends.append((x(n) + 6, y(realised[-1]), "ok", f"realised {num(realised[-1], 0)} {unit}"))
        ends.append(
            (x(n) + 6, y(promised[-1]), "projected", f"at target {num(promised[-1], 0)} {unit}")
        )
    y_labels = [(y(lo), num(lo, 0)), (y(hi), num(hi, 0))]
    return SeriesChart(
        id=f"chart-value-since-{p.id}",
        title=f"{p.title}: cumulative value since go-live {s.production_at:%Y-%m-%d} ({unit}, "
        f"per {s.granularity})",
        width=CHART_WIDTH,
        height=SERIES_HEIGHT,
        left=SERIES_LEFT,
        right=SERIES_RIGHT,
        top=SERIES_TOP,
        bottom=SERIES_BOTTOM,
        unit=unit,
        realised=points(realised),
        promised=points(promised),
        budget_y=None if budget is None else y(budget),
        zero_y=y(0.0),
        x_labels=tuple((x(index[r.label] + 1), r.label) for r in labels),
        y_labels=tuple(y_labels),
        ends=tuple(ends),
        figures={
            "unit": unit,
            "realised": {r.label: v for r, v in zip(s.periods, realised, strict=True)},
            "promised": {r.label: v for r, v in zip(s.periods, promised, strict=True)},
            "budget": budget,
        },
        legend=(("ok", "realised"), ("projected", "what the target would deliver"))
        + ((("marker", f"budget {num(budget, 0)} {unit}"),) if budget is not None else ()),
    )
