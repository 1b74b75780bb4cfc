"""Fixtures for the CLI tests (the harness itself lives in cli_harness.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cli_harness import BOT_TOKEN, EXAMPLES_DIR, SIGNING_SECRET, Cli


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PILOTGATE_", "SLACK_"))}
    env.update({
        "PILOTGATE_DATABASE_URL": f"sqlite:///{tmp_path / 'pilotgate.db'}",
        "PILOTGATE_POLICY": str(EXAMPLES_DIR / "policy.yaml"),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "COLUMNS": "200",
        "NO_COLOR": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    })
    return Cli(tmp_path, tmp_path / "pilotgate.db", env)


@pytest.fixture
def migrated(cli: Cli) -> Cli:
    result = cli.run("db", "upgrade")
    assert result.exit_code == 0, result.stderr
    return cli
