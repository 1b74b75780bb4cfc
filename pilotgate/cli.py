"""`pilotgate`: the command line for programme managers.

Exit codes: 0 done; 1 a check failed (audit chain); 2 bad input (file, flag, field); 3 no such
pilot; 4 not allowed in the pilot's current state (cap reached, gate already open, ...);
5 the database is unreachable.
Errors go to stderr and change nothing.

`pilotgate --help` builds the whole command tree, so this module and the command modules it
registers import only typer, rich and light modules at the top; what a command needs
(SQLAlchemy, pydantic, the policy) it imports when it runs, under `# Deferred:`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Column, Table
from rich.text import Text

from config.clock import utcnow
from lifecycle.stages import parse_stage
from pilotgate import (
    __version__,
    commands,
    criteria_cli,
    metrics_cli,
    people_cli,
    policy_cli,
    value_cli,
)
from pilotgate.console import (
    EXIT_CHECK_FAILED,
    JsonFlag,
    emit_json,
    err,
    fail,
    guarded,
    out,
    runtime,
    settings,
)
from store.errors import Conflict

app = typer.Typer(
    help="Move AI pilots to production or shut them down, on time, on record.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="The pilotgate database.", no_args_is_help=True)
policy_app = typer.Typer(help="Governance policy files.", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)


def _version(value: bool) -> None:
    if value:
        out.print(f"pilotgate {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Move AI pilots to production or shut them down, on time, on record."""


app.add_typer(db_app, name="db")
app.add_typer(policy_app, name="policy")
app.add_typer(audit_app, name="audit")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the schema at PILOTGATE_DATABASE_URL."""
    # Deferred: SQLAlchemy and Alembic load when the command runs (see the module docstring).
    from store.db import missing_sqlite_file, redact_url
    from store.migrate import current, upgrade

    with guarded():
        url = settings().database_url
    where = redact_url(url)
    with guarded():
        before = None if missing_sqlite_file(url) else current(url)
        upgrade(url)
        after = current(url)
    if before is None:
        out.print(f"created the pilotgate schema (revision {after}) at {where}")
    elif before != after:
        out.print(f"migrated {where} from revision {before} to {after}")
    else:
        out.print(f"database at {where} is already up to date (revision {after})")


@policy_app.command("check")
def policy_check(
    file: Annotated[Path, typer.Argument(help="Policy YAML file.")],
    slack: Annotated[
        bool,
        typer.Option(
            "--slack",
            help="Also ask Slack (SLACK_BOT_TOKEN) that the token works and the bot can post "
            "to the digest channel.",
        ),
    ] = False,
) -> None:
    """Validate a policy file: roles, gates, quorums, risk-tier rules."""
    # Deferred: the policy's pydantic models load when the command runs.
    from lifecycle.policy import load_policy
    from lifecycle.policy_versions import review_line, stamp, tier_lines

    with guarded():
        policy = load_policy(file)
    table = Table("gate", "approvers (quorum)", "deadline", "on timeout", "on reject")
    for stage, gate in policy.gates.items():
        timeout = (
            gate.on_timeout.action
            + (f" -> {gate.on_timeout.to_role}" if gate.on_timeout.to_role else "")
            + (f" (+{gate.on_timeout.days}d)" if gate.on_timeout.days else "")
        )
        table.add_row(
            stage.value,
            ", ".join(f"{r} {n}" for r, n in gate.approvers.items()),
            f"{gate.deadline_days}d",
            timeout,
            gate.on_reject,
        )
    out.print(table)
    for line in tier_lines(policy):
        out.print(escape(line), highlight=False)
    if policy.value.review is not None:
        out.print(escape(review_line(policy.value.review)), highlight=False)
    out.print(
        f"{file}: ok, policy {stamp(policy)} ({len(policy.roles)} roles, "
        f"{len(policy.gates)} gates, cap "
        f"{policy.portfolio.max_active_pilots} active pilots per portfolio, deploy or "
        f"terminate within {policy.portfolio.deploy_or_terminate_days} days)"
    )
    if slack:
        _check_slack(policy.portfolio.digest_channel)


def _check_slack(channel: str | None) -> None:
    """`policy check --slack`: the token works (`auth.test`) and the bot is a member of the
    digest channel; a bot never invited there would fail every digest with not_in_channel."""
    cfg = settings()
    if cfg.slack_bot_token is None:
        fail("--slack needs SLACK_BOT_TOKEN (the app's bot token, xoxb-...)", 2)
    # Deferred: slack_sdk loads only when a check talks to Slack.
    from slack_out import preflight
    from slack_out.client import make_client

    client = make_client(cfg, retries=0)
    checks = [preflight.check_token(client)]
    if checks[0].ok and channel is not None:
        checks.append(preflight.check_channel(client, channel))
    for found in checks:
        (out if found.ok else err).print(escape(found.message), highlight=False)
    if not all(found.ok for found in checks):
        raise typer.Exit(EXIT_CHECK_FAILED)


@app.command()
def propose(
    file: Annotated[Path, typer.Argument(help="Proposal YAML file.")],
    allow_duplicate: Annotated[
        bool,
        typer.Option(
            "--allow-duplicate",
            help="Record it even if a pilot with the same title is in the same portfolio.",
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Validate a proposal, enforce the portfolio cap, record it and print its id."""
    # Deferred: pydantic and SQLAlchemy load when the command runs.
    from lifecycle.errors import InputError
    from lifecycle.gates import check_satisfiable
    from lifecycle.proposal import load_proposal
    from store import pilots

    with guarded():
        proposal = load_proposal(file)  # a bad file is reported before anything else
    rt = runtime()
    with guarded():
        proposal.check_against(rt.policy, str(file))
        unsatisfiable = check_satisfiable(rt.policy, proposal)
        if unsatisfiable:
            raise InputError(str(file), unsatisfiable)
        with rt.db.session() as session:
            twin = pilots.same_title(session, proposal.portfolio, proposal.title)
            if twin is not None and not allow_duplicate:
                raise Conflict(
                    f"{twin.id} already has the title {proposal.title!r} in portfolio "
                    f"{proposal.portfolio} ({twin.stage}); pass --allow-duplicate if this is "
                    "really a second pilot"
                )
            now = utcnow()
            pilot = pilots.create_pilot(session, proposal, rt.policy, actor="cli", now=now)
            # Deferred: the Home's Block Kit (slack_sdk) loads only when something is recorded.
            from tasks import home

            # The proposer's and owner's Homes list it from now on, like a Slack proposal.
            home.refresh_pilot(session, pilot.id, now, policy=rt.policy)
            pilot_id = pilot.id
    if as_json:
        emit_json({"id": pilot_id, "title": proposal.title, "stage": "proposal"})
    else:
        out.print(pilot_id)
        err.print(
            f"recorded {proposal.title!r} in portfolio {proposal.portfolio}; next: "
            f"pilotgate advance {pilot_id}",
            highlight=False,
        )


