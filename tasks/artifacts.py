"""Prefect artifacts: a gate's report (markdown) and the sweep's report (table).

* `publish_gate_report(gate_id, event)`: when a gate opens, is extended or escalated, settles
  or is cancelled, the pilot's markdown artifact `gate-<pilot id>` gets a new version: who was
  asked, the quorum per role, the evidence summary, the outcome and its reason. The latest
  version is the pilot's current (or last) gate; earlier versions are its history.
* `publish_sweep_report(rows, ...)`: the table artifact `sweep-report` (`sweep-dry-run` for a
  dry run) lists what a sweep did: deadline actions, terminations, reminders, re-queued gates.

The gate report is a jinja2 template, `tasks/templates/gate_report.md.j2`, shipped inside the
package (pyproject's `[tool.setuptools.package-data] "*"` covers `*.j2` and `templates/*`), as
Slack's messages (slack_out/templates) and the HTML report are: the document's layout is
read and edited as a document, and the data it is given is built and tested here. Every piece
of text from people or the register (titles, reasons, criteria, names) goes through the `md`
filter: one line (newlines would end a table row), markdown punctuation backslash-escaped
(`|` would split a cell, `*`, `_`, `[` would restyle or link) and `&`, `<`, `>` as entities, so
raw HTML in a title shows as text. The sweep's table is data, not markdown (Prefect renders its
cells as text); its cells are only kept to one line.

Publishing is a convenience, never a step that can fail a run: any error (the Prefect API, a
template, the database) is logged as a warning and the run carries on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from sqlalchemy.orm import Session

from config.clock import utcnow
from config.names import ArtifactKeys
from lifecycle.gates import Verdict
from lifecycle.outcomes import on_deadline
from lifecycle.stages import Stage, stage_label
from store import gates, pilots
from tasks.logs import run_logger
from tasks.runtime import get_runtime

TEMPLATES = Path(__file__).resolve().parent / "templates"

#: the events a gate report is published for, and its heading.
EVENTS = {
    "opened": "Gate opened",
    "extended": "Deadline extended",
    "escalated": "Gate escalated",
    "settled": "Gate settled",
    "cancelled": "Gate cancelled",
}

_MD_PUNCTUATION = re.compile(r"([\\`*_\[\]|~#])")


#: how a gate report words a decision.
_ANSWERED = {Verdict.APPROVE: "approved", Verdict.ADJUST: "adjusted", Verdict.REJECT: "rejected"}


def md(value: object) -> str:
    """Text safe inside a markdown line and a table cell: one line, punctuation escaped, HTML
    shown as text. `Pipe | <b>x</b>` + newline + `new line` ->
    `Pipe \\| &lt;b&gt;x&lt;/b&gt; new line`."""
    text = " ".join(("" if value is None else str(value)).split())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_PUNCTUATION.sub(r"\\\1", text)


def _num(value: float | int | None) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{value:,}"


def _when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC" if value else "n/a"


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        undefined=StrictUndefined,
        autoescape=False,  # markdown, not HTML: `md` escapes what people wrote
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md"] = md
    env.filters["num"] = _num
    env.filters["when"] = _when
    return env


def render_gate_report(context: Mapping[str, Any]) -> str:
    text = environment().get_template("gate_report.md.j2").render(**context)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def gate_report_context(
    session: Session, gate_id: int, *, event: str, outcome: str, now: datetime
) -> dict[str, Any]:
    """Everything the gate report shows, read from the register (no writes)."""
    rt = get_runtime()
    gate = gates.get_gate(session, gate_id)
    pilot = pilots.get_pilot(session, gate.pilot_id)
    evaluation = gates.evaluate(session, gate, min(now, gate.resolved_at or now))
    decided = {d.request_id: d for d in gates.decisions_for(session, gate.id)}
    asked = []
    for request in gates.requests_for(session, gate.id):
        decision = decided.get(request.id)
        answer = "waiting"
        if decision is not None:
            answer = _ANSWERED.get(Verdict(decision.verdict), "rejected")
        elif gate.status != "open":
            answer = "not answered"
        asked.append(
            {
                "approver": request.approver,
                "role": request.role,
                "round": request.round,
                "asked_at": request.asked_at,
                "answer": answer,
                "decided_at": decision.decided_at if decision else None,
                "reason": (decision.reason or "") if decision else "",
            }
        )
    quorum = [
        {
            "role": role,
            "needed": needed,
            "approved": evaluation.approvals.get(role, []),
            "missing": evaluation.missing.get(role, 0),
        }
        for role, needed in dict(gate.quorum).items()
    ]
    missing = [f"{role} {n}" for role, n in evaluation.missing.items() if n]
    quorum_summary = f"quorum missing: {', '.join(missing)}" if missing else "quorum reached"
    rule = rt.policy.gate(Stage(gate.stage)).on_timeout
    on_timeout = on_deadline(
        rule,
        deadline=gate.deadline,
        now=gate.deadline + timedelta(seconds=1),
        extended=gate.extended_at is not None,
        escalated=gate.escalated_at is not None,
    )
    if gate.status != "open":
        outcome = "; ".join(p for p in (gate.outcome_reason or "", outcome) if p) or gate.status
    return {
        "title": EVENTS.get(event, event),
        "event": event,
        "pilot": {
            "id": pilot.id,
            "title": pilot.title,
            "portfolio": pilot.portfolio,
            "stage": stage_label(pilot.stage),
        },
        "gate": {
            "id": gate.id,
            "stage_label": stage_label(gate.stage),
            "target_label": stage_label(gate.target),
            "status": str(gate.status),
            "opened_at": gate.opened_at,
            "deadline": gate.deadline,
            "extended_at": gate.extended_at,
            "escalated_at": gate.escalated_at,
            "escalation_role": gate.escalation_role,
            "resolved_at": gate.resolved_at,
            "on_timeout": on_timeout.describe(),
        },
        "asked": asked,
        "quorum": quorum,
        "quorum_summary": quorum_summary,
        "evidence": gate.evidence or None,
        "outcome": outcome if gate.status != "open" else "",
    }


def _brief(exc: BaseException) -> str:
    """An error in one line, without the parameters SQLAlchemy would append."""
    text = " ".join(str(exc).split("[SQL:")[0].split())
    return f"{type(exc).__name__}: {text[:300]}"


def publish_gate_report(
    gate_id: int, event: str, *, outcome: str = "", now: datetime | None = None
) -> str | None:
    """Publish the gate's report as a new version of `gate-<pilot id>`; the key, or None if it
    could not be published (logged as a warning; the run goes on)."""
    logger = run_logger()
    try:
        with get_runtime().db.session() as session:
            context = gate_report_context(
                session, gate_id, event=event, outcome=outcome, now=now or utcnow()
            )
        key = ArtifactKeys.gate(context["pilot"]["id"])
        gate = context["gate"]
        create_markdown_artifact(
            markdown=render_gate_report(context),
            key=key,
            description=(
                f"{context['title']}: gate {gate['id']} {gate['stage_label']} -> "
                f"{gate['target_label']} of {context['pilot']['id']}, {gate['status']}"
            ),
        )
    except Exception as exc:
        logger.warning("gate %s: could not publish its report: %s", gate_id, _brief(exc))
        return None
    logger.info("gate %s: report published as artifact %s (%s)", gate_id, key, event)
    return key


def _cell(value: object) -> str:
    return " ".join(("" if value is None else str(value)).split())


def publish_sweep_report(
    rows: Sequence[Mapping[str, object]], *, now: datetime, dry_run: bool = False
) -> str | None:
    """Publish the sweep's table: one row per thing it did (or, dry, would do). None if it could
    not be published (logged as a warning; the sweep goes on)."""
    logger = run_logger()
    key = ArtifactKeys.SWEEP_DRY_RUN if dry_run else ArtifactKeys.SWEEP_REPORT
    table = [
        {c: _cell(row.get(c, "")) for c in ("action", "pilot", "gate", "detail")} for row in rows
    ] or [{"action": "none", "pilot": "", "gate": "", "detail": "nothing was due"}]
    try:
        create_table_artifact(
            table=table,
            key=key,
            description=(
                f"{'Dry run: what a sweep would do' if dry_run else 'What the sweep did'} "
                f"as of {now:%Y-%m-%d %H:%M} UTC: {len(rows)} item(s)"
            ),
        )
    except Exception as exc:
        logger.warning("could not publish the sweep report: %s", _brief(exc))
        return None
    logger.info("sweep report published as artifact %s (%d row(s))", key, len(rows))
    return key
