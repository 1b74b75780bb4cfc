"""Refusals found in review: impossible gates, one person as owner and operator, a database
that is missing or unreachable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from cli_harness import EXAMPLES_DIR, Cli


def _proposal(cli: Cli, example: str, **changes: Any) -> Path:
    data = yaml.safe_load((EXAMPLES_DIR / f"{example}.yaml").read_text())
    data.update(changes)
    return cli.write("p.yaml", yaml.safe_dump(data))


def test_a_proposal_whose_own_people_make_a_gate_impossible_is_refused(migrated: Cli) -> None:
    # The proposer is the only security reviewer: the high-risk gates could never be met.
    path = _proposal(migrated, "clinical-documentation",
                     proposer={"name": "Sam Sec", "slack_id": "U0SEC0001"})
    result = migrated.run("propose", str(path))
    assert result.exit_code == 2
    assert "gate readiness_review -> internal_rollout: role security needs 1" in result.stderr
    assert migrated.rows("pilots") == 0


def test_operations_owner_must_not_be_the_business_owner(migrated: Cli) -> None:
    path = _proposal(migrated, "helpdesk-assistant",
                     operations_owner={"name": "Tom Becker", "slack_id": "U0BIZ0001"})
    result = migrated.run("propose", str(path))
    assert result.exit_code == 2
    assert "operations_owner must be a different person from the business_owner" in result.stderr
    assert migrated.rows("pilots") == 0


def test_a_missing_sqlite_database_is_reported_not_created(cli: Cli, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "register.db"
    result = cli.run("status", "pg-x", PILOTGATE_DATABASE_URL=f"sqlite:///{missing}")
    assert result.exit_code == 4 and "pilotgate db upgrade" in result.stderr
    assert not missing.exists()


def test_a_bad_file_is_reported_before_a_missing_schema(cli: Cli) -> None:
    path = cli.write("bad.yaml", "title: [unclosed\n")
    result = cli.run("propose", str(path))
    assert result.exit_code == 2 and "invalid YAML" in result.stderr


def test_an_unreachable_database_exits_5(cli: Cli) -> None:
    url = "postgresql+psycopg://postgres@127.0.0.1:1/nothing?connect_timeout=2"
    result = cli.run("list", PILOTGATE_DATABASE_URL=url)
    assert result.exit_code == 5
    assert "database is unreachable" in result.stderr
