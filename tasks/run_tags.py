"""What a flow run is called and tagged, so platform engineers find pilotgate's runs in
Prefect's UI and CLI: one answer for every place that creates a run.

`labels_for(flow, parameters)` takes what a run is created with (the flow's name and its
parameters, as a flow request stores them) and answers its name and its tags:

    readiness-review  {"pilot_id": "pg-1a2b3c4d"}  ->  "readiness-review · pg-1a2b3c4d",
        ["pilot:pg-1a2b3c4d", "portfolio:it-operations", "stage:readiness_review"]
    resolve-gate      {"gate_id": 12}              ->  "resolve-gate · pg-1a2b3c4d gate 12",
        ["gate:12", "pilot:pg-1a2b3c4d", "portfolio:it-operations", "stage:readiness_review"]
    sweep             {"dry_run": True}            ->  "sweep (dry run)", ["sweep", "dry-run"]

The dispatcher's launchers (`prefect.tags(...)` around an in-process run, `run_deployment(...,
tags=...)` at scale), the CLI commands that start flows, the sweep's subflows and the flows'
own `flow_run_name` all call it. The portfolio and the stage come from the database (store/),
in one short read; a lookup that fails never stops a run: the labels then carry what the
parameters say (`resolve-gate · gate 12`). The builders themselves live in `config.names`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from config.names import RESOLVE_GATE, STAGE_FLOWS, SWEEP, RunNames, Tags
from lifecycle.stages import Stage
from store import gates, pilots
from tasks.runtime import get_runtime

log = logging.getLogger("pilotgate.run_tags")

_STAGE_OF_FLOW = {flow: stage for stage, flow in STAGE_FLOWS.items()}


@dataclass(frozen=True)
class RunLabels:
    name: str
    tags: list[str]


@dataclass(frozen=True)
class _Facts:
    pilot_id: str | None = None
    portfolio: str | None = None
    stage: str | None = None
    gate_id: int | None = None


def _gate_id(parameters: Mapping[str, Any]) -> int | None:
    try:
        value = parameters.get("gate_id")
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def _facts(flow: str, parameters: Mapping[str, Any], *, lookup: bool) -> _Facts:
    """Who the run is for: from the parameters, completed from the database when `lookup`."""
    pilot_id = parameters.get("pilot_id")
    pilot_id = str(pilot_id) if pilot_id else None
    gate_id = _gate_id(parameters) if flow == RESOLVE_GATE else None
    stage_of_flow = _STAGE_OF_FLOW.get(flow)
    stage = stage_of_flow.value if stage_of_flow else None
    if not lookup or (pilot_id is None and gate_id is None):
        return _Facts(pilot_id, None, stage, gate_id)
    portfolio = None
    try:
        with get_runtime().db.session() as session:
            if gate_id is not None:
                gate = gates.get_gate(session, gate_id)
                pilot_id, stage = gate.pilot_id, Stage(gate.stage).value
            if pilot_id is not None:
                pilot = pilots.get_pilot(session, pilot_id)
                portfolio = pilot.portfolio
                if stage is None or stage_of_flow is not None:
                    # a stage flow runs for the stage the pilot is in; terminate from it
                    stage = Stage(pilot.stage).value
    except Exception as exc:  # labels are a convenience: a run never fails for them
        log.debug("no run labels for %s %s: %s", flow, dict(parameters), type(exc).__name__)
    return _Facts(pilot_id, portfolio, stage, gate_id)


def _name(flow: str, parameters: Mapping[str, Any], facts: _Facts) -> str:
    if flow == SWEEP:
        return RunNames.sweep(bool(parameters.get("dry_run")))
    if flow == RESOLVE_GATE and facts.gate_id is not None:
        return RunNames.resolve_gate(facts.gate_id, facts.pilot_id)
    if facts.pilot_id:
        return RunNames.for_pilot(flow, facts.pilot_id)
    return flow


def _tags(flow: str, parameters: Mapping[str, Any], facts: _Facts) -> list[str]:
    if flow == SWEEP:
        return Tags.sweep(bool(parameters.get("dry_run")))
    found = []
    if facts.gate_id is not None:
        found.append(Tags.gate(facts.gate_id))
    if facts.pilot_id:
        found.append(Tags.pilot(facts.pilot_id))
    if facts.portfolio:
        found.append(Tags.portfolio(facts.portfolio))
    if facts.stage:
        found.append(Tags.stage(facts.stage))
    return found


def labels_for(flow: str, parameters: Mapping[str, Any]) -> RunLabels:
    """The name and the tags of a run of `flow` with these parameters. Never raises."""
    facts = _facts(flow, parameters, lookup=True)
    return RunLabels(_name(flow, parameters, facts), _tags(flow, parameters, facts))


def tags_for(flow: str, parameters: Mapping[str, Any]) -> list[str]:
    """The tags of a run of `flow` with these parameters (see the module). Never raises."""
    return labels_for(flow, parameters).tags


def run_name_for(flow: str, parameters: Mapping[str, Any]) -> str:
    """The name of a run of `flow` with these parameters. Only resolve-gate reads the
    database (its pilot); never raises."""
    try:
        facts = _facts(flow, parameters, lookup=flow == RESOLVE_GATE)
        return _name(flow, parameters, facts)
    except Exception:  # a name is a convenience: the run keeps Prefect's own
        return flow
