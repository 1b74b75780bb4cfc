"""Readiness evidence attached to a gate when it opens (metrics against targets, criteria).

`open_gate` calls `gather_evidence` inside its transaction. The gate that leaves readiness
review is judged on the pilot's measurements and readiness criteria; the gate that leaves
internal rollout (into customer rollout) on the targets holding during internal rollout. Other
gates carry no measured evidence and show the bare targets. When the policy says missing
evidence blocks, `EvidenceBlocked` (a `Conflict`, so `pilotgate advance` exits 4) rolls
the transaction back and the gate does not open; the message says exactly what is missing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from lifecycle.confirmations import criteria_of, due_at, statuses, with_confirmations
from lifecycle.evidence import (
    Evidence,
    internal_rollout_evidence,
    readiness_evidence,
)
from lifecycle.policy import Policy
from lifecycle.stages import LIVE, Stage
from lifecycle.value_review import value_review_evidence
from store import confirmations, metrics, pilots
from store.errors import Conflict
from store.models import Pilot


class EvidenceBlocked(Conflict):
    """The policy says missing or unmet evidence blocks this gate."""

    def __init__(self, pilot: Pilot, stage: Stage, evidence: Evidence) -> None:
        self.evidence = evidence
        what = {
            Stage.READINESS_REVIEW: "readiness review",
            Stage.INTERNAL_ROLLOUT: "customer rollout",
        }.get(stage, f"{stage.value.replace('_', ' ')}")
        lines = "\n".join(f"  - {p}" for p in evidence.blocking)
        super().__init__(
            f"pilot {pilot.id}: the {what} gate did not open, because the policy needs "
            f"complete evidence there and {len(evidence.blocking)} item(s) are missing, not "
            f"met or not confirmed:\n{lines}\n"
            f"Figures are the {evidence.rule}. Record measurements with "
            f"`pilotgate metric record {pilot.id} NAME VALUE` or `pilotgate metric import`, "
            f"confirm criteria with `pilotgate confirm {pilot.id} KEY --by USER --link URL`, "
            f"then run `pilotgate advance {pilot.id}` again."
        )


def compute_evidence(
    session: Session, pilot: Pilot, stage: Stage, policy: Policy, now: datetime
) -> Evidence | None:
    """The evidence for the gate that leaves `stage`, or None where none is measured or due:
    metrics and declared criteria at readiness review and before customers, plus each
    criterion confirmation this gate checks."""
    proposal = pilots.proposal_of(pilot)
    due = due_at(
        statuses(criteria_of(policy, proposal), confirmations.confirmations_of(session, pilot.id)),
        stage,
    )
    measured: Evidence | None = None
    if stage is Stage.READINESS_REVIEW:
        observations = metrics.observations_of(session, pilot.id)
        measured = readiness_evidence(proposal, observations, policy.evidence, now)
    elif stage is Stage.INTERNAL_ROLLOUT:
        measured = internal_rollout_evidence(
            proposal,
            metrics.observations_of(session, pilot.id),
            policy.evidence,
            now,
            pilots.entered_stage_at(session, pilot.id, Stage.INTERNAL_ROLLOUT),
        )
    elif stage in LIVE:
        measured = value_review_evidence(
            proposal, metrics.observations_of(session, pilot.id), policy.evidence, now
        )
    return with_confirmations(measured, due, policy.evidence, now)


def gather_evidence(
    session: Session, pilot: Pilot, stage: Stage, policy: Policy, now: datetime
) -> dict[str, Any] | None:
    """`gate.evidence` for the gate leaving `stage`; raises EvidenceBlocked if policy blocks."""
    evidence = compute_evidence(session, pilot, stage, policy, now)
    if evidence is None:
        return None
    if evidence.blocking:
        raise EvidenceBlocked(pilot, stage, evidence)
    return evidence.to_dict()
