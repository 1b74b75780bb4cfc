"""`pilotgate metric` and `pilotgate report`: measured outcomes in, the portfolio page out.

A readiness review is only as good as the measurements behind it, so observations are checked
against the proposal before anything is stored: the metric must be one the proposal defined,
in the unit it defined, with a number and a time that is not in the future. An import is all
or nothing: one bad row and no row is written, and the error names every bad row and column.
"""

from __future__ import annotations

import csv
import json
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.markup import escape
from rich.table import Table

from config.clock import utcnow
from lifecycle.stages import Stage
from pilotgate.console import err, guarded, out, runtime
from store.errors import Conflict

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from lifecycle.policy import Policy
    from lifecycle.proposal import Proposal
    from store.models import Pilot

metric_app = typer.Typer(
    help="Measured outcomes of a pilot: record, import, show.", no_args_is_help=True
)

#: clocks disagree a little; an observation this far ahead of ours is still "now".
CLOCK_SKEW = timedelta(minutes=1)
T = TypeVar("T")
COLUMNS_REQUIRED = ("metric", "value", "observed_at")
COLUMNS_OPTIONAL = ("unit", "source")


@dataclass(frozen=True)
class Row:
    metric: str
    value: float
    unit: str
    observed_at: datetime
    source: str | None


def known_metrics(proposal: Proposal) -> str:
    return ", ".join(f"{m.name} ({m.unit})" for m in proposal.success_metrics)


def check_metric(proposal: Proposal, name: str) -> str:
    name = name.strip()
    if proposal.metric(name) is None:
        raise ValueError(
            f"unknown metric {name!r}; this pilot's metrics are {known_metrics(proposal)}"
        )
    return name


def parse_value(text: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not a number (use a plain decimal such as 1.25)") from None
    if not math.isfinite(value):
        raise ValueError(f"{text!r} is not a finite number")
    return value


def parse_time(text: str, now: datetime) -> datetime:
    """ISO 8601 (a time without an offset is UTC); not in the future."""
    text = text.strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is not an ISO 8601 time (e.g. 2026-05-01T09:00:00Z or 2026-05-01)"
        ) from None
    parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if parsed > now + CLOCK_SKEW:
        raise ValueError(
            f"{text} is in the future (now is {now:%Y-%m-%d %H:%M} UTC); "
            "record what was observed, not what is expected"
        )
    return parsed.astimezone(UTC)


def check_unit(proposal: Proposal, metric: str, unit: str | None) -> str:
    expected = proposal.metric(metric)
    assert expected is not None
    if unit is not None and unit.strip() and unit.strip() != expected.unit:
        raise ValueError(
            f"unit {unit.strip()!r} does not match the proposal: {metric} is "
            f"measured in {expected.unit!r}"
        )
    return expected.unit


def _pilot_for_metrics(session: Session, pilot_id: str) -> tuple[Pilot, Proposal]:
    # Deferred: SQLAlchemy and pydantic load when a command runs, not for `pilotgate --help`.
    from store import pilots

    pilot = pilots.get_pilot(session, pilot_id)
    if pilot.stage in (Stage.TERMINATED.value, Stage.RETIRED.value):
        raise Conflict(
            f"pilot {pilot_id} is {pilot.stage} ({pilot.end_reason}); its metrics are closed"
        )
    return pilot, pilots.proposal_of(pilot)


