"""What every flow shares: the gate a stage flow ends in, how runs are named, and that
their task runs go untagged (the flow run carries the tags)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from prefect.context import TagsContext
from prefect.runtime import flow_run

from lifecycle.stages import Stage
from tasks.artifacts import publish_gate_report
from tasks.gates import open_gate, request_signoffs
from tasks.inputs import GateOpened, OpenGateInput, RequestSignoffsInput
from tasks.run_tags import run_name_for


def run_name(flow: str) -> Callable[[], str]:
    """A `flow_run_name` for `@flow`: Prefect calls it as the run starts, and it names the run
    from its parameters (`readiness-review · pg-1a2b3c4d`, see tasks.run_tags). It never
    raises: at worst the run is named after its flow."""

    def name() -> str:
        try:
            parameters = dict(flow_run.parameters)
        except Exception:
            parameters = {}
        return run_name_for(flow, parameters)

    name.__name__ = name.__qualname__ = f"{flow.replace('-', '_')}_run_name"
    return name


def untagged_tasks() -> TagsContext:
    """A task run inherits the tags in context, and Prefect then asks its API for a
    `tag:<tag>` concurrency slot before running it: seconds per task run under load (profiled
    in the sweep: ~5 s of each batch task's time in acquire_concurrency_slots_with_lease).
    pilotgate's tasks are under no tag limit, so inside a flow they run untagged; the flow run
    keeps its tags (pilot:, portfolio:, stage:, gate:) and is what people find by tag."""
    return TagsContext(current_tags=set())


def stage_gate(pilot_id: str, stage: Stage, now: datetime | None, actor: str) -> GateOpened:
    with untagged_tasks():
        opened = open_gate(OpenGateInput(pilot_id=pilot_id, stage=stage, actor=actor, now=now))
        request_signoffs(RequestSignoffsInput(gate_id=opened.gate_id))
        publish_gate_report(opened.gate_id, "opened", now=now)
    return opened
