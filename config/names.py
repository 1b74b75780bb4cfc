"""Names several layers must agree on, written once.

Flow names (kebab-case) are shared by the tasks that queue flow requests, the flows themselves,
the dispatcher and the deployments. Dedupe keys make an outbox row or a flow request unique, so
the code that writes one and the code that looks for one must build the key the same way.
"""

from __future__ import annotations

from datetime import datetime

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

#: every flow is deployed under this name: `resolve-gate/pilotgate`, `sweep/pilotgate`, ...
#: (deployments/prefect.yaml declares them)
DEPLOYMENT = "pilotgate"
#: the tag every pilotgate deployment carries; the recovery automation matches it.
DEPLOYMENT_TAG = "pilotgate"
#: who acts when a programme manager or a flow does not say.
DEFAULT_ACTOR = "pilotgate"


class Keys:
    """Dedupe keys of outbox rows and flow requests (unique columns in the store)."""

    @staticmethod
    def resolve(gate_id: int) -> str:
        return f"resolve:{gate_id}"

    @staticmethod
    def terminate_after_gate(gate_id: int) -> str:
        return f"terminate:{gate_id}"

    @staticmethod
    def again(key: str, now: datetime) -> str:
        """A re-queue by the sweep's safety net: once per minute at most."""
        return f"{key}:again:{now:%Y%m%dT%H%M}"

    @staticmethod
    def enter(gate_id: int) -> str:
        return f"enter:{gate_id}"

    @staticmethod
    def sweep(now: datetime) -> str:
        return f"sweep:{now:%Y%m%dT%H%M}"

    @staticmethod
    def ask(request_id: int) -> str:
        return f"ask:{request_id}"

    @staticmethod
    def remind(request_id: int, point: float) -> str:
        return f"remind:{request_id}:{point:.3f}"

    @staticmethod
    def undeliverable(request_id: int) -> str:
        return f"undeliverable:{request_id}"

    @staticmethod
    def extended(gate_id: int, request_id: int) -> str:
        return f"extended:{gate_id}:{request_id}"

    @staticmethod
    def moved(gate_id: int) -> str:
        return f"moved:{gate_id}"

    @staticmethod
    def sent_back(gate_id: int) -> str:
        return f"sentback:{gate_id}"

    @staticmethod
    def terminated(pilot_id: str, person: str) -> str:
        return f"terminated:{pilot_id}:{person}"

    @staticmethod
    def digest_hour(now: datetime) -> str:
        return f"digest:{now:%Y%m%dT%H}"
