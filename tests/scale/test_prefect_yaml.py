"""The deployments as data: `deployments/prefect.yaml` declares one deployment per registered
flow, from the file that defines it, with the sweep alone scheduled and limited; and the
recovery automation (the one thing YAML cannot say) has the right shape."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
import yaml

from config.names import DEPLOYMENT, DEPLOYMENT_TAG, SWEEP
from deployments import automation
from flows.registry import flows

ROOT = Path(__file__).resolve().parents[2]
PREFECT_YAML = ROOT / "deployments" / "prefect.yaml"


@pytest.fixture(scope="module")
def deployments() -> dict[str, dict[str, Any]]:
    config = yaml.safe_load(PREFECT_YAML.read_text())
    table = {}
    for spec in config["deployments"]:
        path, func = spec["entrypoint"].split(":")
        assert (ROOT / path).is_file(), spec
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        table[getattr(module, func).name] = spec
    return table


def test_every_registered_flow_is_deployed_once_from_its_file(
    deployments: dict[str, dict[str, Any]],
) -> None:
    assert set(deployments) == set(flows())
    for name, spec in deployments.items():
        assert spec["name"] == DEPLOYMENT, name
        assert spec["work_pool"]["name"] == "pilotgate"
        assert DEPLOYMENT_TAG in spec["tags"]
        assert spec["description"]


def test_only_the_sweep_is_scheduled_and_limited(deployments: dict[str, dict[str, Any]]) -> None:
    sweep = deployments.pop(SWEEP)
    assert [s["cron"] for s in sweep["schedules"]] == ["0 * * * *"]
    assert sweep["concurrency_limit"] == {"limit": 1, "collision_strategy": "CANCEL_NEW"}
    assert sweep["parameters"] == {"dry_run": False}
    assert sweep["tags"] == [DEPLOYMENT_TAG, "sweep"]  # scheduled runs carry the sweep's tag
    assert all(not s["schedules"] and "concurrency_limit" not in s for s in deployments.values())


def test_unresponsive_after_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PILOTGATE_UNRESPONSIVE_AFTER", "120")
    assert automation.build_parser().parse_args([]).unresponsive_after == 120


def test_recovery_automation_reschedules_silent_pilotgate_runs() -> None:
    rule = automation.recovery_automation(90)
    trigger = rule.trigger
    assert trigger.posture == "Proactive" and trigger.within.total_seconds() == 90
    assert "prefect.flow-run.Submitting" in trigger.after
    assert {"prefect.flow-run.Completed", "prefect.flow-run.heartbeat"} <= trigger.expect
    related = trigger.match_related
    assert related is not None and not isinstance(related, list)
    assert related.root == {
        "prefect.resource.role": "tag",
        "prefect.resource.id": f"prefect.tag.{DEPLOYMENT_TAG}",
    }
    (action,) = rule.actions
    assert action.state == "SCHEDULED" and action.force