# A negative value ("-5") is a value, not an unknown option.
@metric_app.command("record", context_settings={"ignore_unknown_options": True})
def record(
    pilot_id: Annotated[str, typer.Argument(help="Pilot id.")],
    name: Annotated[str, typer.Argument(help="Metric name, as in the proposal.")],
    value: Annotated[str, typer.Argument(help="The measured value (a number).")],
    at: Annotated[
        str | None,
        typer.Option(
            "--at", help="When it was observed (ISO 8601, UTC if no offset; default now)."
        ),
    ] = None,
    source: Annotated[
        str | None,
        typer.Option("--source", help="Where the figure comes from (dashboard, query, report)."),
    ] = None,
    unit: Annotated[
        str | None, typer.Option("--unit", help="Unit of VALUE; must match the proposal.")
    ] = None,
) -> None:
    """Record one observation of a success metric."""
    # Deferred: SQLAlchemy and pydantic load when a command runs, not for `pilotgate --help`.
    from lifecycle.errors import InputError
    from store import audit, metrics

    rt = runtime()
    now = utcnow()
    with guarded(), rt.db.session() as session:
        pilot, proposal = _pilot_for_metrics(session, pilot_id)
        problems: list[str] = []
        metric = observed = number = None
        try:
            metric = check_metric(proposal, name)
        except ValueError as exc:
            problems.append(f"NAME: {exc}")
        try:
            number = parse_value(value)
        except ValueError as exc:
            problems.append(f"VALUE: {exc}")
        try:
            observed = parse_time(at, now) if at is not None else now
        except ValueError as exc:
            problems.append(f"--at: {exc}")
        metric_unit = None
        if metric is not None:
            try:
                metric_unit = check_unit(proposal, metric, unit)
            except ValueError as exc:
                problems.append(f"--unit: {exc}")
        if problems:
            raise InputError(f"metric record {pilot_id}", problems)
        assert metric and metric_unit and number is not None and observed is not None
        metrics.record_metric(
            session,
            pilot.id,
            metric=metric,
            value=number,
            unit=metric_unit,
            observed_at=observed,
            source=source,
            now=now,
            actor="cli",
        )
        audit.append(
            session,
            actor="cli",
            action="metric.recorded",
            pilot_id=pilot.id,
            data={
                "metric": metric,
                "value": number,
                "unit": metric_unit,
                "observed_at": observed.isoformat(),
                "source": source,
            },
            now=now,
        )
        refreshed = _refresh_open_gate(session, rt.policy, pilot.id, now)
    out.print(
        f"recorded {metric} = {number:g} {escape(metric_unit)} for {pilot_id}, observed "
        f"{observed:%Y-%m-%d %H:%M} UTC",
        highlight=False,
    )
    _say_refreshed(refreshed)


def _refresh_open_gate(session: Session, policy: Policy, pilot_id: str, now: datetime) -> Any:
    # Deferred: re-asking renders Slack messages (slack_sdk); `metric show` stays light.
    from tasks.evidence_refresh import refresh_open_gate

    return refresh_open_gate(session, policy, pilot_id, now=now, actor="cli")


def _say_refreshed(refreshed: Any) -> None:
    """Tell the programme manager what the new measurements changed at the open gate."""
    if refreshed is None:
        return
    out.print(
        f"gate {refreshed.gate_id}'s evidence changed: " + "; ".join(refreshed.changed),
        highlight=False,
    )
    for approver, role in refreshed.reasked:
        out.print(
            f"  {approver} ({role}) approved on the old evidence and is asked again",
            highlight=False,
        )


def _cell(
    cells: dict[str, str], column: str, parse: Callable[[str], T], where: str, problems: list[str]
) -> T | None:
    """A column parsed, or None with the problem noted against its row and column."""
    if not cells.get(column):
        problems.append(f"{where}, column {column}: empty")
        return None
    try:
        return parse(cells[column])
    except ValueError as exc:
        problems.append(f"{where}, column {column}: {exc}")
        return None


def check_row(
    cells: dict[str, str], where: str, proposal: Proposal, now: datetime
) -> tuple[Row | None, list[str]]:
    """One CSV row checked against the proposal: the row, or every problem with it."""
    problems: list[str] = []
    metric = _cell(cells, "metric", lambda v: check_metric(proposal, v), where, problems)
    value = _cell(cells, "value", parse_value, where, problems)
    observed = _cell(cells, "observed_at", lambda v: parse_time(v, now), where, problems)
    unit = None
    if metric is not None:
        try:
            unit = check_unit(proposal, metric, cells.get("unit"))
        except ValueError as exc:
            problems.append(f"{where}, column unit: {exc}")
    if problems or metric is None or unit is None or value is None or observed is None:
        return None, problems
    return Row(metric, value, unit, observed, cells.get("source") or None), problems


