"""`pilotgate delegate` and `pilotgate reassign`: validated, audited, nothing changed on refusal."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from cli_harness import EXAMPLES_DIR, Cli

from lifecycle.gates import plan_gate
from lifecycle.policy import load_policy
from lifecycle.proposal import load_proposal
from lifecycle.stages import Stage
from store import audit, gates, pilots
from store.db import Database

FIN, CIO, PMO1, PMO2, PMO3 = "U0FIN0001", "U0CIO0001", "U0PMO0001", "U0PMO0002", "U0PMO0003"


def iso(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).isoformat()


@pytest.fixture
def people(migrated: Cli) -> Cli:
    """The example policy with FIN also in `cio` (the CIO can stand in for FIN) and a third
    programme-office member who was not asked when the gate below opened."""
    data = yaml.safe_load((EXAMPLES_DIR / "policy.yaml").read_text())
    data["roles"]["cio"] = [CIO, FIN]
    path = migrated.write("policy.yaml", yaml.safe_dump(data))
    migrated.env["PILOTGATE_POLICY"] = str(path)
    return migrated


def open_proposal_gate(cli: Cli) -> int:
    """Propose the helpdesk pilot and open its proposal gate (PMO1, PMO2, FIN asked)."""
    policy = load_policy(Path(cli.env["PILOTGATE_POLICY"]))
    proposal = load_proposal(EXAMPLES_DIR / "helpdesk-assistant.yaml")
    db = Database(cli.url)
    try:
        now = datetime.now(UTC)
        with db.session() as session:
            pilot = pilots.create_pilot(session, proposal, policy, actor="test", now=now)
            plan = plan_gate(policy, proposal, Stage.PROPOSAL, Stage.PILOT)
            gate = gates.open_gate(session, pilot.id, plan, deadline=now + timedelta(days=7),
                                   escalation_role=None, now=now, actor="test")
            return gate.id
    finally:
        db.dispose()


def request_rows(cli: Cli) -> list[tuple[int, str, str, str | None, bool]]:
    with sqlite3.connect(cli.db_path) as conn:
        return [(i, a, r, b, s is not None) for i, a, r, b, s in conn.execute(
            "SELECT id, approver, role, on_behalf_of, superseded_at FROM signoff_requests "
            "ORDER BY id")]


def verify(cli: Cli) -> bool:
    db = Database(cli.url)
    try:
        with db.session() as session:
            return audit.verify(session).ok
    finally:
        db.dispose()


def test_delegate_re_asks_open_requests_lists_and_revokes(people: Cli) -> None:
    open_proposal_gate(people)
    fin_request = next(r[0] for r in request_rows(people) if r[1] == FIN)
    result = people.run("delegate", FIN, "--to", CIO, "--from", iso(-timedelta(hours=1)),
                        "--until", iso(timedelta(days=10)), "--reason", "annual leave", "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["approver"], data["delegate"], data["state"]) == (FIN, CIO, "active")
    [handed] = data["handed_over"]
    assert (handed["request_id"], handed["from"], handed["to"], handed["on_behalf_of"]) == (
        fin_request, FIN, CIO, FIN)
    assert [r for r in request_rows(people) if r[2] == "finance"] == [
        (fin_request, FIN, "finance", None, True),
        (handed["new_request_id"], CIO, "finance", FIN, False),
    ]
    # the old message's buttons are closed and the delegate is asked (both in the outbox)
    with sqlite3.connect(people.db_path) as conn:
        queued = conn.execute("SELECT method, ref_kind, ref_id FROM outbox ORDER BY id").fetchall()
    # ...and the gate's other asks show the delegate in their tally (chat.update, refreshed)
    others = [r[0] for r in request_rows(people) if r[2] == "programme_office"]
    assert queued[-4:] == [("chat.update", "request_update", str(fin_request)),
                           ("chat.postMessage", "request", str(handed["new_request_id"])),
                           *[("chat.update", "request_refresh", str(i)) for i in others]]

    listed = people.run("delegate", "list", "--json")
    assert listed.exit_code == 0, listed.stderr
    assert [(d["id"], d["state"]) for d in json.loads(listed.stdout)] == [(data["id"], "active")]
    table = people.run("delegate", "list")
    assert FIN in table.stdout and "annual leave" in table.stdout

    revoked = people.run("delegate", "revoke", str(data["id"]), "--json")
    assert revoked.exit_code == 0, revoked.stderr
    assert json.loads(revoked.stdout)["state"] == "revoked"
    again = people.run("delegate", "revoke", str(data["id"]))
    assert again.exit_code == 4 and "already revoked" in again.stderr
    with sqlite3.connect(people.db_path) as conn:
        actions = [a for (a,) in conn.execute("SELECT action FROM audit_log ORDER BY id")]
    assert actions[-3:] == ["delegation.created", "request.delegated", "delegation.revoked"]
    assert verify(people)


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["nobody", "--to", CIO], 2, "APPROVER: 'nobody' is not a Slack user id"),
        ([FIN, "--to", PMO1], 2, f"--to: {PMO1} shares no policy role with {FIN}"),
        ([FIN, "--to", FIN], 2, "cannot delegate to themselves"),
        ([FIN, "--to", CIO, "--swap"], 2, "--until must be after --from"),
        ([FIN, "--to", CIO, "--from", "next tuesday"], 2, "--from: 'next tuesday' is not an ISO"),
    ],
)
def test_bad_delegations_are_refused_and_change_nothing(
        people: Cli, args: list[str], code: int, message: str) -> None:
    start, until = iso(timedelta(days=1)), iso(timedelta(days=5))
    if "--swap" in args:
        args = [a for a in args if a != "--swap"]
        start, until = until, start
    if "--from" not in args:
        args += ["--from", start]
    result = people.run("delegate", *args, "--until", until, "--reason", "leave")
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert message in " ".join(result.stderr.split()), result.stderr
    assert "Traceback" not in result.stderr
    assert people.rows("delegations") == 0 and people.rows("audit_log") == 0


def test_a_cycle_is_refused(people: Cli) -> None:
    window = ["--from", iso(timedelta(days=1)), "--until", iso(timedelta(days=5))]
    assert people.run("delegate", FIN, "--to", CIO, *window, "--reason", "leave").exit_code == 0
    result = people.run("delegate", CIO, "--to", FIN, *window, "--reason", "leave")
    assert result.exit_code == 2
    assert f"cycle: {CIO} -> {FIN} -> {CIO}" in result.stderr
    assert people.rows("delegations") == 1


def test_reassign_to_a_member_of_the_role(people: Cli) -> None:
    open_proposal_gate(people)
    pmo2 = next(r[0] for r in request_rows(people) if r[1] == PMO2)
    # not a member of programme_office
    refused = people.run("reassign", str(pmo2), "--to", CIO, "--reason", "busy")
    assert refused.exit_code == 2 and "is not a member of role 'programme_office'" in refused.stderr
    # already asked in that role
    twice = people.run("reassign", str(pmo2), "--to", PMO1, "--reason", "busy")
    assert twice.exit_code == 4 and "already asked in role programme_office" in twice.stderr
    missing = people.run("reassign", "999", "--to", PMO1, "--reason", "busy")
    assert missing.exit_code == 3 and "no sign-off request with id 999" in missing.stderr
    assert people.rows("signoff_requests") == 3

    data = yaml.safe_load(Path(people.env["PILOTGATE_POLICY"]).read_text())
    data["roles"]["programme_office"].append(PMO3)  # a new hire, not asked when the gate opened
    people.write("policy.yaml", yaml.safe_dump(data))
    ok = people.run("reassign", str(pmo2), "--to", PMO3, "--reason", "Sam is on leave", "--json")
    assert ok.exit_code == 0, ok.stderr
    handed = json.loads(ok.stdout)
    assert (handed["from"], handed["to"], handed["on_behalf_of"]) == (PMO2, PMO3, PMO2)
    assert request_rows(people)[-1] == (handed["new_request_id"], PMO3, "programme_office",
                                        PMO2, False)
    again = people.run("reassign", str(pmo2), "--to", PMO3, "--reason", "again")
    assert again.exit_code == 4 and "already handed to U0PMO0003" in again.stderr
    assert verify(people)
