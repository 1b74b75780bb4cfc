"""The portfolio report: the page a steering committee opens instead of asking around.

Every figure is computed from the register (pilots, stage history, gates, sign-off requests,
decisions, metric observations) at `now`: the stage funnel, active pilots against each
portfolio's cap, each pilot's age against its deploy-or-terminate date, time spent in each
stage, gate lead times and approver responsiveness, terminations with their reasons, the
value delivered with its formula, and each live pilot's value since go-live, per period.

- `data`: `build_report(session, policy, now)` returns a `Report`, typed frozen data (its
  `as_dict()`/`to_json()` is the JSON export); the register is read through
  `store.read_report`, so no SQL lives here.
- `charts`: the inline SVG charts' geometry, computed from the `Report`.
- `render`: the HTML (one self-contained file, inline SVG, no scripts or external assets), the
  Markdown and the terminal summary, three renderings of the same `Report`, so they cannot
  disagree. The jinja2 templates ship in `templates/` inside this package.
"""

from __future__ import annotations

from pilotgate.report.charts import Chart, Charts, SeriesChart, build_charts, series_charts
from pilotgate.report.data import (
    LABELS,
    PATH,
    AgeRow,
    ApproverRow,
    CapRow,
    FunnelRow,
    GateRow,
    GateStageRow,
    PilotStageTime,
    PilotValue,
    PilotValueSeries,
    Report,
    StageSegment,
    StageTime,
    StageTimeRow,
    TerminationRow,
    Totals,
    ValueOverTime,
    ValueReport,
    ValueTotals,
    build_report,
)
from pilotgate.report.format import cell, day, duration, num
from pilotgate.report.render import (
    environment,
    print_summary,
    render_html,
    render_markdown,
    write_html,
)

__all__ = [
    "LABELS",
    "PATH",
    "AgeRow",
    "ApproverRow",
    "CapRow",
    "Chart",
    "Charts",
    "SeriesChart",
    "FunnelRow",
    "GateRow",
    "GateStageRow",
    "PilotStageTime",
    "PilotValue",
    "PilotValueSeries",
    "Report",
    "StageSegment",
    "StageTime",
    "StageTimeRow",
    "TerminationRow",
    "Totals",
    "ValueOverTime",
    "ValueReport",
    "ValueTotals",
    "build_charts",
    "build_report",
    "cell",
    "day",
    "duration",
    "environment",
    "num",
    "print_summary",
    "render_html",
    "render_markdown",
    "series_charts",
    "write_html",
]