def read_csv(path: Path, proposal: Proposal, now: datetime) -> list[Row]:
    """Every row checked; an InputError lists every bad row (row number, line, column)."""
    # Deferred: SQLAlchemy and pydantic load when a command runs, not for `pilotgate --help`.
    from lifecycle.errors import InputError

    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(str(path), [f"cannot read the file ({exc.strerror})"]) from None
    except UnicodeDecodeError:
        raise InputError(str(path), ["not UTF-8 text; save the CSV as UTF-8"]) from None
    reader = csv.DictReader(text.splitlines(keepends=True))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    if not header:
        raise InputError(
            str(path),
            [
                "the file is empty; the first line must be the header "
                "metric,value,observed_at[,unit][,source]"
            ],
        )
    reader.fieldnames = header
    lacking = [c for c in COLUMNS_REQUIRED if c not in header]
    unknown = [c for c in header if c not in COLUMNS_REQUIRED + COLUMNS_OPTIONAL]
    problems: list[str] = []
    if lacking or unknown or len(set(header)) != len(header):
        if lacking:
            problems.append(f"header: missing column(s) {', '.join(lacking)}")
        if unknown:
            problems.append(f"header: unknown column(s) {', '.join(unknown)}")
        if len(set(header)) != len(header):
            problems.append("header: a column is named twice")
        problems.append("expected columns: metric,value,observed_at[,unit][,source]")
        raise InputError(str(path), problems)
    rows: list[Row] = []
    seen: dict[tuple[str, datetime], int] = {}
    for number, raw in enumerate(reader, start=1):
        where = f"row {number} (line {reader.line_num})"
        if None in raw:
            problems.append(
                f"{where}: {len(header) + len(raw[None])} cells, but the header has "
                f"{len(header)} columns"
            )
            continue
        cells = {k: (v or "").strip() for k, v in raw.items()}
        if not any(cells.values()):
            continue  # a blank line
        row, row_problems = check_row(cells, where, proposal, now)
        if row is not None:
            first = seen.setdefault((row.metric, row.observed_at), number)
            if first != number:
                row_problems.append(
                    f"{where}, column observed_at: {row.metric} at "
                    f"{row.observed_at.isoformat()} repeats row {first}"
                )
        if row_problems:
            problems.extend(row_problems)
        elif row is not None:
            rows.append(row)
    if problems:
        shown = problems[:50]
        if len(problems) > len(shown):
            shown.append(f"... and {len(problems) - len(shown)} more")
        raise InputError(f"{path} (nothing was imported)", shown)
    if not rows:
        raise InputError(str(path), ["no data rows under the header; nothing to import"])
    return rows


@metric_app.command("import")
def import_csv(
    pilot_id: Annotated[str, typer.Argument(help="Pilot id.")],
    file: Annotated[
        Path, typer.Argument(help="CSV with columns metric,value,observed_at[,unit][,source].")
    ],
) -> None:
    """Import observations from CSV: every row is written, or none is."""
    # Deferred: SQLAlchemy and pydantic load when a command runs, not for `pilotgate --help`.
    from store import audit, metrics

    rt = runtime()
    now = utcnow()
    with guarded(), rt.db.session() as session:
        pilot, proposal = _pilot_for_metrics(session, pilot_id)
        rows = read_csv(file, proposal, now)
        stored = {
            (o.metric, o.observed_at, o.value) for o in metrics.observations(session, pilot.id)
        }
        fresh = [r for r in rows if (r.metric, r.observed_at, r.value) not in stored]
        for r in fresh:
            metrics.record_metric(
                session,
                pilot.id,
                metric=r.metric,
                value=r.value,
                unit=r.unit,
                observed_at=r.observed_at,
                source=r.source or f"import {file.name}",
                now=now,
                actor="cli",
            )
        counts: dict[str, int] = {}
        for r in fresh:
            counts[r.metric] = counts.get(r.metric, 0) + 1
        if fresh:
            audit.append(
                session,
                actor="cli",
                action="metric.imported",
                pilot_id=pilot.id,
                data={
                    "file": file.name,
                    "rows": len(fresh),
                    "per_metric": counts,
                    "skipped_duplicates": len(rows) - len(fresh),
                },
                now=now,
            )
        refreshed = _refresh_open_gate(session, rt.policy, pilot.id, now) if fresh else None
    detail = ", ".join(f"{m}: {n}" for m, n in sorted(counts.items())) or "nothing new"
    out.print(f"imported {len(fresh)} observation(s) for {pilot_id} ({detail})", highlight=False)
    _say_refreshed(refreshed)
    if len(rows) > len(fresh):
        err.print(
            f"skipped {len(rows) - len(fresh)} row(s) already recorded (same metric, "
            "time and value)",
            highlight=False,
        )


