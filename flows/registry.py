"""Flow name -> flow object, for the dispatcher and the deployments."""

from __future__ import annotations

from typing import Any

from prefect import Flow

from config.names import ALL_FLOWS
from flows.customer_rollout import customer_rollout_flow
from flows.internal_rollout import internal_rollout_flow
from flows.pilot import pilot_flow
from flows.proposal import proposal_flow
from flows.readiness_review import readiness_review_flow
from flows.resolve_gate import resolve_gate_flow
from flows.sweep import sweep_flow
from flows.terminate import terminate_flow
from flows.value_review import value_review_flow


def flows() -> dict[str, Flow[Any, Any]]:
    table: dict[str, Flow[Any, Any]] = {
        f.name: f
        for f in (
            proposal_flow,
            pilot_flow,
            readiness_review_flow,
            internal_rollout_flow,
            customer_rollout_flow,
            resolve_gate_flow,
            terminate_flow,
            sweep_flow,
            value_review_flow,
        )
    }
    assert set(table) == set(ALL_FLOWS), sorted(set(table) ^ set(ALL_FLOWS))
    return table
