"""Flow names (kebab-case), shared by the tasks that request flows and the flows themselves."""

from __future__ import annotations

from lifecycle.stages import Stage

STAGE_FLOWS: dict[Stage, str] = {
    Stage.PROPOSAL: "proposal",
    Stage.PILOT: "pilot",
    Stage.READINESS_REVIEW: "readiness-review",
    Stage.INTERNAL_ROLLOUT: "internal-rollout",
    Stage.CUSTOMER_ROLLOUT: "customer-rollout",
}
RESOLVE_GATE = "resolve-gate"
TERMINATE = "terminate"
SWEEP = "sweep"
ALL_FLOWS: tuple[str, ...] = (*STAGE_FLOWS.values(), RESOLVE_GATE, TERMINATE, SWEEP)
