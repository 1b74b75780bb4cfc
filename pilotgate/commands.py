"""Commands that run flows or talk to Slack: advance, terminate, sweep, serve.

Prefect is imported only inside these commands, so `pilotgate list` and `status` start
without it.
"""

from __future__ import annotations

import json
import sys
import threading
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, cast

import typer

from config.clock import utcnow
from config.names import STAGE_FLOWS
from config.prefect_env import apply_defaults
from lifecycle.errors import InputError
from lifecycle.stages import TERMINAL, Stage
from pilotgate.console import EXIT_CONFLICT, err, fail, guarded, out, runtime
from store import gates, pilots
from store.errors import Conflict
from tasks.runtime import Runtime, set_runtime


def _parse_now(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InputError(
            "--now", [f"{value!r} is not an ISO time (e.g. 2026-05-01T09:00:00Z)"]
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _launcher(rt: Runtime) -> Any:
    # Deferred: brings slack_sdk (~0.15 s), which `list` and `status` never need.
    from pilotgate.dispatcher import DeploymentLauncher, LocalLauncher

    return DeploymentLauncher() if rt.settings.run_mode == "deployments" else LocalLauncher()


def _flow_runtime() -> Runtime:
    """The runtime for commands that run flows: Prefect defaults first, then settings, schema
    and policy checked, and the runtime made the one tasks use."""
    apply_defaults()
    rt = runtime()
    set_runtime(rt)
    return rt


def _drain_local(rt: Runtime) -> None:
    """Run the follow-up flows a local command queued (in deployments mode `serve` does)."""
    if rt.settings.run_mode == "deployments":
        return
    # Deferred: brings slack_sdk (~0.15 s), which `list` and `status` never need.
    from pilotgate.dispatcher import Dispatcher, LocalLauncher

    client = None
    try:
        # Deferred: slack_sdk loads only for commands that talk to Slack.
        from slack_out.client import make_client

        client = make_client(rt.settings)
    except Exception:
        client = None
    Dispatcher(rt, client=client, launcher=LocalLauncher(), sweep_every=None).drain()


def advance(
    pilot_id: Annotated[str, typer.Argument(help="Pilot id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Start the flow for the pilot's current stage; return once its gate is open."""
    rt = _flow_runtime()
    with guarded():
        with rt.db.session() as session:
            pilot = pilots.get_pilot(session, pilot_id)
            stage = Stage(pilot.stage)
            if stage in TERMINAL:
                raise Conflict(f"pilot {pilot_id} is {stage.value}: there is nothing to advance")
            settling = gates.settled_gate_awaiting_follow_up(session, pilot_id)
            if settling is not None:
                raise Conflict(
                    f"pilot {pilot_id}'s gate {settling.stage} -> {settling.target} was just "
                    f"{settling.status} and its follow-up is still running; try again shortly"
                )
            gate = gates.open_gate_for(session, pilot_id)
            if gate is not None:
                raise Conflict(
                    f"pilot {pilot_id} already has an open gate ({gate.stage} -> "
                    f"{gate.target}, deadline {gate.deadline:%Y-%m-%d %H:%M} UTC);"
                    " see `pilotgate status`"
                )
        flow_name = STAGE_FLOWS[stage]
        if rt.settings.run_mode == "deployments":
            # Deferred: Prefect (~2 s) loads only to run flows, after apply_defaults().
            from prefect.client.schemas.objects import FlowRun
            from prefect.deployments import run_deployment

            run = cast(
                FlowRun,
                run_deployment(
                    f"{flow_name}/pilotgate",
                    parameters={"pilot_id": pilot_id},
                    timeout=300,
                    poll_interval=1,
                ),
            )
            with rt.db.session() as session:
                opened = gates.open_gate_for(session, pilot_id) is not None
            if not opened and (not run.state or not run.state.is_completed()):
                state = run.state.name if run.state else "unknown"
                why = (run.state.message or "") if run.state else ""
                fail(f"flow run {run.id} ended {state}: {why}".rstrip(": "), EXIT_CONFLICT)
        else:
            # Deferred: flows bring Prefect (~2 s), loaded after apply_defaults().
            from flows.registry import flows

            flows()[flow_name](pilot_id=pilot_id, actor="cli")
        with rt.db.session() as session:
            gate = gates.open_gate_for(session, pilot_id)
            if gate is None:
                fail("the flow finished but no gate is open; see `pilotgate status`", EXIT_CONFLICT)
            asked = [(r.approver, r.role) for r in gates.requests_for(session, gate.id)]
            info = {
                "pilot_id": pilot_id,
                "gate_id": gate.id,
                "stage": gate.stage,
                "target": gate.target,
                "deadline": gate.deadline.isoformat(),
                "asked": [{"approver": a, "role": r} for a, r in asked],
                "warnings": (gate.evidence or {}).get("warnings", []),
            }
    if as_json:
        sys.stdout.write(json.dumps(info, indent=2) + "\n")
        return
    out.print(
        f"gate open: {info['stage']} -> {info['target']}, deadline "
        f"{gate.deadline:%Y-%m-%d %H:%M} UTC"
    )
    for a in info["asked"]:
        out.print(f"  asked {a['approver']} ({a['role']})")
    for w in info["warnings"]:
        err.print(f"warning: {w}", highlight=False)


def terminate(
    pilot_id: Annotated[str, typer.Argument(help="Pilot id.")],
    reason: Annotated[str, typer.Option("--reason", help="Why; goes on record.")],
) -> None:
    """Terminate a pilot: close its gates and Slack buttons, notify, free its cap place."""
    if len(reason.strip()) < 5:
        fail("--reason: give a reason of at least 5 characters; it goes on record", 2)
    rt = _flow_runtime()
    with guarded():
        with rt.db.session() as session:
            pilot = pilots.get_pilot(session, pilot_id)
            if Stage(pilot.stage) in TERMINAL:
                raise Conflict(f"pilot {pilot_id} is already {pilot.stage}")
        if rt.settings.run_mode == "deployments":
            # Deferred: Prefect (~2 s) loads only to run flows, after apply_defaults().
            from prefect.deployments import run_deployment

            run_deployment(
                "terminate/pilotgate",
                parameters={"pilot_id": pilot_id, "reason": reason, "actor": "cli"},
                timeout=300,
                poll_interval=1,
            )
        else:
            # Deferred: flows bring Prefect (~2 s), loaded after apply_defaults().
            from flows.terminate import terminate_flow

            terminate_flow(pilot_id=pilot_id, reason=reason, actor="cli")
        with rt.db.session() as session:
            pilot = pilots.get_pilot(session, pilot_id)
            if pilot.stage != Stage.TERMINATED.value:
                fail(
                    f"pilot {pilot_id} is {pilot.stage}; the terminate flow did not finish",
                    EXIT_CONFLICT,
                )
    out.print(f"{pilot_id} terminated: {reason}")


def sweep(
    now: Annotated[
        str | None, typer.Option(help="Sweep as of this ISO time (default: now).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would happen; change nothing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Enforce deadlines, terminate overdue pilots, remind approvers, post the digest."""
    rt = _flow_runtime()
    with guarded():
        at = _parse_now(now) or utcnow()
        # Deferred: flows bring Prefect (~2 s), loaded after apply_defaults().
        from flows.sweep import sweep_flow

        with out.status("sweeping..."):
            result = sweep_flow(now=at, dry_run=dry_run)
            if not dry_run and now is None:
                _drain_local(rt)
            elif not dry_run and rt.settings.run_mode != "deployments":
                # A sweep as of --now: its follow-up flows and its messages (queued at that
                # time) run as of the same time, as they would have then.
                # Deferred: brings slack_sdk (~0.15 s), which `list` and `status` never need.
                from pilotgate.dispatcher import Dispatcher, LocalLauncher

                client = None
                try:
                    # Deferred: slack_sdk loads only for commands that talk to Slack.
                    from slack_out.client import make_client

                    client = make_client(rt.settings)
                except Exception:
                    client = None
                Dispatcher(
                    rt,
                    client=client,
                    launcher=LocalLauncher(clock=lambda: at),
                    clock=lambda: at,
                    sweep_every=None,
                ).drain()
    if as_json:
        sys.stdout.write(json.dumps(result, indent=2, default=str) + "\n")
        return
    if result.get("skipped"):
        out.print(f"sweep skipped: {result['skipped']}")
        return
    plan = cast(dict[str, Any], result["plan"])
    prefix = "would " if dry_run else ""
    for p in plan["overdue_pilots"]:
        out.print(
            f"{prefix}terminate: {p['pilot_id']} {p['title']} (deploy-or-terminate date "
            f"{p['deploy_by'][:10]} passed)"
        )
    for p in plan["stale_proposals"]:
        out.print(
            f"{prefix}terminate: {p['pilot_id']} {p['title']} (proposed "
            f"{p['proposed_at'][:10]}, never put to its gate)"
        )
    for g in plan["expired_gates"]:
        out.print(
            f"{prefix}{g['on_timeout']}: {g['pilot_id']} {g['title']} (gate {g['stage']} "
            f"due {g['deadline'][:16]})"
        )
    for r in plan["reminders"]:
        out.print(
            f"{prefix}remind {', '.join(r['approvers']) or 'nobody'} about {r['pilot_id']} "
            f"({round(r['point'] * 100)}% of the window)"
        )
    total = sum(
        len(plan[k]) for k in ("expired_gates", "overdue_pilots", "stale_proposals", "reminders")
    )
    out.print(
        f"{'dry run: ' if dry_run else ''}{total} item(s) due at {at:%Y-%m-%d %H:%M} UTC"
        + ("; nothing changed" if dry_run else "")
    )


def serve(
    port: Annotated[int, typer.Option(help="HTTP port for POST /slack/events.")] = 3000,
    host: Annotated[
        str, typer.Option(help="Interface to bind (loopback by default).")
    ] = "127.0.0.1",
    socket_mode: Annotated[
        bool,
        typer.Option(
            "--socket-mode", help="Use Socket Mode (needs SLACK_APP_TOKEN) instead of HTTP."
        ),
    ] = False,
    no_listener: Annotated[
        bool,
        typer.Option(
            "--no-listener", help="Run only the dispatcher (outbox relay, flow starts, sweeps)."
        ),
    ] = False,
) -> None:
    """Run the Slack listener, the dispatcher and the sweep schedule in one process."""
    # Deferred: brings slack_sdk (~0.15 s), which `list` and `status` never need.
    from pilotgate.dispatcher import Dispatcher
    from slack_out.client import make_client

    rt = _flow_runtime()
    settings = rt.settings
    if settings.slack_bot_token is None or settings.slack_signing_secret is None:
        fail("SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET must be set to serve", 2)
    if socket_mode and settings.slack_app_token is None:
        fail("--socket-mode needs SLACK_APP_TOKEN (an xapp- token)", 2)
    dispatcher = Dispatcher(
        rt,
        client=make_client(settings),
        launcher=_launcher(rt),
        sweep_every=timedelta(hours=1) if settings.run_mode != "deployments" else None,
    )
    thread = threading.Thread(
        target=dispatcher.run_forever, args=(settings.tick_seconds,), name="dispatcher", daemon=True
    )
    thread.start()
    err.print(f"pilotgate serving: dispatcher running ({settings.run_mode} flows)", highlight=False)
    if no_listener:
        try:
            thread.join()
        except KeyboardInterrupt:
            dispatcher.stop.set()
        return
    # Deferred: slack-bolt, starlette and uvicorn load only for `serve`.
    from slack_in import server

    try:
        if socket_mode:
            assert settings.slack_app_token is not None
            server.serve_socket_mode(
                rt, settings.slack_app_token.get_secret_value(), on_wake=dispatcher.wake.set
            )
        else:
            err.print(f"listening on http://{host}:{port}/slack/events", highlight=False)
            server.serve_http(rt, host=host, port=port, on_wake=dispatcher.wake.set)
    finally:
        dispatcher.stop.set()
        dispatcher.wake.set()


def register(app: typer.Typer) -> None:
    app.command()(advance)
    app.command()(terminate)
    app.command()(sweep)
    app.command()(serve)
