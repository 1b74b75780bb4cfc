"""Readiness evidence attached to a gate when it opens (metrics against targets, criteria).

Until measured evidence exists for a stage, the gate carries the bare targets so approvers
still see what success was defined as.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from lifecycle.policy import Policy
from lifecycle.stages import Stage
from store.models import Pilot


class EvidenceBlocked(RuntimeError):
    """The policy says missing or unmet evidence blocks this gate."""


def gather_evidence(
    session: Session, pilot: Pilot, stage: Stage, policy: Policy, now: datetime
) -> dict[str, Any] | None:
    return None
