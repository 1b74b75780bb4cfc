"""Fixtures for the register tests: example proposals and a row counter."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from lifecycle.proposal import Proposal, load_proposal
from store.db import Database

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="session")
def helpdesk() -> Proposal:
    """Low risk, internal, portfolio it-operations, proposer U0PRO0001, owner U0BIZ0001."""
    return load_proposal(EXAMPLES_DIR / "helpdesk-assistant.yaml")


@pytest.fixture(scope="session")
def clinical() -> Proposal:
    return load_proposal(EXAMPLES_DIR / "clinical-documentation.yaml")


@pytest.fixture
def count(db: Database) -> Callable[[Any], int]:
    """count(Model) -> rows in that table, read in a fresh transaction."""

    def _count(model: Any) -> int:
        with db.session() as s:
            return int(s.execute(select(func.count()).select_from(model)).scalar_one())

    return _count