@app.command("list")
def list_cmd(
    stage: Annotated[str | None, typer.Option(help="Only pilots in this stage.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """List pilots with their stage, open gate and deploy-or-terminate date."""
    # Deferred: SQLAlchemy and the policy load when the command runs.
    from lifecycle.errors import InputError
    from pilotgate.views import pilot_row
    from store import people, pilots

    rt = runtime()
    with guarded():
        try:
            wanted = parse_stage(stage) if stage else None
        except ValueError as exc:
            raise InputError("--stage", [str(exc)]) from None
        now = utcnow()
        with rt.db.session() as session:
            found = pilots.list_pilots(session, wanted)
            names = people.names(session, rt.policy, {p.business_owner for p in found})
            rows = [pilot_row(p, session, now, names) for p in found]
    if as_json:
        emit_json(rows)
        return
    table = Table("title", "portfolio", "owner", "stage", "open gate", "gate deadline", "deploy by")
    # Ids are what people copy into the next command: never wrapped, never cut.
    table.columns.insert(0, Column("id", no_wrap=True, min_width=11, overflow="ignore"))
    for r in rows:
        table.add_row(
            r["id"],
            Text(r["title"]),
            Text(r["portfolio"]),
            Text(people.label(r["owner"]["name"], r["owner"]["slack_id"])),
            r["stage"],
            r["open_gate"] or "-",
            (r["gate_deadline"] or "-")[:16],
            (r["deploy_by"] or "-")[:10],
        )
    out.print(table)
    out.print(f"{len(rows)} pilot(s)")


@app.command()
def status(
    pilot_id: Annotated[str, typer.Argument(help="Pilot id, e.g. pg-1a2b3c4d.")],
    as_json: JsonFlag = False,
) -> None:
    """Show a pilot: stage, open gate, who has and has not answered, deadlines."""
    # Deferred: SQLAlchemy and the policy load when the command runs.
    from pilotgate.views import pilot_status
    from store import installation, people

    rt = runtime()
    with guarded(), rt.db.session() as session:
        data = pilot_status(session, pilot_id, rt.policy, utcnow())
        paused = installation.current(session)
        # An installation-wide Slack failure holds every message; say so before anything else.
        data["slack"] = (
            {"state": "paused", "error": paused.error, "since": paused.since.isoformat()}
            | {"detail": paused.detail}
            if paused
            else {"state": "ok"}
        )
    if as_json:
        emit_json(data)
        return
    if paused:
        err.print(
            f"[bold red]Slack sending is paused[/] since {data['slack']['since'][:16]} UTC "
            f"({escape(paused.error)}): nothing reaches Slack until it is fixed; queued messages "
            f"are kept and sent then. {escape(paused.detail or '')}",
            highlight=False,
        )
    out.print(
        f"[bold]{escape(data['title'])}[/] ({data['id']}), portfolio {data['portfolio']}, "
        f"risk {data['risk_tier']}"
    )
    out.print(f"page: {data['url']}", highlight=False, markup=False)
    out.print(
        f"stage: [bold]{data['stage']}[/]"
        + (
            f"  ended {data['ended_at'][:16]}: {escape(data['end_reason'] or '')}"
            if data["ended_at"]
            else ""
        )
    )
    if data["deploy_by"]:
        left = data["days_to_deploy_by"]
        out.print(
            f"deploy or terminate by {data['deploy_by'][:10]}"
            + (f" ({left} days left)" if left is not None else "")
        )
    gate = data["gate"]
    if gate:
        out.print(
            f"open gate: {gate['stage']} -> {gate['target']}, deadline "
            f"{gate['deadline'][:16]} UTC ({gate['days_left']} days left)"
            + (" [escalated]" if gate["escalated"] else "")
            + (" [extended]" if gate["extended"] else "")
            + (f", under policy {escape(gate['policy'])}" if gate["policy"] else "")
        )
        table = Table("approver", "role", "answer", "when", "reason")
        for r in gate["requests"]:
            table.add_row(
                Text(people.label(r["approver_name"], r["approver"])),
                r["role"] + (" (escalation)" if r["round"] else ""),
                (r["answer"] or "not answered") + " (superseded, does not count)"
                if r["superseded"]
                else r["answer"] or "waiting",
                (r["answered_at"] or "")[:16],
                Text(r["reason"] or ""),
            )
        out.print(table)
    else:
        out.print("no open gate")
    history = Table("when", "from", "to", "by", "reason", title="history")
    for h in data["history"]:
        history.add_row(
            h["at"][:16],
            h["from"] or "-",
            h["to"],
            Text(people.label(h["actor_name"], h["actor"])),
            Text(h["reason"]),
        )
    out.print(history)


@app.command("set-operations-owner")
def set_operations_owner(
    pilot_id: Annotated[str, typer.Argument(help="Pilot id.")],
    name: Annotated[str, typer.Argument(help="The operations owner's name.")],
    slack_id: Annotated[str, typer.Argument(help="Their Slack user id (U...).")],
) -> None:
    """Name the operations owner who takes over in production (required before customers)."""
    # Deferred: pydantic and SQLAlchemy load when the command runs.
    from pydantic import ValidationError

    from lifecycle.errors import InputError, describe
    from store import pilots

    rt = runtime()
    with guarded():
        try:
            with rt.db.session() as session:
                pilots.set_operations_owner(
                    session, pilot_id, name=name, slack_id=slack_id, actor="cli", now=utcnow()
                )
        except ValidationError as exc:
            raise InputError("operations owner", describe(exc)) from None
    out.print(f"{pilot_id}: operations owner is now {name} ({slack_id})")


@audit_app.command("verify")
def audit_verify(
    expect: Annotated[
        str | None,
        typer.Option(
            "--expect",
            help="A head published earlier (ROWS:HASH, as this command and the digest print "
            "it): fail if the chain no longer holds that row with that hash.",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Check the audit chain and the register against it (decisions, stage history, stages);
    exit 1 and name what was altered. Prints the head to record outside the database."""
    # Deferred: SQLAlchemy loads when the command runs.
    from lifecycle.errors import InputError
    from store import audit

    with guarded():
        try:
            anchor = audit.Anchor.parse(expect) if expect is not None else None
        except ValueError as exc:
            raise InputError("--expect", [str(exc)]) from None
    rt = runtime()
    with guarded(), rt.db.session() as session:
        report = audit.verify(session, expect=anchor)
    if as_json:
        emit_json(
            {
                "ok": report.ok,
                "rows": report.rows,
                "head": str(report.head) if report.head else None,
                "first_bad_id": report.first_bad_id,
                "problem": report.problem,
            }
        )
        if not report.ok:
            raise typer.Exit(EXIT_CHECK_FAILED)
        return
    if not report.ok:
        if report.first_bad_id is not None:
            fail(
                f"audit chain broken at row {report.first_bad_id}: {report.problem}",
                EXIT_CHECK_FAILED,
            )
        fail(f"the register disagrees with the audit log: {report.problem}", EXIT_CHECK_FAILED)
    out.print(
        f"audit chain intact: {report.rows} row(s), and the register agrees with it\n"
        f"head: {report.head}  (record it; check later with --expect)",
        highlight=False,
    )


# The commands that run flows, talk to Slack or handle metrics and the report live in their own
# modules; each registers itself here.
commands.register(app)
metrics_cli.register(app)
people_cli.register(app)
policy_cli.register(policy_app)
criteria_cli.register(app)
value_cli.register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
