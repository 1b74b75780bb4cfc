"""`pilotgate criteria` and `pilotgate confirm`: readiness criteria confirmed, not declared.

    pilotgate criteria pg-1a2b3c4d [--json]
    pilotgate confirm pg-1a2b3c4d technical.1 --by U0ARC0001 --link https://wiki/latency [--json]
    pilotgate confirm pg-1a2b3c4d required.impact_assessment --by U0CMP0001 --note "signed off"

Which criteria need confirming, and by whom, is policy (`evidence.confirm_by`, and a risk
tier's `required_evidence`). A refusal names the argument, why, and who may confirm; it
changes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from config.clock import utcnow
from lifecycle.stages import ACTIVE, Stage
from pilotgate.console import JsonFlag, emit_json, guarded, out, runtime
from store.errors import Conflict

if TYPE_CHECKING:
    from lifecycle.confirmations import CriterionStatus

ACTOR = "cli"


def _row(state: CriterionStatus) -> dict[str, Any]:
    c = state.confirmation
    return {
        "key": state.criterion.key,
        "text": state.criterion.text,
        "confirmed_by_role": state.criterion.role,
        "required": state.criterion.required,
        "checked_before_leaving": state.criterion.before.value,
        "status": "confirmed" if c else "not confirmed",
        "confirmation": None
        if c is None
        else {
            "by": c.confirmed_by,
            "role": c.role,
            "at": c.confirmed_at.isoformat(),
            "note": c.note,
            "link": c.link,
        },
    }


def criteria(
    pilot_id: Annotated[str, typer.Argument(help="Pilot id (pg-...).")],
    as_json: JsonFlag = False,
) -> None:
    """List a pilot's criteria to confirm, who confirms each, and whether they have."""
    # Deferred: SQLAlchemy and pydantic load when a command runs, not for `pilotgate --help`.
    from lifecycle.confirmations import criteria_of, statuses
    from store import confirmations, pilots

    rt = runtime()
    with guarded(), rt.db.session() as session:
        pilot = pilots.get_pilot(session, pilot_id)
        proposal = pilots.proposal_of(pilot)
        found = statuses(
            criteria_of(rt.policy, proposal), confirmations.confirmations_of(session, pilot.id)
        )
    rows = [_row(s) for s in found]
    if as_json:
        emit_json({"pilot_id": pilot_id, "criteria": rows})
        return
    if not rows:
        out.print(f"{pilot_id}: the policy asks no criterion confirmations of this pilot")
        return
    table = Table("criterion", "what", "confirmed by", "status")
    for row in rows:
        c = row["confirmation"]
        status = (
            f"confirmed by {c['by']} {c['at'][:10]}" + (f": {c['link'] or c['note']}")
            if c
            else ("NOT CONFIRMED (blocks)" if row["required"] else "not confirmed")
        )
        table.add_row(
            escape(row["key"]), escape(row["text"]), row["confirmed_by_role"], escape(status)
        )
    out.print(table)


def confirm(
    pilot_id: Annotated[str, typer.Argument(help="Pilot id (pg-...).")],
    criterion: Annotated[
        str, typer.Argument(help="Criterion key, e.g. technical.1 (see `pilotgate criteria`).")
    ],
    by: Annotated[str, typer.Option("--by", help="Slack user id of the person confirming.")],
    note: Annotated[str | None, typer.Option("--note", help="How it was confirmed.")] = None,
    link: Annotated[str | None, typer.Option("--link", help="Link to the evidence.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Record that a named person confirmed one criterion of a pilot (with a link or a note)."""
    # Deferred: SQLAlchemy and pydantic load when a command runs, not for `pilotgate --help`.
    from lifecycle.confirmations import criteria_of, refusal
    from lifecycle.errors import InputError
    from store import confirmations, pilots

    rt = runtime()
    now = utcnow()
    with guarded(), rt.db.session() as session:
        pilot = pilots.get_pilot(session, pilot_id)
        if Stage(pilot.stage) not in ACTIVE:
            raise Conflict(f"pilot {pilot.id} is {pilot.stage}; its criteria are closed")
        proposal = pilots.proposal_of(pilot)
        known = criteria_of(rt.policy, proposal)
        refused = refusal(rt.policy, proposal, known, criterion, by, note, link)
        if refused is not None:
            raise InputError(refused[0], [refused[1]])
        role = next(c.role for c in known if c.key == criterion)
        row = confirmations.record(
            session,
            pilot.id,
            criterion=criterion,
            confirmed_by=by,
            role=role,
            note=note.strip() if note else None,
            link=link,
            now=now,
            actor=ACTOR,
        )
        result = {
            "pilot_id": pilot.id,
            "criterion": criterion,
            "confirmed_by": by,
            "role": role,
            "confirmation_id": row.id,
            "at": now.isoformat(),
        }
    if as_json:
        emit_json(result)
        return
    out.print(f"confirmed {escape(criterion)} of {pilot_id} by {by} ({role})", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("criteria")(criteria)
    app.command("confirm")(confirm)
