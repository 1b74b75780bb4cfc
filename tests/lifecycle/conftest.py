"""Helpers for the pure lifecycle tests: the example files as plain data to mutate."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from lifecycle.policy import Policy, parse_policy
from lifecycle.proposal import Proposal, parse_proposal

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"
_POLICY = yaml.safe_load((EXAMPLES_DIR / "policy.yaml").read_text())
_PROPOSALS = {p.stem: yaml.safe_load(p.read_text())
              for p in EXAMPLES_DIR.glob("*.yaml") if p.stem != "policy"}


@pytest.fixture
def policy_data() -> dict[str, Any]:
    """A fresh deep copy of examples/policy.yaml as a dict."""
    return copy.deepcopy(_POLICY)


@pytest.fixture
def proposal_data() -> Callable[[str], dict[str, Any]]:
    """proposal_data("helpdesk-assistant") -> a fresh deep copy of that example."""
    return lambda name: copy.deepcopy(_PROPOSALS[name])


@pytest.fixture
def make_policy() -> Callable[[dict[str, Any]], Policy]:
    return lambda data: parse_policy(yaml.safe_dump(data), "policy.yaml")


@pytest.fixture
def make_proposal() -> Callable[[dict[str, Any]], Proposal]:
    return lambda data: parse_proposal(yaml.safe_dump(data), "proposal.yaml")
