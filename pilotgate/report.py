"""The portfolio report: the page a steering committee opens instead of asking around.

Every figure is computed from the register (pilots, stage history, gates, sign-off requests,
decisions, metric observations) at `now`: the stage funnel, active pilots against each
portfolio's cap, each pilot's age against its deploy-or-terminate date, time spent in each
stage, gate lead times and approver responsiveness, terminations with their reasons, and the
value delivered with its formula. `build_report` returns plain JSON-safe data; the HTML (one
self-contained file, inline SVG, no scripts or external assets), the Markdown and the
terminal summary are three renderings of that same data, so they cannot disagree.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from lifecycle.evidence import Observation
from lifecycle.policy import Policy
from lifecycle.proposal import Proposal
from lifecycle.stages import ACTIVE, FORWARD, INITIAL, TERMINAL, Stage
from lifecycle.value import DELIVERING_STAGES, PROJECTED_STAGES, pilot_value, totals
from store.models import Decision, Gate, MetricObservation, Pilot, SignoffRequest, StageChange

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"

#: the forward path, in order: proposal, pilot, ..., production.
PATH: tuple[Stage, ...] = (INITIAL, *FORWARD.values())
LABELS = {s: s.value.replace("_", " ") for s in Stage}
DAY = 86400.0
HOUR = 3600.0


def _days(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() / DAY


def _hours(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() / HOUR


def _median(values: Sequence[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _value_status(stage: str) -> str:
    if stage in DELIVERING_STAGES:
        return "delivering"
    if stage in PROJECTED_STAGES:
        return "projected"
    return f"{stage.replace('_', ' ')}, not counted"


# ---------------------------------------------------------------- figures


def build_report(session: Session, policy: Policy, now: datetime) -> dict[str, Any]:
    """Every figure of the report, computed from the database at `now` (JSON-safe)."""
    pilots = list(session.execute(select(Pilot).order_by(Pilot.created_at, Pilot.id)).scalars())
    history: dict[str, list[StageChange]] = defaultdict(list)
    for change in session.execute(
        select(StageChange).order_by(StageChange.at, StageChange.id)
    ).scalars():
        history[change.pilot_id].append(change)
    gates = list(session.execute(select(Gate).order_by(Gate.opened_at, Gate.id)).scalars())
    requests: dict[int, list[SignoffRequest]] = defaultdict(list)
    for r in session.execute(select(SignoffRequest).order_by(SignoffRequest.id)).scalars():
        requests[r.gate_id].append(r)
    decided = {
        d.request_id: d
        for d in session.execute(
            select(Decision).order_by(Decision.decided_at, Decision.id)
        ).scalars()
    }
    observations: dict[str, list[Observation]] = defaultdict(list)
    for o in session.execute(
        select(MetricObservation).order_by(MetricObservation.observed_at, MetricObservation.id)
    ).scalars():
        observations[o.pilot_id].append(Observation(o.metric, o.value, o.unit, o.observed_at))
    by_id = {p.id: p for p in pilots}

    data: dict[str, Any] = {"generated_at": now.isoformat()}
    data["funnel"] = _funnel(pilots, history)
    data["caps"] = _caps(pilots, policy)
    data["ages"] = _ages(pilots, now)
    data["stage_time"] = _stage_time(pilots, history, now)
    data["gates"], data["gate_stages"] = _gates(gates, requests, by_id, now)
    data["approvers"] = _approvers(gates, requests, decided, now)
    data["terminations"] = _terminations(pilots, history)
    data["value"] = _value(pilots, observations, policy)
    data["totals"] = {
        "pilots": len(pilots),
        "active": sum(1 for p in pilots if Stage(p.stage) in ACTIVE),
        "production": sum(1 for p in pilots if p.stage == Stage.PRODUCTION.value),
        "terminated": sum(1 for p in pilots if p.stage == Stage.TERMINATED.value),
        "open_gates": sum(1 for g in gates if g.status == "open"),
        "median_gate_lead_hours": _median(
            [g["lead_hours"] for g in data["gates"] if g["status"] in ("approved", "rejected")]
        ),
        "value_delivering": data["value"]["totals"]["delivering"],
    }
    return data


def _funnel(pilots: Sequence[Pilot], history: dict[str, list[StageChange]]) -> list[dict[str, Any]]:
    rows = []
    for stage in PATH:
        reached = {
            pid
            for pid, changes in history.items()
            if any(c.to_stage == stage.value for c in changes)
        }
        rows.append(
            {
                "stage": stage.value,
                "label": LABELS[stage],
                "reached": len(reached),
                "current": sum(1 for p in pilots if p.stage == stage.value),
            }
        )
    return rows


def _caps(pilots: Sequence[Pilot], policy: Policy) -> list[dict[str, Any]]:
    portfolios = sorted({p.portfolio for p in pilots} | set(policy.portfolio.caps))
    rows = []
    for name in portfolios:
        active = sum(1 for p in pilots if p.portfolio == name and Stage(p.stage) in ACTIVE)
        cap = policy.portfolio.cap_for(name)
        rows.append(
            {
                "portfolio": name,
                "active": active,
                "cap": cap,
                "free": max(cap - active, 0),
                "at_cap": active >= cap,
            }
        )
    return rows


def _ages(pilots: Sequence[Pilot], now: datetime) -> list[dict[str, Any]]:
    rows = []
    for p in pilots:
        if p.pilot_started_at is None or p.deploy_by is None:
            continue
        end = p.ended_at or now
        ended = p.ended_at is not None
        overdue = not ended and now > p.deploy_by
        rows.append(
            {
                "id": p.id,
                "title": p.title,
                "stage": p.stage,
                "started": _iso(p.pilot_started_at),
                "deploy_by": _iso(p.deploy_by),
                "age_days": round(_days(p.pilot_started_at, end), 1),
                "limit_days": round(_days(p.pilot_started_at, p.deploy_by), 1),
                "days_left": None if ended else round(_days(now, p.deploy_by), 1),
                "state": "ended" if ended else ("overdue" if overdue else "running"),
            }
        )
    return rows


def _stage_time(
    pilots: Sequence[Pilot], history: dict[str, list[StageChange]], now: datetime
) -> dict[str, Any]:
    per_pilot = []
    spent: dict[str, list[float]] = defaultdict(list)
    for p in pilots:
        changes = history.get(p.id, [])
        totals_: dict[str, float] = defaultdict(float)
        segments = []
        for i, change in enumerate(changes):
            if Stage(change.to_stage) in TERMINAL:
                continue
            end = changes[i + 1].at if i + 1 < len(changes) else now
            days = _days(change.at, end)
            segments.append(
                {"stage": change.to_stage, "days": round(days, 2), "ongoing": i + 1 == len(changes)}
            )
            totals_[change.to_stage] += days
        for stage, days in totals_.items():
            spent[stage].append(days)
        per_pilot.append(
            {
                "id": p.id,
                "title": p.title,
                "stage": p.stage,
                "segments": segments,
                "by_stage": {k: round(v, 2) for k, v in totals_.items()},
                "total_days": round(sum(totals_.values()), 2),
            }
        )
    stages = []
    for stage in PATH:
        if stage in TERMINAL:
            continue
        values = spent.get(stage.value, [])
        stages.append(
            {
                "stage": stage.value,
                "label": LABELS[stage],
                "pilots": len(values),
                "median_days": _median(values),
                "mean_days": round(statistics.fmean(values), 2) if values else None,
                "total_days": round(sum(values), 2),
            }
        )
    return {"pilots": per_pilot, "stages": stages}


def _gates(
    gates: Sequence[Gate],
    requests: dict[int, list[SignoffRequest]],
    pilots: dict[str, Pilot],
    now: datetime,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rows: list[dict[str, Any]] = []
    for g in gates:
        first = [r.asked_at for r in requests.get(g.id, []) if r.round == 0]
        asked = min(first) if first else g.opened_at
        closed = g.status != "open"
        end = (g.resolved_at or now) if closed else now
        rows.append(
            {
                "id": g.id,
                "pilot_id": g.pilot_id,
                "title": pilots[g.pilot_id].title,
                "stage": g.stage,
                "target": g.target,
                "status": g.status,
                "asked_at": _iso(asked),
                "decided_at": _iso(g.resolved_at) if closed else None,
                "lead_hours": round(_hours(asked, end), 2),
                "open": not closed,
                "escalated": g.escalated_at is not None,
                "extended": g.extended_at is not None,
            }
        )
    summary = []
    for stage in PATH:
        if stage not in FORWARD:
            continue
        mine = [r for r in rows if r["stage"] == stage.value]
        decided_: list[float] = [
            r["lead_hours"] for r in mine if r["status"] in ("approved", "rejected")
        ]
        summary.append(
            {
                "stage": stage.value,
                "label": f"{LABELS[stage]} -> {LABELS[FORWARD[stage]]}",
                "gates": len(mine),
                "decided": len(decided_),
                "median_lead_hours": _median(decided_),
                "max_lead_hours": round(max(decided_), 2) if decided_ else None,
                **{
                    status: sum(1 for r in mine if r["status"] == status)
                    for status in ("approved", "rejected", "expired", "cancelled", "open")
                },
            }
        )
    return rows, summary


def _approvers(
    gates: Sequence[Gate],
    requests: dict[int, list[SignoffRequest]],
    decided: dict[int, Decision],
    now: datetime,
) -> list[dict[str, Any]]:
    status = {g.id: g.status for g in gates}
    people: dict[str, dict[str, Any]] = {}
    times: dict[str, list[float]] = defaultdict(list)
    for gate_id, asks in requests.items():
        for r in asks:
            row = people.setdefault(
                r.approver,
                {
                    "approver": r.approver,
                    "roles": [],
                    "asked": 0,
                    "answered": 0,
                    "approved": 0,
                    "rejected": 0,
                    "waiting": 0,
                    "unanswered_closed": 0,
                },
            )
            if r.role not in row["roles"]:
                row["roles"].append(r.role)
            row["asked"] += 1
            d = decided.get(r.id)
            if d is not None:
                row["answered"] += 1
                row["approved" if d.verdict == "approve" else "rejected"] += 1
                times[r.approver].append(_hours(r.asked_at, d.decided_at))
            elif status.get(gate_id) == "open":
                row["waiting"] += 1
            else:
                row["unanswered_closed"] += 1
    rows = []
    for approver in sorted(people):
        row = people[approver]
        row["roles"] = sorted(row["roles"])
        row["median_response_hours"] = _median(times[approver])
        row["max_response_hours"] = round(max(times[approver]), 2) if times[approver] else None
        row["response_rate"] = round(row["answered"] / row["asked"], 3)
        rows.append(row)
    return rows


def _terminations(
    pilots: Sequence[Pilot], history: dict[str, list[StageChange]]
) -> list[dict[str, Any]]:
    rows = []
    for p in pilots:
        if p.stage != Stage.TERMINATED.value:
            continue
        last = next(
            (c for c in reversed(history.get(p.id, [])) if c.to_stage == Stage.TERMINATED.value),
            None,
        )
        at = p.ended_at or (last.at if last else None)
        rows.append(
            {
                "id": p.id,
                "title": p.title,
                "portfolio": p.portfolio,
                "from_stage": last.from_stage if last else None,
                "at": _iso(at),
                "by": last.actor if last else None,
                "after_days": round(_days(p.created_at, at), 1) if at else None,
                "reason": p.end_reason or (last.reason if last else ""),
            }
        )
    rows.sort(key=lambda r: r["at"] or "")
    return rows


def _value(
    pilots: Sequence[Pilot], observations: dict[str, list[Observation]], policy: Policy
) -> dict[str, Any]:
    rows = []
    by_status: dict[str, list[Any]] = {"delivering": [], "projected": []}
    for p in pilots:
        proposal = Proposal.model_validate(p.proposal)
        estimates = pilot_value(proposal, observations.get(p.id, []), policy.evidence.last_n)
        if not estimates:
            continue
        status = _value_status(p.stage)
        if status in by_status:
            by_status[status].extend(estimates)
        rows.append(
            {
                "id": p.id,
                "title": p.title,
                "stage": p.stage,
                "status": status,
                "estimates": [_rounded(e.to_dict()) for e in estimates],
            }
        )
    return {
        "pilots": rows,
        "totals": {
            k: {u: round(v, 1) for u, v in totals(v_).items()} for k, v_ in by_status.items()
        },
    }


def _rounded(d: dict[str, Any]) -> dict[str, Any]:
    return {k: round(v, 2) if isinstance(v, float) else v for k, v in d.items()}


# ---------------------------------------------------------------- formatting


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


def day(value: str | None) -> str:
    return value[:10] if value else "-"


# ---------------------------------------------------------------- charts (inline SVG)

CHART_WIDTH = 760
LABEL_WIDTH = 280
TEXT_WIDTH = 180
ROW_HEIGHT = 26
BAR_AREA = CHART_WIDTH - LABEL_WIDTH - TEXT_WIDTH - 10
STAGE_CLASS = {s.value: f"s-{s.value.replace('_', '-')}" for s in Stage}


def _scale(value: float, top: float) -> float:
    return 0.0 if top <= 0 else round(max(value, 0) / top * BAR_AREA, 1)


def _chart(
    chart_id: str,
    title: str,
    rows: list[dict[str, Any]],
    figures: Any,
    legend: Iterable[tuple[str, str]] = (),
) -> dict[str, Any]:
    for i, row in enumerate(rows):
        row["y"] = 8 + i * ROW_HEIGHT
    height = max(40, 16 + len(rows) * ROW_HEIGHT)
    return {
        "id": chart_id,
        "title": title,
        "rows": rows,
        "width": CHART_WIDTH,
        "height": height,
        "label_width": LABEL_WIDTH,
        "bar_x": LABEL_WIDTH,
        "bar_width": BAR_AREA,
        "text_x": LABEL_WIDTH + BAR_AREA + 10,
        "figures": figures,
        "legend": list(legend),
    }


def _row(
    label: str,
    text: str,
    segments: list[dict[str, Any]],
    marker: float | None = None,
    title: str = "",
) -> dict[str, Any]:
    x = 0.0
    for s in segments:
        s["x"] = round(LABEL_WIDTH + x, 1)
        x += s["w"]
    return {
        "label": label if len(label) <= 42 else label[:41] + "…",
        "text": text,
        "segments": segments,
        "marker": None if marker is None else LABEL_WIDTH + marker,
        "title": title or label,
    }


def charts(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Geometry for the SVG charts; each carries its figures for a data-figures attribute."""
    out: dict[str, dict[str, Any]] = {}
    top = max([r["reached"] for r in data["funnel"]] + [1])
    out["funnel"] = _chart(
        "chart-funnel",
        "Stage funnel: pilots that reached each stage",
        [
            _row(
                r["label"],
                f"{r['reached']} reached, {r['current']} here now",
                [
                    {
                        "w": _scale(r["reached"], top),
                        "cls": STAGE_CLASS[r["stage"]],
                        "title": f"{r['label']}: {r['reached']} reached",
                    }
                ],
            )
            for r in data["funnel"]
        ],
        {r["stage"]: r["reached"] for r in data["funnel"]},
    )

    top = max([max(r["cap"], r["active"]) for r in data["caps"]] + [1])
    out["caps"] = _chart(
        "chart-caps",
        "Active pilots against each portfolio's cap",
        [
            _row(
                r["portfolio"],
                f"{r['active']} of {r['cap']} active",
                [
                    {
                        "w": _scale(r["active"], top),
                        "cls": "over" if r["at_cap"] else "ok",
                        "title": f"{r['active']} active",
                    }
                ],
                marker=_scale(r["cap"], top),
                title=f"{r['portfolio']}: cap {r['cap']}",
            )
            for r in data["caps"]
        ],
        {r["portfolio"]: {"active": r["active"], "cap": r["cap"]} for r in data["caps"]},
        legend=[("ok", "below cap"), ("over", "at or over cap"), ("marker", "cap")],
    )

    top = max([max(r["age_days"], r["limit_days"]) for r in data["ages"]] + [1])
    out["ages"] = _chart(
        "chart-ages",
        "Age of each pilot against its deploy-or-terminate date",
        [
            _row(
                r["title"],
                f"{num(r['age_days'])} of {num(r['limit_days'])} days"
                + (f" ({r['stage']})" if r["state"] == "ended" else ""),
                [
                    {
                        "w": _scale(r["age_days"], top),
                        "cls": {"ended": "ended", "overdue": "over", "running": "ok"}[r["state"]],
                        "title": f"{num(r['age_days'])} days",
                    }
                ],
                marker=_scale(r["limit_days"], top),
                title=f"{r['title']} ({r['id']})",
            )
            for r in data["ages"]
        ],
        {r["id"]: {"age_days": r["age_days"], "limit_days": r["limit_days"]} for r in data["ages"]},
        legend=[
            ("ok", "running"),
            ("over", "past its date"),
            ("ended", "ended"),
            ("marker", "deploy-or-terminate date"),
        ],
    )

    top = max([r["total_days"] for r in data["stage_time"]["pilots"]] + [1])
    out["stage_time"] = _chart(
        "chart-stage-time",
        "Time spent in each stage (days)",
        [
            _row(
                r["title"],
                f"{num(r['total_days'])} days",
                [
                    {
                        "w": _scale(s["days"], top),
                        "cls": STAGE_CLASS[s["stage"]],
                        "title": f"{LABELS[Stage(s['stage'])]}: {num(s['days'])} days"
                        + (" (so far)" if s["ongoing"] else ""),
                    }
                    for s in r["segments"]
                ],
                title=f"{r['title']} ({r['id']})",
            )
            for r in data["stage_time"]["pilots"]
        ],
        {r["id"]: r["by_stage"] for r in data["stage_time"]["pilots"]},
        legend=[(STAGE_CLASS[s.value], LABELS[s]) for s in PATH if s not in TERMINAL],
    )

    top = max([r["lead_hours"] for r in data["gates"]] + [1])
    out["gate_lead"] = _chart(
        "chart-gate-lead",
        "Gate lead times: asked -> decided",
        [
            _row(
                f"{r['stage'].replace('_', ' ')}: {r['title']}",
                f"{duration(r['lead_hours'])} {r['status']}",
                [
                    {
                        "w": _scale(r["lead_hours"], top),
                        "cls": f"g-{r['status']}",
                        "title": f"gate {r['id']}: {duration(r['lead_hours'])}, {r['status']}",
                    }
                ],
                title=f"gate {r['id']} {r['stage']} -> {r['target']}",
            )
            for r in data["gates"]
        ],
        {
            str(r["id"]): {"lead_hours": r["lead_hours"], "status": r["status"]}
            for r in data["gates"]
        },
        legend=[(f"g-{s}", s) for s in ("approved", "rejected", "expired", "cancelled", "open")],
    )

    answered = [r for r in data["approvers"] if r["median_response_hours"] is not None]
    top = max([r["median_response_hours"] for r in answered] + [1])
    out["approvers"] = _chart(
        "chart-approvers",
        "Approver responsiveness: median time to answer",
        [
            _row(
                r["approver"] + f" ({', '.join(r['roles'])})",
                (f"median {duration(r['median_response_hours'])}; " if r["answered"] else "")
                + f"{r['answered']}/{r['asked']} answered",
                [
                    {
                        "w": _scale(r["median_response_hours"] or 0, top),
                        "cls": "ok",
                        "title": f"median {duration(r['median_response_hours'])}",
                    }
                ],
            )
            for r in data["approvers"]
        ],
        {
            r["approver"]: {
                "asked": r["asked"],
                "answered": r["answered"],
                "median_response_hours": r["median_response_hours"],
            }
            for r in data["approvers"]
        },
    )

    by_stage: dict[str, int] = defaultdict(int)
    for r in data["terminations"]:
        by_stage[r["from_stage"] or "unknown"] += 1
    top = max(list(by_stage.values()) + [1])
    out["terminations"] = _chart(
        "chart-terminations",
        "Terminations by the stage they ended in",
        [
            _row(
                stage.replace("_", " "),
                f"{count} terminated",
                [{"w": _scale(count, top), "cls": "over", "title": f"{count} terminated"}],
            )
            for stage, count in sorted(by_stage.items())
        ],
        dict(sorted(by_stage.items())),
    )

    rows = []
    figures: dict[str, float] = {}
    estimates = [(p, e) for p in data["value"]["pilots"] for e in p["estimates"]]
    tops: dict[str, float] = defaultdict(float)
    for _, e in estimates:
        tops[e["per_year_unit"]] = max(tops[e["per_year_unit"]], abs(e["per_year"]))
    for p, e in estimates:
        figures[f"{p['id']}:{e['metric']}"] = e["per_year"]
        rows.append(
            _row(
                f"{p['title']}: {e['metric']}",
                f"{num(e['per_year'], 0)} {e['per_year_unit']}",
                [
                    {
                        "w": _scale(abs(e["per_year"]), tops[e["per_year_unit"]]),
                        "cls": "ok"
                        if e["per_year"] >= 0 and p["status"] == "delivering"
                        else ("over" if e["per_year"] < 0 else "projected"),
                        "title": e["formula"],
                    }
                ],
                title=e["formula"],
            )
        )
    out["value"] = _chart(
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
    return out


# ---------------------------------------------------------------- renderings


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        undefined=StrictUndefined,
        autoescape=select_autoescape(["html", "html.j2"], default=False),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(num=num, duration=duration, day=day, cell=cell)
    return env


def render_html(data: dict[str, Any]) -> str:
    return (
        environment()
        .get_template("report/report.html.j2")
        .render(data=data, charts=charts(data), labels={s.value: LABELS[s] for s in Stage})
    )


def write_html(path: str | Path, data: dict[str, Any]) -> Path:
    """Write the report as one self-contained HTML file; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(data), encoding="utf-8")
    return path


def render_markdown(data: dict[str, Any]) -> str:
    return (
        environment()
        .get_template("report/report.md.j2")
        .render(data=data, labels={s.value: LABELS[s] for s in Stage})
    )


def print_summary(data: dict[str, Any], console: Console) -> None:
    """The report in a terminal: headline figures and the tables that matter most."""
    t = data["totals"]
    console.print(
        f"[bold]Portfolio report[/] at {data['generated_at'][:16]} UTC: "
        f"{t['pilots']} pilot(s), {t['active']} active, {t['production']} in "
        f"production, {t['terminated']} terminated, {t['open_gates']} open gate(s); "
        f"median gate lead time {duration(t['median_gate_lead_hours'])}",
        highlight=False,
    )
    funnel = Table("stage", "reached", "here now", title="funnel")
    for r in data["funnel"]:
        funnel.add_row(r["label"], str(r["reached"]), str(r["current"]))
    console.print(funnel)
    caps = Table("portfolio", "active", "cap", title="caps")
    for r in data["caps"]:
        caps.add_row(r["portfolio"], str(r["active"]), str(r["cap"]))
    console.print(caps)
    ages = Table("pilot", "stage", "age (days)", "limit (days)", "days left", title="ages")
    for r in data["ages"]:
        ages.add_row(
            f"{r['title']} ({r['id']})",
            r["stage"],
            num(r["age_days"]),
            num(r["limit_days"]),
            num(r["days_left"]),
        )
    console.print(ages)
    gates = Table("gate", "decided", "median lead", "longest", "open", title="gate lead times")
    for r in data["gate_stages"]:
        if r["gates"]:
            gates.add_row(
                r["label"],
                f"{r['decided']}/{r['gates']}",
                duration(r["median_lead_hours"]),
                duration(r["max_lead_hours"]),
                str(r["open"]),
            )
    console.print(gates)
    if data["terminations"]:
        ended = Table("pilot", "ended in", "on", "reason", title="terminations")
        for r in data["terminations"]:
            ended.add_row(
                f"{r['title']} ({r['id']})", r["from_stage"] or "-", day(r["at"]), r["reason"]
            )
        console.print(ended)
    value = Table("pilot", "metric", "per year", "formula", title="value")
    for p in data["value"]["pilots"]:
        for e in p["estimates"]:
            value.add_row(
                f"{p['title']} ({p['status']})",
                e["metric"],
                f"{num(e['per_year'], 0)} {e['per_year_unit']}",
                e["formula"],
            )
    console.print(value)
    for status in ("delivering", "projected"):
        figures = data["value"]["totals"][status]
        if figures:
            console.print(
                f"value {status}: " + ", ".join(f"{num(v, 0)} {u}" for u, v in figures.items()),
                highlight=False,
            )
