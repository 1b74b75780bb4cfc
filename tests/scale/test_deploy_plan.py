"""The deploy script's plan, without a server: every flow, the right entrypoints, the sweep's
schedule and limit, and the recovery automation's shape."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from deployments import deploy

ROOT = Path(__file__).resolve().parents[2]


def test_every_registered_flow_is_deployed_from_its_file() -> None:
    from flows.registry import flows

    specs = {s["flow"]: s for s in deploy.plan("0 * * * *")}
    assert set(specs) == set(flows())
    for name, spec in specs.items():
        path, func = spec["entrypoint"].split(":")
        assert (ROOT / path).is_file(), spec
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        assert getattr(module, func).name == name


def test_only_the_sweep_is_scheduled_and_limited() -> None:
    from prefect.client.schemas.objects import ConcurrencyLimitStrategy

    specs = {s["flow"]: s for s in deploy.plan("*/15 * * * *")}
    sweep = specs.pop("sweep")
    assert sweep["cron"] == "*/15 * * * *"
    assert sweep["concurrency_limit"].limit == 1
    assert sweep["concurrency_limit"].collision_strategy is ConcurrencyLimitStrategy.CANCEL_NEW
    assert all("cron" not in s and "concurrency_limit" not in s for s in specs.values())


def test_sweep_cron_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PILOTGATE_SWEEP_CRON", "5 */2 * * *")
    assert deploy.build_parser().parse_args(["--pool", "p"]).sweep_cron == "5 */2 * * *"
    monkeypatch.setenv("PILOTGATE_UNRESPONSIVE_AFTER", "120")
    assert deploy.build_parser().parse_args(["--pool", "p"]).unresponsive_after == 120


def test_recovery_automation_reschedules_silent_pilotgate_runs() -> None:
    automation = deploy.recovery_automation(90)
    trigger = automation.trigger
    assert trigger.posture == "Proactive" and trigger.within.total_seconds() == 90
    assert "prefect.flow-run.Submitting" in trigger.after
    assert {"prefect.flow-run.Completed", "prefect.flow-run.heartbeat"} <= trigger.expect
    (action,) = automation.actions
    assert action.state == "SCHEDULED" and action.force
