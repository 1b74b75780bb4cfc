"""`pilotgate delegate` and `pilotgate reassign`: people standing in for people.

    pilotgate delegate U0PMO0001 --to U0PMO0002 --from 2026-12-01 --until 2026-12-15 \\
        --reason "annual leave" [--json]
    pilotgate delegate list [--json]
    pilotgate delegate revoke 3 [--json]
    pilotgate reassign 42 --to U0ARC0002 --reason "Sam is on a project" [--json]

`delegate` takes its first argument as the approver, or as `list` / `revoke` (Slack user ids
start with U or W, so the words cannot be mistaken for one). Everything is validated before
anything is written; a refusal names the flag, why, and what is allowed, and changes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from config.clock import utcnow
from pilotgate.console import JsonFlag, emit_json, guarded, out, runtime

if TYPE_CHECKING:
    from store.models import Delegation
    from store.people import Names
    from tasks.people import HandOver, Kept

ACTOR = "cli"


def parse_time(flag: str, value: str) -> datetime:
    """ISO 8601; a time without an offset is UTC (as `--now` of `sweep`)."""
    # Deferred: SQLAlchemy and pydantic load when a command runs, not for `pilotgate --help`.
    from lifecycle.errors import InputError

    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InputError(
            flag, [f"{value!r} is not an ISO time (e.g. 2026-12-01T09:00:00Z or 2026-12-01)"]
        ) from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def delegation_row(row: Delegation, now: datetime) -> dict[str, Any]:
    if row.revoked_at is not None:
        state = "revoked"
    elif row.ends_at <= now:
        state = "over"
    elif row.starts_at > now:
        state = "upcoming"
    else:
        state = "active"
    return {
        "id": row.id,
        "approver": row.approver,
        "delegate": row.delegate,
        "starts_at": row.starts_at.isoformat(),
        "ends_at": row.ends_at.isoformat(),
        "reason": row.reason,
        "state": state,
        "created_by": row.created_by,
        "created_at": row.created_at.isoformat(),
        "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
        "revoked_by": row.revoked_by,
    }


def handover_row(h: HandOver) -> dict[str, Any]:
    return {
        "request_id": h.request_id,
        "new_request_id": h.new_request_id,
        "pilot_id": h.pilot_id,
        "gate_id": h.gate_id,
        "role": h.role,
        "from": h.from_approver,
        "to": h.to,
        "on_behalf_of": h.on_behalf_of,
    }


def kept_row(k: Kept) -> dict[str, Any]:
    return {"request_id": k.request_id, "pilot_id": k.pilot_id, "reason": k.reason}


def _print_handovers(handed: list[HandOver], kept: list[Kept], names: Names) -> None:
    for h in handed:
        out.print(
            escape(
                f"  request {h.request_id} ({h.pilot_id}, {h.role}) re-asked of "
                f"{names.label(h.to)} on behalf of {names.label(h.on_behalf_of)} as request "
                f"{h.new_request_id}"
            ),
            highlight=False,
        )
    for k in kept:
        out.print(
            escape(f"  request {k.request_id} ({k.pilot_id}) stays with the approver: {k.reason}"),
            highlight=False,
        )


def _list(as_json: bool) -> None:
    # Deferred: SQLAlchemy and pydantic load when a command runs, not for `pilotgate --help`.
    from store import delegations
    from store.people import names as names_of

    rt = runtime()
    now = utcnow()
    with guarded(), rt.db.session() as session:
        rows = [delegation_row(r, now) for r in delegations.list_all(session)]
        names = names_of(session, rt.policy, {r[k] for r in rows for k in ("approver", "delegate")})
    if as_json:
        emit_json(rows)
        return
    if not rows:
        out.print("no delegations")
        return
    table = Table("id", "approver", "delegate", "from", "until", "state", "reason")
    for r in rows:
        table.add_row(
            str(r["id"]),
            escape(names.label(r["approver"])),
            escape(names.label(r["delegate"])),
            r["starts_at"][:16],
            r["ends_at"][:16],
            r["state"],
            escape(r["reason"]),
        )
    out.print(table)


def _revoke(value: str | None, as_json: bool) -> None:
    # Deferred: SQLAlchemy and pydantic load when a command runs, not for `pilotgate --help`.
    from lifecycle.errors import InputError
    from store.people import names as names_of

    with guarded():
        if value is None or not value.strip().isdigit():
            raise InputError(
                "ID", [f"{value!r} is not a delegation id (a number, see `delegate list`)"]
            )
    assert value is not None
    rt = runtime()
    now = utcnow()
    with guarded(), rt.db.session() as session:
        # Deferred: tasks.people brings slack_out (and slack_sdk), which `delegate list` and
        # the commands importing parse_time never need.
        from tasks import people

        row = people.revoke_delegation(session, int(value), actor=ACTOR, now=now)
        data = delegation_row(row, now)
        names = names_of(session, rt.policy, {row.approver})
    if as_json:
        emit_json(data)
        return
    out.print(
        escape(
            f"delegation {data['id']} revoked: {names.label(data['approver'])} is asked again "
            "from now on"
        ),
        highlight=False,
    )


def delegate(
    target: Annotated[
        str,
        typer.Argument(
            help="The approver who is away (a Slack user id, U...), or `list`, or `revoke`."
        ),
    ],
    delegation_id: Annotated[
        str | None, typer.Argument(help="With `revoke`: the delegation id.", show_default=False)
    ] = None,
    to: Annotated[str | None, typer.Option("--to", help="The delegate (a Slack user id).")] = None,
    start: Annotated[
        str | None,
        typer.Option("--from", help="Start of the absence (ISO 8601, UTC if no offset)."),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option("--until", help="End of the absence (ISO 8601, UTC if no offset)."),
    ] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Why (goes on record).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Set an out-of-office delegate (`delegate U... --to U... --from T --until T --reason R`),
    or `delegate list`, or `delegate revoke ID`. Open requests of the approver are re-asked of
    the delegate when the period is in force; requests made in the period go to the delegate."""
    # Deferred: SQLAlchemy and pydantic load when a command runs, not for `pilotgate --help`.
    from lifecycle.errors import InputError
    from store.people import names as names_of

    options = {"--to": to, "--from": start, "--until": until, "--reason": reason}
    if target in ("list", "revoke"):
        with guarded():
            given = [flag for flag, value in options.items() if value is not None]
            if given:
                raise InputError(given[0], [f"not used with `delegate {target}` (only --json is)"])
            if target == "list" and delegation_id is not None:
                raise InputError("delegate list", [f"unexpected argument {delegation_id!r}"])
        if target == "list":
            _list(as_json)
        else:
            _revoke(delegation_id, as_json)
        return
    now = utcnow()
    with guarded():
        if delegation_id is not None:
            raise InputError(
                "delegate", [f"unexpected argument {delegation_id!r}; give --to, --from, --until"]
            )
        missing = [flag for flag, value in options.items() if value is None]
        if missing:
            raise InputError(
                "delegate",
                [
                    f"{', '.join(missing)} required (e.g. --to U0PMO0002 --from 2026-12-01 "
                    "--until 2026-12-15 --reason 'annual leave')"
                ],
            )
        assert to is not None and start is not None and until is not None and reason is not None
        starts_at = parse_time("--from", start)
        ends_at = parse_time("--until", until)
    rt = runtime()
    with guarded(), rt.db.session() as session:
        # Deferred: slack_out only for the commands that write (see _revoke).
        from tasks import people

        row, handed, kept = people.create_delegation(
            session,
            rt.policy,
            approver=target,
            delegate=to,
            starts_at=starts_at,
            ends_at=ends_at,
            reason=reason,
            actor=ACTOR,
            now=now,
        )
        data = delegation_row(row, now)
        shown = {row.approver, row.delegate}
        shown.update(x for h in handed for x in (h.to, h.on_behalf_of))
        names = names_of(session, rt.policy, shown)
    if as_json:
        emit_json(
            {
                **data,
                "handed_over": [handover_row(h) for h in handed],
                "kept": [kept_row(k) for k in kept],
            }
        )
        return
    out.print(
        escape(
            f"delegation {data['id']}: {names.label(data['delegate'])} is asked in "
            f"{names.label(data['approver'])}'s "
            f"place from {row.starts_at:%Y-%m-%d %H:%M} to {row.ends_at:%Y-%m-%d %H:%M} UTC "
            f"({data['state']})"
        ),
        highlight=False,
    )
    _print_handovers(handed, kept, names)


