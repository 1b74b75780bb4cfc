"""Naming the operations owner later: validated, recorded, and audited."""

from __future__ import annotations

from cli_harness import EXAMPLES_DIR, Cli


def test_operations_owner_named_later_is_validated_and_audited(migrated: Cli) -> None:
    pilot_id = migrated.run("propose", str(EXAMPLES_DIR / "developer-productivity.yaml")
                            ).stdout.strip()
    before = migrated.run("status", pilot_id, "--json").stdout
    assert '"operations_owner": null' in before

    bad = migrated.run("set-operations-owner", pilot_id, "Lee Park", "not-an-id")
    assert bad.exit_code == 2
    assert "operations_owner.slack_id" in bad.stderr and "not a Slack user id" in bad.stderr
    assert '"operations_owner": null' in migrated.run("status", pilot_id, "--json").stdout

    ok = migrated.run("set-operations-owner", pilot_id, "Lee Park", "U0OPS0001")
    assert ok.exit_code == 0, ok.stderr
    assert '"operations_owner": "Lee Park"' in migrated.run("status", pilot_id, "--json").stdout
    audit = migrated.run("audit", "verify")
    assert audit.exit_code == 0 and "2 row(s)" in audit.stdout

    assert migrated.run("set-operations-owner", "pg-missing", "X", "U0OPS0001").exit_code == 3
