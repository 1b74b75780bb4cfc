"""A migrated SQLite register per test (copied from one migrated once) and the CLI in-process."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from metric_harness import EXAMPLES, MetricCli

from store.migrate import upgrade


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("metrics-template") / "pilotgate.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def cli(tmp_path: Path, migrated_template: Path) -> MetricCli:
    db_path = tmp_path / "pilotgate.db"
    shutil.copy(migrated_template, db_path)
    env = {
        "PILOTGATE_DATABASE_URL": f"sqlite:///{db_path}",
        "PILOTGATE_POLICY": str(EXAMPLES / "policy.yaml"),
        "COLUMNS": "250",
        "NO_COLOR": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    return MetricCli(tmp_path, db_path, env)