def reassign(
    request_id: Annotated[str, typer.Argument(help="The sign-off request id (see `status`).")],
    to: Annotated[str, typer.Option("--to", help="Another member of the request's role.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (goes on record).")],
    as_json: JsonFlag = False,
) -> None:
    """Hand one open sign-off request to another member of the same role (programme office):
    the original's buttons are closed with a note and the new approver is asked."""
    # Deferred: SQLAlchemy and pydantic load when a command runs, not for `pilotgate --help`.
    from lifecycle.errors import InputError
    from store.people import names as names_of

    with guarded():
        if not request_id.strip().isdigit():
            raise InputError("REQUEST_ID", [f"{request_id!r} is not a request id (a number)"])
    rt = runtime()
    now = utcnow()
    with guarded(), rt.db.session() as session:
        # Deferred: slack_out only for the commands that write (see _revoke).
        from tasks import people

        handed = people.reassign(
            session, rt.policy, int(request_id), to=to, reason=reason, actor=ACTOR, now=now
        )
        names = names_of(session, rt.policy, {handed.from_approver, handed.to})
    if as_json:
        emit_json(handover_row(handed))
        return
    out.print(
        escape(
            f"request {handed.request_id} ({handed.pilot_id}, {handed.role}) reassigned from "
            f"{names.label(handed.from_approver)} to {names.label(handed.to)} as request "
            f"{handed.new_request_id}"
        ),
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    app.command("delegate")(delegate)
    app.command("reassign")(reassign)
