"""The one piece of pilotgate's Prefect set-up that `deployments/prefect.yaml` cannot say: an
automation that reschedules an unresponsive run.

    prefect --no-prompt deploy --all --prefect-file deployments/prefect.yaml
    python -m deployments.automation [--unresponsive-after 90]

A run whose process stopped reporting (Pending, Running or a heartbeat, then nothing for
`--unresponsive-after` seconds and no final state) is set back to Scheduled, so a surviving
worker runs it again. This is what finishes the work of a worker that was killed mid-run;
every pilotgate flow is safe to run twice. Workers must send heartbeats more often than that
window: PREFECT_FLOWS_HEARTBEAT_FREQUENCY=30 with the default 90 s. Run it with PREFECT_API_URL
pointing at the Prefect server; running it again replaces the automation.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from config.names import DEPLOYMENT_TAG
from config.prefect_env import apply_defaults

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
                {
                    "prefect.resource.role": "tag",
                    "prefect.resource.id": f"prefect.tag.{DEPLOYMENT_TAG}",
                }
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
        prog="python -m deployments.automation",
        description="Create (or replace) the automation that reschedules a pilotgate flow run "
        "whose worker died, on the Prefect server at PREFECT_API_URL.",
    )
    parser.add_argument(
        "--unresponsive-after",
        type=float,
        default=float(os.environ.get("PILOTGATE_UNRESPONSIVE_AFTER", "90")),
        help="seconds without a sign of life after which a run is rescheduled "
        "on another worker; 0 removes the automation (default: "
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
    automation = ensure_recovery_automation(args.unresponsive_after)
    if not args.quiet:
        print(
            f"automation {AUTOMATION!r}: "
            + (
                f"reschedules runs silent for {args.unresponsive_after:g} s"
                if automation
                else "removed"
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
