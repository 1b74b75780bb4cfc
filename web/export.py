"""Exports of the register, the decisions and the audit log as CSV or JSON (members only).

`/export/pilots.csv` and `/export/decisions.csv` take the portfolio page's filters; the audit
log is exported whole (or `?pilot=ID`), with each row's hashes so the chain can be checked
elsewhere. A CSV cell that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab or CR
first) is prefixed with `'`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from store import read_pages
from web import views
from web.context import NO_STORE, Web, forbidden, message
from web.pages import NOT_A_MEMBER, filter_from
from web.people import directory

KINDS = ("pilots", "decisions", "audit")
FORMATS = ("csv", "json")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        value = json.dumps(value, sort_keys=True, default=str)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def to_csv(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return out.getvalue()


def rows_for(web: Web, kind: str, request: Request) -> tuple[bool, list[dict[str, Any]]]:
    """(is the viewer a member, the rows), read in one transaction."""
    who = web.signed_in(request)
    assert who is not None
    where = filter_from(request)
    with web.runtime.db.session() as session:
        people = directory(session, web.runtime.policy)
        if not people.is_member(who.user_id):
            return False, []
        now = web.clock()
        if kind == "pilots":
            register, _ = views.register_rows(session, where, people, now)
            return True, [r.as_dict() for r in register]
        if kind == "decisions":
            return True, [
                {
                    "decision_id": d.decision_id,
                    "decided_at": d.decided_at.isoformat(),
                    "pilot_id": d.pilot_id,
                    "title": d.title,
                    "portfolio": d.portfolio,
                    "gate_id": d.gate_id,
                    "gate": f"{d.stage} -> {d.target}",
                    "gate_status": d.gate_status,
                    "approver": people.name(d.approver),
                    "approver_slack_id": d.approver,
                    "role": d.role,
                    "verdict": d.verdict,
                    "reason": d.reason,
                    "source": d.source,
                }
                for d in read_pages.decisions(session, where)
            ]
        pilot_id = request.query_params.get("pilot") or None
        return True, [
            {
                "id": e.id,
                "at": e.at.isoformat(),
                "actor": e.actor,
                "action": e.action,
                "pilot_id": e.pilot_id,
                "data": e.data,
                "prev_hash": e.prev_hash,
                "hash": e.hash,
            }
            for e in read_pages.audit_entries(session, pilot_id)
        ]


COLUMNS = {
    "pilots": (
        "id",
        "title",
        "portfolio",
        "stage",
        "risk_tier",
        "customer_facing",
        "business_owner",
        "business_owner_slack_id",
        "created_at",
        "deploy_by",
        "days_to_deploy_by",
        "open_gate",
        "gate_deadline",
        "waiting_for",
        "ended_at",
        "end_reason",
    ),
    "decisions": (
        "decision_id",
        "decided_at",
        "pilot_id",
        "title",
        "portfolio",
        "gate_id",
        "gate",
        "gate_status",
        "approver",
        "approver_slack_id",
        "role",
        "verdict",
        "reason",
        "source",
    ),
    "audit": ("id", "at", "actor", "action", "pilot_id", "data", "prev_hash", "hash"),
}


async def export(request: Request) -> Response:
    web: Web = request.app.state.web
    who = web.signed_in(request)
    if who is None:
        return web.to_signin(request)
    kind, _, fmt = request.path_params["name"].partition(".")
    if kind not in KINDS or fmt not in FORMATS:
        return message(
            404,
            "No such export",
            "Exports: pilots, decisions, audit; as .csv or .json.",
            who=who,
            member=True,
            back="/",
        )
    member, rows = await run_in_threadpool(rows_for, web, kind, request)
    if not member:
        return forbidden(NOT_A_MEMBER, who)
    stamp = f"{web.clock():%Y%m%dT%H%M}"
    headers = {
        **NO_STORE,
        "Content-Disposition": f'attachment; filename="pilotgate-{kind}-{stamp}.{fmt}"',
    }
    if fmt == "json":
        body = json.dumps(rows, indent=2, default=str)
        return Response(body, media_type="application/json", headers=headers)
    return Response(
        to_csv(rows, COLUMNS[kind]), media_type="text/csv; charset=utf-8", headers=headers
    )
