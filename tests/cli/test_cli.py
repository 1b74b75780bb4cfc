"""The `pilotgate` command line: happy paths, every bad input with its exit code, no secrets."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import yaml
from cli_harness import BOT_TOKEN, EXAMPLES_DIR, SIGNING_SECRET, Cli
from typer.testing import CliRunner

from lifecycle.errors import InputError
from lifecycle.policy import load_policy, parse_policy
from lifecycle.policy_versions import stamp
from pilotgate.cli import app

HELPDESK = EXAMPLES_DIR / "helpdesk-assistant.yaml"
PILOT_ID = re.compile(r"^pg-[0-9a-f]{8}$")
NOTHING = (0, 0, 0)


def proposal_file(cli: Cli, name: str = "p.yaml", **changes: Any) -> Path:
    data = yaml.safe_load(HELPDESK.read_text())
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return cli.write(name, yaml.safe_dump(data))


def propose(cli: Cli, path: Path = HELPDESK) -> str:
    result = cli.run("propose", str(path))
    assert result.exit_code == 0, result.stderr
    pilot_id = result.stdout.strip()
    assert PILOT_ID.match(pilot_id), result.stdout
    return pilot_id


# ---------------------------------------------------------------- happy paths


def test_db_upgrade_creates_the_schema(cli: Cli) -> None:
    result = cli.run("db", "upgrade")
    assert result.exit_code == 0, result.stderr
    assert f"created the pilotgate schema (revision 0004) at {cli.url}" in result.stdout
    with sqlite3.connect(cli.db_path) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [("0004",)]
    again = cli.run("db", "upgrade")
    assert again.exit_code == 0
    assert f"database at {cli.url} is already up to date (revision 0004)" in again.stdout
    assert cli.written() == NOTHING


def test_propose_prints_an_id_and_records_the_pilot(migrated: Cli) -> None:
    result = migrated.run("propose", str(HELPDESK))
    assert result.exit_code == 0, result.stderr
    pilot_id = result.stdout.strip()
    assert PILOT_ID.match(pilot_id)
    assert "recorded 'IT help-desk assistant' in portfolio it-operations" in result.stderr
    assert f"pilotgate advance {pilot_id}" in result.stderr
    assert migrated.written() == (1, 1, 1)
    as_json = migrated.run("propose", str(EXAMPLES_DIR / "clinical-documentation.yaml"), "--json")
    assert as_json.exit_code == 0, as_json.stderr
    data = json.loads(as_json.stdout)
    assert PILOT_ID.match(data["id"])
    assert data == {"id": data["id"], "title": "Clinical documentation assistant",
                    "stage": "proposal"}
    assert migrated.written() == (2, 2, 2)


def test_list_table_and_json(migrated: Cli) -> None:
    empty = migrated.run("list")
    assert empty.exit_code == 0 and "0 pilot(s)" in empty.stdout
    ids = [propose(migrated), propose(migrated, EXAMPLES_DIR / "developer-productivity.yaml")]
    table = migrated.run("list")
    assert table.exit_code == 0
    assert "2 pilot(s)" in table.stdout
    for pilot_id in ids:
        assert pilot_id in table.stdout
    assert "IT help-desk assistant" in table.stdout
    rows = json.loads(migrated.run("list", "--json").stdout)
    assert [r["id"] for r in rows] == ids
    assert rows[0]["stage"] == "proposal" and rows[0]["portfolio"] == "it-operations"
    assert rows[1]["title"] == "Developer productivity assistant"
    assert rows[0]["open_gate"] is None and rows[0]["deploy_by"] is None
    assert json.loads(migrated.run("list", "--stage", "pilot", "--json").stdout) == []
    assert len(json.loads(migrated.run("list", "--stage", "proposal", "--json").stdout)) == 2


def test_list_with_an_unknown_stage(migrated: Cli) -> None:
    result = migrated.run("list", "--stage", "pilott")
    assert result.exit_code == 2
    assert "unknown stage 'pilott'; allowed: proposal, pilot" in result.stderr


def test_status_text_and_json(migrated: Cli) -> None:
    pilot_id = propose(migrated)
    text = migrated.run("status", pilot_id)
    assert text.exit_code == 0, text.stderr
    assert f"IT help-desk assistant ({pilot_id}), portfolio it-operations, risk low" in text.stdout
    assert "stage: proposal" in text.stdout
    assert "no open gate" in text.stdout
    data = json.loads(migrated.run("status", pilot_id, "--json").stdout)
    assert (data["id"], data["stage"], data["gate"]) == (pilot_id, "proposal", None)
    assert data["business_owner"] == {"name": "Tom Becker", "slack_id": "U0BIZ0001"}
    assert data["operations_owner"] == "Lee Park"
    assert [(h["from"], h["to"], h["actor"]) for h in data["history"]] == [
        (None, "proposal", "cli")]


def test_policy_check_of_the_example(cli: Cli) -> None:
    result = cli.run("policy", "check", str(EXAMPLES_DIR / "policy.yaml"))
    assert result.exit_code == 0, result.stderr
    digest = stamp(load_policy(EXAMPLES_DIR / "policy.yaml")).short
    assert f"ok, policy {digest} (8 roles, 5 gates, cap 5 active pilots per portfolio" in (
        result.stdout
    )
    assert "risk tier high, before leaving internal rollout: requires impact_assessment" in (
        result.stdout
    )
    assert cli.written() == NOTHING  # needs no database at all


# ---------------------------------------------------------------- bad input


def test_invalid_yaml_proposal(migrated: Cli) -> None:
    path = migrated.write("broken.yaml",
                          "title: Broken\nproblem: x\nportfolio: it\n  risk_tier: low\n")
    result = migrated.run("propose", str(path))
    assert result.exit_code == 2
    assert f"{path}: line 4, column 12: invalid YAML" in result.stderr
    assert result.stdout == ""
    assert migrated.written() == NOTHING


def test_proposal_without_business_owner(migrated: Cli) -> None:
    result = migrated.run("propose", str(proposal_file(migrated, business_owner=None)))
    assert result.exit_code == 2
    assert "business_owner: Field required" in result.stderr
    assert migrated.written() == NOTHING


def test_proposal_without_success_metric(migrated: Cli) -> None:
    result = migrated.run("propose", str(proposal_file(migrated, success_metrics=[])))
    assert result.exit_code == 2
    assert "success_metrics: List should have at least 1 item" in result.stderr
    assert migrated.written() == NOTHING


def test_proposal_above_the_duration_limit(migrated: Cli) -> None:
    result = migrated.run("propose", str(proposal_file(migrated, pilot_duration_days=200)))
    assert result.exit_code == 2
    assert "pilot_duration_days: 200 is above the deploy-or-terminate limit of 182 days" \
        in result.stderr
    assert migrated.written() == NOTHING


def test_missing_proposal_file(migrated: Cli) -> None:
    result = migrated.run("propose", str(migrated.tmp / "nope.yaml"))
    assert result.exit_code == 2
    assert "nope.yaml: cannot read the file" in result.stderr
    assert migrated.written() == NOTHING


def test_sixth_active_pilot_in_a_capped_portfolio(migrated: Cli) -> None:
    for i in range(5):
        propose(migrated, proposal_file(migrated, f"p{i}.yaml", title=f"Help-desk pilot {i}"))
    assert migrated.written() == (5, 5, 5)
    result = migrated.run("propose", str(proposal_file(migrated, "p5.yaml", title="One more")))
    assert result.exit_code == 4
    assert ("portfolio 'it-operations' already has 5 active pilot(s), its cap is 5"
            in result.stderr)
    assert result.stdout == ""
    assert migrated.written() == (5, 5, 5)
    # Another portfolio still has room.
    propose(migrated, proposal_file(migrated, "other.yaml", portfolio="finance-ops"))


def test_status_of_an_unknown_pilot(migrated: Cli) -> None:
    result = migrated.run("status", "pg-deadbeef")
    assert result.exit_code == 3
    assert "no pilot with id 'pg-deadbeef'" in result.stderr
    assert migrated.run("status", "pg-deadbeef", "--json").exit_code == 3


def test_policy_check_names_an_unknown_role(cli: Cli) -> None:
    data = yaml.safe_load((EXAMPLES_DIR / "policy.yaml").read_text())
    data["gates"]["proposal"]["approvers"]["legal"] = 1
    path = cli.write("policy.yaml", yaml.safe_dump(data))
    result = cli.run("policy", "check", str(path))
    assert result.exit_code == 2
    assert ("gates.proposal.approvers: unknown role 'legal' (roles defined: architecture, cio, "
            "clinical_workflow, compliance, finance, operations, programme_office, security)"
            in result.stderr)


def test_a_broken_configured_policy_stops_propose(migrated: Cli) -> None:
    data = yaml.safe_load((EXAMPLES_DIR / "policy.yaml").read_text())
    data["gates"]["readiness_review"]["on_timeout"]["to_role"] = "board"
    path = migrated.write("policy.yaml", yaml.safe_dump(data))
    result = migrated.run("propose", str(HELPDESK), PILOTGATE_POLICY=str(path))
    assert result.exit_code == 2
    assert "on_timeout.to_role: unknown role 'board'" in result.stderr
    assert migrated.written() == NOTHING


def test_error_messages_are_printed_verbatim(cli: Cli) -> None:
    """The CLI must not read square brackets in an error message as rich markup.

    Fails while pilotgate/cli.py `fail()` passes the message to rich unescaped: pydantic's
    "gates.pilott.[key]" path loses its "[key]" (and a message holding "[/x]" would crash).
    """
    data = yaml.safe_load((EXAMPLES_DIR / "policy.yaml").read_text())
    data["gates"]["pilott"] = {"approvers": {"finance": 1}}
    text = yaml.safe_dump(data)
    path = cli.write("policy.yaml", text)
    with pytest.raises(InputError) as exc:
        parse_policy(text, str(path))
    result = cli.run("policy", "check", str(path))
    assert result.exit_code == 2
    assert "gates.pilott.[key]" in str(exc.value)
    assert str(exc.value) in result.stderr, result.stderr


@pytest.mark.parametrize("args", [["list"], ["status", "pg-deadbeef"], ["audit", "verify"],
                                  ["propose", str(HELPDESK)]])
def test_commands_before_db_upgrade(cli: Cli, args: list[str]) -> None:
    result = cli.run(*args)
    assert result.exit_code == 4
    assert "the database has no pilotgate schema yet: run `pilotgate db upgrade`" in result.stderr
    assert result.stdout == ""
    # Nothing was created beyond, at most, an empty database file.
    if cli.db_path.exists():
        with sqlite3.connect(cli.db_path) as conn:
            assert conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"
                                ).fetchall() == []


# ---------------------------------------------------------------- audit


def test_audit_verify_and_tampering(migrated: Cli) -> None:
    propose(migrated)
    propose(migrated, EXAMPLES_DIR / "developer-productivity.yaml")
    ok = migrated.run("audit", "verify")
    assert ok.exit_code == 0, ok.stderr
    assert "audit chain intact: 2 row(s)" in ok.stdout
    with sqlite3.connect(migrated.db_path) as conn:
        conn.execute("UPDATE audit_log SET data = ? WHERE id = 2",
                     (json.dumps({"title": "Something else", "portfolio": "engineering"}),))
    broken = migrated.run("audit", "verify")
    assert broken.exit_code == 1
    assert "audit chain broken at row 2: content does not match its hash" in broken.stderr


def test_audit_verify_names_a_deleted_row(migrated: Cli) -> None:
    for i in range(3):
        propose(migrated, proposal_file(migrated, f"p{i}.yaml", title=f"Pilot {i}"))
    with sqlite3.connect(migrated.db_path) as conn:
        conn.execute("DELETE FROM audit_log WHERE id = 2")
    broken = migrated.run("audit", "verify")
    assert broken.exit_code == 1
    assert "audit chain broken at row 3: row 2 is missing" in broken.stderr


def test_audit_verify_publishes_its_head_and_checks_a_recorded_one(migrated: Cli) -> None:
    propose(migrated)
    first = json.loads(migrated.run("audit", "verify", "--json").stdout)
    assert first["ok"] and first["rows"] == 1 and first["head"].startswith("1:")
    propose(migrated, EXAMPLES_DIR / "developer-productivity.yaml")
    assert migrated.run("audit", "verify", "--expect", first["head"]).exit_code == 0
    bad = migrated.run("audit", "verify", "--expect", "1:" + "0" * 64)
    assert bad.exit_code == 1
    assert "row 1 of the recorded head has another hash" in bad.stderr
    nonsense = migrated.run("audit", "verify", "--expect", "yesterday")
    assert nonsense.exit_code == 2 and "--expect" in nonsense.stderr


# ---------------------------------------------------------------- the real entry point, secrets


def test_console_script_end_to_end_never_prints_secrets(cli: Cli) -> None:
    assert cli.run_script("db", "upgrade").exit_code == 0
    proposed = cli.run_script("propose", str(HELPDESK), "--json")
    assert proposed.exit_code == 0, proposed.stderr
    pilot_id = json.loads(proposed.stdout)["id"]
    listed = cli.run_script("list", "--json")
    assert [r["id"] for r in json.loads(listed.stdout)] == [pilot_id]
    missing = cli.run_script("status", "pg-deadbeef")
    assert missing.exit_code == 3
    assert cli.run_script("audit", "verify").exit_code == 0
    # In-process runs of every command with the same secrets set.
    cli.run("status", pilot_id)
    cli.run("status", pilot_id, "--json")
    cli.run("list")
    cli.run("policy", "check", str(EXAMPLES_DIR / "policy.yaml"))
    cli.run("propose", str(proposal_file(cli, business_owner=None)))
    cli.run("--help")
    everything = "\n".join(cli.outputs)
    assert pilot_id in everything
    assert BOT_TOKEN not in everything and SIGNING_SECRET not in everything
    # Fragments too: a secret must not leak half-redacted.
    assert "canary" not in everything


def test_a_second_proposal_with_the_same_title_is_refused_unless_allowed(migrated: Cli) -> None:
    first = propose(migrated)
    again = migrated.run("propose", str(HELPDESK))
    assert again.exit_code == 4
    assert f"{first} already has the title" in again.stderr and "--allow-duplicate" in again.stderr
    assert migrated.written()[0] == 1
    allowed = migrated.run("propose", str(HELPDESK), "--allow-duplicate")
    assert allowed.exit_code == 0, allowed.stderr
    assert migrated.written()[0] == 2


def test_list_never_cuts_an_id_and_version_answers(migrated: Cli) -> None:
    pilot_id = propose(migrated)
    narrow = migrated.run("list", COLUMNS="40")
    assert narrow.exit_code == 0 and pilot_id in narrow.stdout
    version = migrated.run("--version")
    assert version.exit_code == 0 and version.stdout.startswith("pilotgate ")


def test_terminate_asks_on_a_terminal_and_changes_nothing_when_declined(
    migrated: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pilotgate import commands

    pilot_id = propose(migrated)
    monkeypatch.setattr(commands, "_interactive", lambda: True)
    declined = CliRunner().invoke(
        app, ["terminate", pilot_id, "--reason", "budget moved"], input="n\n",
        env=migrated.env, catch_exceptions=False,
    )
    assert declined.exit_code == 4
    assert f"Terminate {pilot_id}" in declined.stdout and "nothing changed" in declined.stderr
    assert migrated.written() == (1, 1, 1)  # still only the proposal
