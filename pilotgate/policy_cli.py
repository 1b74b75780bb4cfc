"""`pilotgate policy diff` and `pilotgate policy simulate`: a policy change, understood before
it is made.

    pilotgate policy diff OLD.yaml NEW.yaml [--json]
    pilotgate policy simulate NEW.yaml [--now 2026-12-01T09:00Z] [--json]
    pilotgate policy reapply PILOT [--yes] [--json]

`diff` reads two files and says what changes, in words. `simulate` reads today's register and
the policy in force (PILOTGATE_POLICY) and says, pilot by pilot, what NEW would change; it
opens the database read-only in spirit and in fact (no row is written, flushed or audited).
"""

from __future__ import annotations

import sys
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from config.clock import utcnow
from pilotgate.console import EXIT_CONFLICT, JsonFlag, emit_json, err, guarded, out, runtime
from pilotgate.people_cli import parse_time

PolicyFile = Annotated[Path, typer.Argument(help="Policy YAML file.")]


def diff(old: PolicyFile, new: PolicyFile, as_json: JsonFlag = False) -> None:
    """Say what changes from OLD to NEW: roles, quorums, deadlines, timeouts, caps, tiers."""
    # Deferred: SQLAlchemy and pydantic load when a command runs, not for `pilotgate --help`.
    from lifecycle.policy import load_policy
    from lifecycle.policy_versions import describe_changes, stamp

    with guarded():
        before, after = load_policy(old), load_policy(new)
    changes = describe_changes(before, after)
    if as_json:
        emit_json({"old": str(stamp(before)), "new": str(stamp(after)), "changes": changes})
        return
    out.print(f"{escape(str(old))} ({stamp(before)}) -> {escape(str(new))} ({stamp(after)})")
    if not changes:
        out.print("no change to the rules")
    for line in changes:
        out.print(f"  - {escape(line)}", highlight=False)


def simulate_command(
    new: PolicyFile,
    now: Annotated[
        str | None,
        typer.Option("--now", help="Simulate at this time (ISO 8601, UTC if no offset)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Say what NEW would change for today's pilots; writes nothing."""
    # Deferred: SQLAlchemy and pydantic load when a command runs, not for `pilotgate --help`.
    from lifecycle.policy import load_policy
    from lifecycle.policy_versions import describe_changes, stamp
    from lifecycle.simulate import simulate
    from store.read_simulation import register_snapshot

    with guarded():
        at: datetime = parse_time("--now", now) if now else utcnow()
        candidate = load_policy(new)
    rt = runtime()
    with guarded(), rt.db.session() as session:
        pilots = register_snapshot(session, at)
        # Read-only: nothing was added or changed, and nothing must be committed.
        session.rollback()
    result = simulate(pilots, rt.policy, candidate, at)
    changes = describe_changes(rt.policy, candidate)
    if as_json:
        emit_json(
            {
                "at": at.isoformat(),
                "current": str(stamp(rt.policy)),
                "new": str(stamp(candidate)),
                "changes": changes,
                "pilots_read": result.pilots_read,
                "findings": [f.as_dict() for f in result.findings],
            }
        )
        return
    out.print(
        f"simulating {escape(str(new))} ({stamp(candidate)}) against the policy in force "
        f"({stamp(rt.policy)}) at {at:%Y-%m-%d %H:%M} UTC, {result.pilots_read} active pilot(s)",
        highlight=False,
    )
    out.print("what changes:" if changes else "what changes: nothing in the rules")
    for line in changes:
        out.print(f"  - {escape(line)}", highlight=False)
    portfolio_wide = [f for f in result.findings if f.pilot_id is None]
    for finding in portfolio_wide:
        out.print(f"{escape(finding.text)}", highlight=False)
    titles = {p.id: p.title for p in pilots}
    for pilot in pilots:
        findings = result.for_pilot(pilot.id)
        if findings:
            out.print(f"{pilot.id} {escape(titles[pilot.id])}:", highlight=False)
            for finding in findings:
                out.print(f"  - {escape(finding.text)}", highlight=False)
    if not result.findings:
        out.print("no pilot would be affected")
    else:
        out.print(
            f"{len(result.findings)} finding(s); nothing was written (re-run after switching "
            "PILOTGATE_POLICY to apply)",
            highlight=False,
        )


def reapply(
    pilot_id: Annotated[str, typer.Argument(help="Pilot id whose open gate takes the new rules.")],
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Do not ask for confirmation (scripts).")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Put a pilot's open gate under the policy in force (PILOTGATE_POLICY): new quorum, newly
    needed approvers asked, requests no longer needed closed; audited. Asks on a terminal."""
    # Deferred: SQLAlchemy and pydantic load when a command runs, not for `pilotgate --help`.
    from lifecycle.policy_versions import stamp
    from lifecycle.simulate import simulate
    from store.read_simulation import register_snapshot

    rt = runtime()
    now = utcnow()
    if not yes and sys.stdin.isatty():
        with guarded(), rt.db.session() as session:
            pilots = register_snapshot(session, now)
            session.rollback()
        preview = [
            f.text
            for f in simulate(
                [p for p in pilots if p.id == pilot_id], rt.policy, rt.policy, now
            ).findings
        ]
        gate_line = next((t for t in preview if t.startswith("open gate")), None)
        out.print(
            escape(gate_line or f"{pilot_id}: the policy in force sets the same quorum"),
            highlight=False,
        )
        if not typer.confirm(f"Re-apply policy {stamp(rt.policy)} to {pilot_id}'s open gate?"):
            err.print("nothing changed", highlight=False)
            raise typer.Exit(EXIT_CONFLICT)
    # Deferred: re-applying renders Slack asks (slack_sdk); diff and simulate stay light.
    from tasks.policy_reapply import reapply_policy

    with guarded(), rt.db.session() as session:
        result = reapply_policy(session, rt.policy, pilot_id, actor="cli", now=now)
    if as_json:
        emit_json(asdict(result))
        return
    out.print(
        f"gate {result.gate_id} of {result.pilot_id} now follows policy {result.policy}: quorum "
        f"{_quorum(result.quorum_before)} -> {_quorum(result.quorum)}",
        highlight=False,
    )
    for approver, role in result.asked:
        out.print(f"  asked {approver} ({role})", highlight=False)
    for approver, role in result.dropped:
        out.print(f"  no longer needed: {approver} ({role})", highlight=False)
    if result.resolved_now:
        out.print(
            f"  the gate is now {result.status}; `pilotgate serve` runs its follow-up",
            highlight=False,
        )


def _quorum(quorum: dict[str, int]) -> str:
    return ", ".join(f"{role} {n}" for role, n in sorted(quorum.items()))


def register(policy_app: typer.Typer) -> None:
    policy_app.command("diff")(diff)
    policy_app.command("simulate")(simulate_command)
    policy_app.command("reapply")(reapply)