@metric_app.command("show")
def show(
    pilot_id: Annotated[str, typer.Argument(help="Pilot id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Each success metric against its target, as a readiness review would judge it now."""
    # Deferred: SQLAlchemy and pydantic load when a command runs, not for `pilotgate --help`.
    from lifecycle.evidence import readiness_evidence
    from store import metrics, pilots

    rt = runtime()
    with guarded(), rt.db.session() as session:
        pilot = pilots.get_pilot(session, pilot_id)
        evidence = readiness_evidence(
            pilots.proposal_of(pilot),
            metrics.observations_of(session, pilot.id),
            rt.policy.evidence,
            utcnow(),
        ).to_dict()
    if as_json:
        sys.stdout.write(json.dumps(evidence, indent=2) + "\n")
        return
    table = Table("metric", "baseline", "target", "now", "status", "how")
    for m in evidence["metrics"]:
        table.add_row(
            m["name"],
            f"{m['baseline']:g} {m['unit']}",
            f"{m['target']:g}",
            "-" if m["current"] is None else f"{m['current']:g}",
            m["status"],
            m["how"],
        )
    out.print(table)
    criteria = Table("criterion", "status", "detail")
    for c in evidence["criteria"]:
        criteria.add_row(c["name"], c["status"], c["detail"])
    out.print(criteria)


def report(
    html: Annotated[
        Path | None,
        typer.Option("--html", help="Write the report as one self-contained HTML file."),
    ] = None,
    markdown: Annotated[
        Path | None, typer.Option("--markdown", help="Write the report as Markdown.")
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print the report's figures as JSON instead of the summary."),
    ] = False,
) -> None:
    """The portfolio report: funnel, caps, ages, stage times, gate lead times, value. People
    are shown by name; each pilot links to its page when PILOTGATE_BASE_URL is set."""
    # Deferred: SQLAlchemy and pydantic load when a command runs, not for `pilotgate --help`.
    from config.links import given_base_url
    from lifecycle.errors import InputError

    # Deferred: the report (jinja2, charts; ~0.05 s) loads for this command only, not for
    # every `pilotgate` start.
    from pilotgate import report as portfolio
    from store import people

    rt = runtime()
    with guarded(), rt.db.session() as session:
        data = portfolio.build_report(session, rt.policy, utcnow())
        shown = {r.approver for r in data.approvers} | {t.by for t in data.terminations if t.by}
        names = people.names(session, rt.policy, shown)
    base_url = given_base_url(rt.settings)
    with guarded():
        for flag, path, write in (
            (
                "--html",
                html,
                lambda p: portfolio.write_html(p, data, names=names, base_url=base_url),
            ),
            (
                "--markdown",
                markdown,
                lambda p: p.write_text(
                    portfolio.render_markdown(data, names=names, base_url=base_url),
                    encoding="utf-8",
                ),
            ),
        ):
            if path is None:
                continue
            try:
                write(path)
            except OSError as exc:
                raise InputError(flag, [f"cannot write {path} ({exc.strerror})"]) from None
    if as_json:
        sys.stdout.write(json.dumps(data.as_dict(), indent=2) + "\n")
    else:
        portfolio.print_summary(data, out)
    for label, path in (("HTML", html), ("Markdown", markdown)):
        if path is not None:
            err.print(f"{label} report written to {path.resolve()}", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(metric_app, name="metric")
    app.command()(report)
