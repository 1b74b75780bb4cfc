"""Register every pilotgate flow as deployment "pilotgate" on a process work pool.

    prefect work-pool create pilotgate --type process
    python -m deployments.deploy --pool pilotgate

Run it with PREFECT_API_URL pointing at the Prefect server, from a checkout of pilotgate; run
it again after every upgrade (it updates the deployments in place). It registers:

- `<flow>/pilotgate` for every flow in flows/registry.py: the deployment names that
  `pilotgate advance`, `pilotgate terminate` and the dispatcher in `pilotgate serve` create runs
  of (PILOTGATE_RUN_MODE=deployments). The code is pulled from `--source` (default: this
  checkout's root, which every worker must then have at the same path; a git URL works too):
  no image, no Docker, a plain process work pool.
- the sweep's schedule: cron PILOTGATE_SWEEP_CRON (default hourly, "0 * * * *"), with a
  deployment concurrency limit of 1 that drops (CANCEL_NEW) a sweep that finds one running.
- no deployment concurrency limit on the stage flows, resolve-gate and terminate: Prefect's
  deployment limits count runs of the whole deployment, not of one pilot, so a limit of 1 would
  queue every pilot behind every other. "A pilot never has two runs of the same gate at once"
  is enforced where the gate lives, in pilotgate's database: opening a gate locks the pilot row
  and refuses a second open gate; acting on a resolved gate is a conditional update
  (`claim_continuation`) that exactly one run wins. A duplicate run changes nothing (a
  second stage-flow run fails with a Conflict, a second resolve-gate finds the gate claimed).
- an automation that reschedules an unresponsive run: a run whose process stopped reporting
  (Pending, Running or a heartbeat, then nothing for `--unresponsive-after` seconds and no
  final state) is set back to Scheduled, so a surviving worker runs it again. This is what
  finishes the work of a worker that was killed mid-run; every pilotgate flow is safe to run
  twice. Workers must send heartbeats more often than that window:
  PREFECT_FLOWS_HEARTBEAT_FREQUENCY=30 with the default 90 s.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from config.names import SWEEP
from config.prefect_env import apply_defaults
from config.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DEPLOYMENT = "pilotgate"  # the name pilotgate.commands and pilotgate.dispatcher run
TAG = "pilotgate"
AUTOMATION = "pilotgate: reschedule unresponsive flow runs"
#: Flow-run events that say "this run's process is alive" or "this run is over".
_ALIVE = (
    "prefect.flow-run.Pending",
    "prefect.flow-run.Submitting",
    "prefect.flow-run.Running",
    "prefect.flow-run.Retrying",
    "prefect.flow-run.heartbeat",
)
_FINAL = (
    "prefect.flow-run.Completed",
    "prefect.flow-run.Failed",
    "prefect.flow-run.Cancelled",
    "prefect.flow-run.Cancelling",
    "prefect.flow-run.Crashed",
    "prefect.flow-run.Paused",
    "prefect.flow-run.Suspended",
    "prefect.flow-run.Scheduled",
    "prefect.flow-run.AwaitingRetry",
)


def entrypoint(flow: Any) -> str:
    """`flows/proposal.py:proposal_flow` for the flow object defined there."""
    module = flow.fn.__module__
    return f"{module.replace('.', '/')}.py:{flow.fn.__name__}"


def plan(sweep_cron: str) -> list[dict[str, Any]]:
    """What to register: one entry per flow, with its schedule and concurrency options."""
    # Deferred: Prefect loads after main() has applied config.prefect_env defaults.
    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy

    from flows.registry import flows

    specs = []
    for name, flow in sorted(flows().items()):
        spec: dict[str, Any] = {
            "flow": name,
            "entrypoint": entrypoint(flow),
            "description": (flow.description or "").strip() or None,
        }
        if name == SWEEP:
            spec["cron"] = sweep_cron
            spec["parameters"] = {"dry_run": False}
            spec["concurrency_limit"] = ConcurrencyLimitConfig(
                limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW
            )
        specs.append(spec)
    return specs


def deploy(
    pool: str, source: str, sweep_cron: str, *, work_queue: str | None = None, quiet: bool = False
) -> dict[str, str]:
    """Create or update every deployment; returns {"<flow>/pilotgate": deployment id}.

    Uses `to_deployment(...).apply()`, not `Flow.deploy()`: on prefect 3.8.8 with the pinned
    fastapi 0.154.0, `Flow.deploy()` (and `prefect deploy`) first lists the pool's workers and
    the server answers 422 to the client's `"limit": null`.
    """
    # Deferred: Prefect loads after main() has applied config.prefect_env defaults.
    from prefect import Flow
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            work_pool = client.read_work_pool(pool)
        except ObjectNotFound:
            raise ValueError(
                f"work pool {pool!r} does not exist: create it with `prefect "
                f"work-pool create {pool} --type process`"
            ) from None
    if work_pool.type != "process":
        print(
            f"warning: work pool {pool!r} is of type {work_pool.type!r}; pilotgate's "
            "deployments are made for a process pool",
            file=sys.stderr,
        )
    ids: dict[str, str] = {}
    for spec in plan(sweep_cron):
        flow: Any = Flow.from_source(source=source, entrypoint=spec["entrypoint"])
        deployment = flow.to_deployment(
            name=DEPLOYMENT,
            work_pool_name=pool,
            work_queue_name=work_queue,
            cron=spec.get("cron"),
            parameters=spec.get("parameters"),
            concurrency_limit=spec.get("concurrency_limit"),
            description=spec["description"],
            tags=[TAG],
        )
        deployment_id = deployment.apply(work_pool_name=pool)
        ids[f"{spec['flow']}/{DEPLOYMENT}"] = str(deployment_id)
        if not quiet:
            extra = f" (cron {spec['cron']!r}, one at a time)" if spec.get("cron") else ""
            print(f"deployed {spec['flow']}/{DEPLOYMENT} <- {spec['entrypoint']}{extra}")
    return ids


def recovery_automation(unresponsive_after: float) -> Any:
    """The automation that reschedules a pilotgate run whose process went silent."""
    # Deferred: Prefect loads after main() has applied config.prefect_env defaults.
    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture
    from prefect.events.schemas.events import ResourceSpecification

    return AutomationCore(
        name=AUTOMATION,
        description="A pilotgate flow run went silent (its worker or process died): run it "
        "again on another worker. pilotgate flows are idempotent.",
        trigger=EventTrigger(
            posture=Posture.Proactive,
            match=ResourceSpecification({"prefect.resource.id": "prefect.flow-run.*"}),
            match_related=ResourceSpecification(
                {"prefect.resource.role": "tag", "prefect.resource.id": f"prefect.tag.{TAG}"}
            ),
            after=set(_ALIVE),
            expect={*_ALIVE, *_FINAL},
            for_each={"prefect.resource.id"},
            threshold=1,
            within=timedelta(seconds=unresponsive_after),
        ),
        actions=[
            ChangeFlowRunState(
                state=StateType.SCHEDULED,
                name="AwaitingRetry",
                force=True,
                message=f"rescheduled by pilotgate: no sign of life for {unresponsive_after:g} s "
                "(worker or flow process died)",
            )
        ],
    )


def ensure_recovery_automation(unresponsive_after: float) -> str | None:
    """Replace the automation (by name); 0 removes it. Returns its id."""
    # Deferred: Prefect loads after main() has applied config.prefect_env defaults.
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        for old in client.read_automations_by_name(AUTOMATION):
            client.delete_automation(old.id)
        if unresponsive_after <= 0:
            return None
        return str(client.create_automation(recovery_automation(unresponsive_after)))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m deployments.deploy",
        description="Register every pilotgate flow as deployment 'pilotgate' on a Prefect work "
        "pool (PREFECT_API_URL). Safe to run again: it updates in place.",
    )
    parser.add_argument(
        "--pool",
        required=True,
        help="process work pool (create it first: prefect work-pool create NAME --type process)",
    )
    parser.add_argument(
        "--work-queue",
        default=None,
        help="work queue in the pool (default: the pool's default queue)",
    )
    parser.add_argument(
        "--source",
        default=str(ROOT),
        help="where workers get the code: a directory every worker has, or a "
        "git URL (default: this checkout, %(default)s)",
    )
    parser.add_argument(
        "--sweep-cron",
        default=Settings().sweep_cron,
        help="the sweep's schedule (default: PILOTGATE_SWEEP_CRON or hourly; now %(default)r)",
    )
    parser.add_argument(
        "--unresponsive-after",
        type=float,
        default=float(os.environ.get("PILOTGATE_UNRESPONSIVE_AFTER", "90")),
        help="seconds without a sign of life after which a run is rescheduled "
        "on another worker; 0 disables (default: "
        "PILOTGATE_UNRESPONSIVE_AFTER or 90; now %(default)g). Keep it "
        "above PREFECT_FLOWS_HEARTBEAT_FREQUENCY (min 30) plus a margin",
    )
    parser.add_argument("--quiet", action="store_true", help="print nothing on success")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    apply_defaults()
    args = build_parser().parse_args(argv)
    # Deferred: Prefect loads after main() has applied config.prefect_env defaults.
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        print(
            "error: set PREFECT_API_URL to the Prefect server's API "
            "(e.g. http://127.0.0.1:4200/api)",
            file=sys.stderr,
        )
        return 2
    try:
        deploy(
            args.pool, args.source, args.sweep_cron, work_queue=args.work_queue, quiet=args.quiet
        )
    except ValueError as exc:  # e.g. the work pool does not exist
        print(f"error: {exc}", file=sys.stderr)
        return 2
    automation = ensure_recovery_automation(args.unresponsive_after)
    if not args.quiet:
        print(
            f"automation {AUTOMATION!r}: "
            + (
                f"reschedules runs silent for {args.unresponsive_after:g} s"
                if automation
                else "disabled"
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
