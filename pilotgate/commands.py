"""Commands that run flows or talk to Slack: advance, terminate, sweep, serve.

Prefect is imported only inside these commands, so `pilotgate list` and `status` start
without it. The commands that run a flow say at once what they are doing (on stderr), because
starting Prefect and its temporary local API takes seconds.

Hand-over: where `pilotgate serve` runs against the same register (its `GET /healthz` at
PILOTGATE_SERVE_URL names the register's fingerprint), `advance` and `terminate` do not start
Prefect here: they queue the flow request `serve`'s dispatcher drains anyway, wake it, wait
until it is done or failed, and print what they would have printed had they run the flow. Not
reachable (or Socket Mode / `--no-listener`, which have no HTTP port), another register, or
deployments mode: the flow runs as before. `sweep` always runs here: what it prints is the
flow's own result, which a flow request does not carry back.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import signal
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, cast
from urllib.parse import urlsplit

import typer
from rich.markup import escape

from config.clock import utcnow
from config.names import DEPLOYMENT, STAGE_FLOWS, SWEEP, TERMINATE, VALUE_REVIEW
from config.prefect_env import apply_defaults
from lifecycle.stages import ACTIVE, LIVE, Stage
from lifecycle.statuses import FlowRequestStatus
from pilotgate.console import (
    EXIT_CONFLICT,
    EXIT_FOR_KIND,
    Progress,
    err,
    fail,
    guarded,
    out,
    runtime,
)
from store.errors import Conflict

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from lifecycle.policy import Policy
    from tasks.runtime import Runtime

#: how `pilotgate serve` names itself in `GET /healthz` (slack_in.server.SERVE_SERVICE, not
#: imported here: it would bring slack-bolt).
SERVE_SERVICE = "pilotgate serve"
#: the probe (stdlib http.client, already loaded by every `pilotgate` process; httpx would add
#: about 0.2 s): connecting is refused at once where nothing listens; a serve busy running a
#: flow may take a moment to answer.
PROBE_CONNECT_SECONDS = 0.3
PROBE_READ_SECONDS = 0.7
#: how often a command that handed a flow over looks at its request, and at serve.
POLL_SECONDS = 0.1
REPROBE_SECONDS = 2.0


def _starting_prefect() -> str:
    if os.environ.get("PREFECT_API_URL"):
        return "starting Prefect..."
    return "starting Prefect (the flow run also starts its temporary local API)..."


def _parse_now(value: str | None) -> datetime | None:
    # Deferred: SQLAlchemy and pydantic load when a command runs, not for `pilotgate --help`.
    from lifecycle.errors import InputError

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
    # Deferred: SQLAlchemy and pydantic load when a command runs, not for `pilotgate --help`.
    from tasks.runtime import set_runtime

    apply_defaults()
    rt = runtime()
    set_runtime(rt)
    return rt


def _drain_local(rt: Runtime, at: datetime | None = None) -> None:
    """Run the follow-up flows a local command queued (in deployments mode `serve` does), as
    of `at` if given (a simulated time), else as of now."""
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
    if at is None:
        dispatcher = Dispatcher(rt, client=client, launcher=LocalLauncher(), sweep_every=None)
    else:
        dispatcher = Dispatcher(
            rt,
            client=client,
            launcher=LocalLauncher(clock=lambda: at),
            clock=lambda: at,
            sweep_every=None,
        )
    dispatcher.drain()


# ---------------------------------------------------------------- hand-over to `pilotgate serve`


def _shown(url: str) -> str:
    """A URL fit to print: no user or password."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]).geturl()


def _connect(url: str, timeout: float) -> http.client.HTTPConnection:
    """A connection to serve (never through a proxy: serve is on loopback or the internal
    network). Raises OSError if nothing accepts it within `timeout`."""
    parts = urlsplit(url)
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = kind(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    try:
        conn.connect()
    except BaseException:
        conn.close()
        raise
    return conn


def _call(method: str, url: str) -> tuple[int, bytes]:
    """One small request to serve: a short connect (refused at once where nothing listens), a
    little longer to answer (a serve busy running a flow may take a moment)."""
    conn = _connect(url, PROBE_CONNECT_SECONDS)
    try:
        if conn.sock is not None:
            conn.sock.settimeout(PROBE_READ_SECONDS)
        parts = urlsplit(url)
        conn.request(method, parts.path or "/", headers={"Accept": "application/json"})
        response = conn.getresponse()
        return response.status, response.read(1 << 16)
    finally:
        conn.close()


def serve_for(rt: Runtime) -> str | None:
    """The base URL of a `pilotgate serve` whose dispatcher runs this register's flows in its
    own process, or None: nothing answers at PILOTGATE_SERVE_URL, it serves another register,
    or flows run as deployments (then `advance` works as before)."""
    # Deferred: SQLAlchemy and pydantic load when a command runs, not for `pilotgate --help`.
    from store.db import register_fingerprint

    mine = register_fingerprint(rt.db.url)
    if rt.settings.run_mode != "local" or not mine:
        return None
    base = rt.settings.serve_url.rstrip("/")
    try:
        status, body = _call("GET", base + "/healthz")
        data = json.loads(body)
    except (OSError, http.client.HTTPException, ValueError):
        return None
    if status != 200 or not isinstance(data, dict):
        return None
    if (
        data.get("service") != SERVE_SERVICE
        or data.get("register") != mine
        or data.get("run_mode") != "local"
        or data.get("dispatcher") is not True
    ):
        return None
    return base


def _serve_gone(base: str) -> bool:
    """Nothing listens at serve's address any more (a busy serve that answers slowly is not
    gone)."""
    try:
        _connect(base + "/healthz", REPROBE_SECONDS).close()
    except OSError:
        return True
    return False


def _wake(base: str) -> None:
    """Ask serve's dispatcher to look at the queue now rather than at its next tick. Best
    effort: the request is in the database, and the tick finds it anyway."""
    with contextlib.suppress(OSError, http.client.HTTPException):
        _call("POST", base + "/internal/wake")


def _fail_from_serve(flow: str, error: str | None) -> NoReturn:
    """A flow that failed in serve, reported as if it had failed here: the same message and
    exit code (the dispatcher puts the kind of refusal first: `[conflict] module.Class: ...`)."""
    text = (error or "").strip()
    kind = None
    if text.startswith("[") and "] " in text:
        kind, text = text[1:].split("] ", 1)
    if kind in EXIT_FOR_KIND:
        _, sep, message = text.partition(": ")
        message = message.strip() if sep else text
        if kind == "database":
            message = f"the database is unreachable (in pilotgate serve): {message}"
        fail(message, EXIT_FOR_KIND[kind])
    fail(f"the {flow} flow failed in pilotgate serve: {text or 'no error recorded'}", 1)


def hand_over(
    rt: Runtime,
    progress: Progress,
    flow: str,
    parameters: dict[str, Any],
    *,
    pilot_id: str,
    doing: str,
) -> bool:
    """Run `flow` in `pilotgate serve` if one serves this register: True once it is done (a
    failure exits as the flow would have here); False if there is no serve to hand it to, or
    serve went away before starting it (the request is withdrawn): run it here."""
    # Deferred: SQLAlchemy and pydantic load when a command runs, not for `pilotgate --help`.
    from store import flow_queue

    base = serve_for(rt)
    if base is None:
        return False
    key = f"{flow_queue.WAITED_PREFIX}{flow}:{pilot_id}:{uuid.uuid4().hex[:12]}"
    with rt.db.session() as session:
        request_id = flow_queue.request_flow(
            session, flow, parameters, now=utcnow(), pilot_id=pilot_id, dedupe_key=key
        )
    if request_id is None:  # the key is new, so this cannot happen; run here rather than wait
        return False
    _wake(base)
    progress.say(
        f"handed over to pilotgate serve at {_shown(base)} (flow request {request_id}); "
        f"waiting for it to {doing}..."
    )
    timeout = rt.settings.handover_timeout
    deadline = time.monotonic() + timeout
    next_probe = time.monotonic() + REPROBE_SECONDS
    seen_started = False
    while True:
        with rt.db.session() as session:
            request = flow_queue.get_flow_request(session, request_id)
            status = request.status if request else FlowRequestStatus.FAILED
            error = request.error if request else "the flow request disappeared"
        if status == FlowRequestStatus.DONE:
            return True
        if status == FlowRequestStatus.FAILED:
            _fail_from_serve(flow, error)
        if status == FlowRequestStatus.STARTED and not seen_started:
            seen_started = True
            progress.say(f"pilotgate serve is running the {flow} flow: {doing}...")
        now = time.monotonic()
        if now >= deadline or (now >= next_probe and _serve_gone(base)):
            gone = now < deadline
            with rt.db.session() as session:
                withdrawn = flow_queue.withdraw_flow_request(
                    session,
                    request_id,
                    now=utcnow(),
                    why="withdrawn: the command that queued it stopped waiting",
                )
            if withdrawn and gone:
                progress.say("pilotgate serve went away before starting the flow; running it here")
                return False
            if withdrawn:
                fail(
                    f"pilotgate serve at {_shown(base)} did not start the {flow} flow within "
                    f"{timeout:g} s (PILOTGATE_HANDOVER_TIMEOUT); the request was withdrawn and "
                    "nothing changed: try again, or stop serve to run flows here",
                    EXIT_CONFLICT,
                )
            if not gone or status != FlowRequestStatus.PENDING:
                fail(
                    f"pilotgate serve {'stopped while running' if gone else 'is still running'}"
                    f" the {flow} flow (flow request {request_id}); "
                    + ("it runs again when serve restarts" if gone else "it finishes there")
                    + f"; see `pilotgate status {pilot_id}`",
                    EXIT_CONFLICT,
                )
            continue  # serve took it in the same instant: read how it went
        if now >= next_probe:
            next_probe = now + REPROBE_SECONDS
        time.sleep(POLL_SECONDS)


# ---------------------------------------------------------------- the commands


def advance(
    pilot_id: Annotated[str, typer.Argument(help="Pilot id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Start the flow for the pilot's current stage; return once its gate is open."""
    # Deferred: SQLAlchemy and pydantic load when a command runs, not for `pilotgate --help`.
    from store import gates, pilots

    rt = _flow_runtime()
    with guarded():
        with rt.db.session() as session:
            pilot = pilots.get_pilot(session, pilot_id)
            stage = Stage(pilot.stage)
            if stage not in ACTIVE:
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
        opening = f"open the {stage.value} gate and ask its approvers"
    _open_by_flow(rt, pilot_id, flow_name, opening, as_json)


def why_not_review(session: Session, policy: Policy, pilot_id: str) -> str | None:
    """`pilotgate review`'s refusals (None: the review may open now)."""
    # Deferred: SQLAlchemy and pydantic load when a command runs, not for `pilotgate --help`.
    from store import pilots, value_reviews

    pilot = pilots.get_pilot(session, pilot_id)
    if policy.value.review is None:
        return (
            "the policy has no value reviews: add value.review (after_days, approvers) to "
            "the policy to review pilots in production"
        )
    if Stage(pilot.stage) not in LIVE:
        return (
            f"pilot {pilot.id} is {pilot.stage}: only a pilot in production has a value "
            "review (before then, `pilotgate advance` opens its stage's gate)"
        )
    if value_reviews.facts_of(session, pilot).open_review:
        return f"pilot {pilot.id} already has its value review open; see `pilotgate status`"
    return None


def review(
    pilot_id: Annotated[str, typer.Argument(help="Pilot id (in production).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Open a production pilot's value review now: sustain, adjust or retire.

    Whether or not the policy's schedule has it due; returns once its gate is open."""
    rt = _flow_runtime()
    with guarded(), rt.db.session() as session:
        refused = why_not_review(session, rt.policy, pilot_id)
        if refused is not None:
            raise Conflict(refused)
    _open_by_flow(
        rt, pilot_id, VALUE_REVIEW, "open the value review and ask its approvers", as_json
    )


def _open_by_flow(rt: Runtime, pilot_id: str, flow_name: str, opening: str, as_json: bool) -> None:
    """Run `flow_name` for the pilot (on a worker, by `serve`, or here) and print the gate it
    opened: `advance`'s and `review`'s shared second half."""
    # Deferred: SQLAlchemy and pydantic load when a command runs, not for `pilotgate --help`.
    from store import gates, outbox
    from tasks.run_tags import labels_for, tags_for

    with guarded(), Progress() as progress:
        if rt.settings.run_mode == "deployments":
            progress.say(_starting_prefect())
            # Deferred: Prefect (~2 s) loads only to run flows, after apply_defaults().
            from prefect.client.schemas.objects import FlowRun
            from prefect.deployments import run_deployment

            progress.say(
                f"creating a {flow_name} run on the Prefect server; a worker will {opening}..."
            )
            labels = labels_for(flow_name, {"pilot_id": pilot_id})
            run = cast(
                FlowRun,
                run_deployment(
                    f"{flow_name}/{DEPLOYMENT}",
                    parameters={"pilot_id": pilot_id},
                    flow_run_name=labels.name,
                    tags=labels.tags,
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
        elif not hand_over(
            rt,
            progress,
            flow_name,
            {"pilot_id": pilot_id, "actor": "cli"},
            pilot_id=pilot_id,
            doing=opening,
        ):
            progress.say(_starting_prefect())
            # Deferred: flows bring Prefect (~2 s), loaded after apply_defaults().
            from prefect import tags

            from flows.registry import flows

            progress.say(f"running the {flow_name} flow: {opening}...")
            with tags(*tags_for(flow_name, {"pilot_id": pilot_id})):
                flows()[flow_name](pilot_id=pilot_id, actor="cli")
        with rt.db.session() as session:
            gate = gates.open_gate_for(session, pilot_id)
            if gate is None:
                fail("the flow finished but no gate is open; see `pilotgate status`", EXIT_CONFLICT)
            requests = gates.requests_for(session, gate.id)
            waiting = outbox.undelivered_asks(session, [r.id for r in requests])
            info = {
                "pilot_id": pilot_id,
                "gate_id": gate.id,
                "stage": gate.stage,
                "target": gate.target,
                "deadline": gate.deadline.isoformat(),
                "asked": [
                    {"approver": r.approver, "role": r.role, "delivered": r.id not in waiting}
                    for r in requests
                ],
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
        verb = "asked" if a["delivered"] else "queued the ask for"
        out.print(f"  {verb} {a['approver']} ({a['role']})")
    queued = sum(1 for a in info["asked"] if not a["delivered"])
    if queued:
        err.print(
            f"{queued} ask(s) wait in the outbox: `pilotgate serve` delivers them "
            "(it needs SLACK_BOT_TOKEN and SLACK_API_URL for Slack)",
            highlight=False,
        )
    for w in info["warnings"]:
        err.print(f"warning: {w}", highlight=False)


def _interactive() -> bool:
    """Whether a person is at the terminal to answer a question."""
    return sys.stdin.isatty()


def terminate(
    pilot_id: Annotated[str, typer.Argument(help="Pilot id.")],
    reason: Annotated[str, typer.Option("--reason", help="Why; goes on record.")],
    yes: Annotated[
        bool,
        typer.Option("--yes", "-y", help="Do not ask for confirmation (scripts)."),
    ] = False,
) -> None:
    """Terminate a pilot: close its gates and Slack buttons, notify, free its cap place. Asks
    for confirmation on a terminal; --yes skips the question."""
    # Deferred: SQLAlchemy and pydantic load when a command runs, not for `pilotgate --help`.
    from store import pilots
    from tasks.run_tags import labels_for, tags_for

    if len(reason.strip()) < 5:
        fail("--reason: give a reason of at least 5 characters; it goes on record", 2)
    rt = _flow_runtime()
    if not yes and _interactive():
        with guarded(), rt.db.session() as session:
            title = pilots.get_pilot(session, pilot_id).title
        if not typer.confirm(
            f"Terminate {pilot_id} ({title})? Its gates close and it cannot be undone"
        ):
            err.print("nothing changed", highlight=False)
            raise typer.Exit(EXIT_CONFLICT)
    doing = "terminate the pilot, close its gates and Slack buttons"
    with guarded(), Progress() as progress:
        with rt.db.session() as session:
            pilot = pilots.get_pilot(session, pilot_id)
            if Stage(pilot.stage) not in ACTIVE:
                raise Conflict(f"pilot {pilot_id} is already {pilot.stage}")
        if rt.settings.run_mode == "deployments":
            progress.say(_starting_prefect())
            # Deferred: Prefect (~2 s) loads only to run flows, after apply_defaults().
            from prefect.deployments import run_deployment

            progress.say(
                f"creating a terminate run on the Prefect server; a worker will {doing}..."
            )
            labels = labels_for(TERMINATE, {"pilot_id": pilot_id})
            run_deployment(
                f"{TERMINATE}/{DEPLOYMENT}",
                parameters={"pilot_id": pilot_id, "reason": reason, "actor": "cli"},
                flow_run_name=labels.name,
                tags=labels.tags,
                timeout=300,
                poll_interval=1,
            )
        elif not hand_over(
            rt,
            progress,
            TERMINATE,
            {"pilot_id": pilot_id, "reason": reason, "actor": "cli"},
            pilot_id=pilot_id,
            doing=doing,
        ):
            progress.say(_starting_prefect())
            # Deferred: flows bring Prefect (~2 s), loaded after apply_defaults().
            from prefect import tags

            from flows.terminate import terminate_flow

            progress.say(f"running the terminate flow: {doing}...")
            with tags(*tags_for(TERMINATE, {"pilot_id": pilot_id})):
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
    # Deferred: SQLAlchemy and pydantic load when a command runs, not for `pilotgate --help`.
    from tasks.run_tags import tags_for

    rt = _flow_runtime()
    with guarded(), Progress() as progress:
        at = _parse_now(now) or utcnow()
        progress.say(_starting_prefect())
        # Deferred: flows bring Prefect (~2 s), loaded after apply_defaults().
        from prefect import tags

        from flows.sweep import sweep_flow

        progress.say(
            f"sweeping as of {at:%Y-%m-%d %H:%M} UTC"
            + (" (dry run: changing nothing)" if dry_run else "")
            + "..."
        )
        with tags(*tags_for(SWEEP, {"dry_run": dry_run})):
            result = sweep_flow(now=at, dry_run=dry_run)
        if not dry_run and rt.settings.run_mode != "deployments":
            progress.say("running the follow-up flows the sweep queued...")
            # A sweep as of --now: its follow-up flows and its messages (queued at that time)
            # run as of the same time, as they would have then.
            _drain_local(rt, at=None if now is None else at)
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
    warned = cast(list[dict[str, Any]], result.get("warnings", []))
    for w in warned:
        out.print(
            f"{prefix}warn {', '.join(w['told'])} about {w['pilot_id']} {w['title']}: gate "
            f"due {w['deadline'][:16]} ({w['time_left']} left), not answered: "
            f"{', '.join(w['waiting']) or 'nobody'}",
            markup=False,
            highlight=False,
        )
    total = len(warned) + sum(
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
    # Deferred: SQLAlchemy and pydantic load when a command runs, not for `pilotgate --help`.
    # Deferred: brings slack_sdk (~0.15 s), which `list` and `status` never need.
    from pilotgate.dispatcher import Dispatcher
    from slack_out.client import make_client
    from store.db import register_fingerprint

    _exit_cleanly_on_sigterm()
    _log_to_stderr()
    rt = _flow_runtime()
    settings = rt.settings
    if settings.slack_bot_token is None or settings.slack_signing_secret is None:
        fail("SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET must be set to serve", 2)
    if socket_mode and settings.slack_app_token is None:
        fail("--socket-mode needs SLACK_APP_TOKEN (an xapp- token)", 2)
    _check_slack(rt, make_client(settings, retries=0, timeout=5))
    dispatcher = Dispatcher(
        rt,
        client=make_client(settings),
        launcher=_launcher(rt),
        sweep_every=timedelta(hours=1) if settings.run_mode != "deployments" else None,
        names_every=timedelta(minutes=1),
        # Prefect (and its temporary local API) starts with the first flow that has to run.
        skip_idle_sweeps=True,
    )
    thread = threading.Thread(
        target=dispatcher.run_forever, args=(settings.tick_seconds,), name="dispatcher", daemon=True
    )
    thread.start()
    err.print(
        f"pilotgate serving: dispatcher running ({settings.run_mode} flows), register "
        f"{register_fingerprint(rt.db.url) or '(not shareable)'}",
        highlight=False,
    )
    if no_listener:
        try:
            thread.join()
        except KeyboardInterrupt:
            dispatcher.stop.set()
        return
    # Deferred: slack-bolt, starlette and uvicorn load only for `serve`.
    from slack_in import server
    from web.app import create_routes

    try:
        if socket_mode:
            assert settings.slack_app_token is not None
            server.serve_socket_mode(
                rt, settings.slack_app_token.get_secret_value(), on_wake=dispatcher.wake.set
            )
        else:
            err.print(
                f"listening on http://{host}:{port}/slack/events; pages at "
                f"{settings.base_url.rstrip('/')}/",
                highlight=False,
            )
            pages = create_routes(rt, on_wake=dispatcher.wake.set)
            server.serve_http(
                rt,
                host=host,
                port=port,
                on_wake=dispatcher.wake.set,
                serving=True,
                routes=pages,
            )
    finally:
        dispatcher.stop.set()
        dispatcher.wake.set()


def _exit_cleanly_on_sigterm() -> None:
    """Make SIGTERM end `serve` the way Ctrl-C does: through the interpreter's exit, where
    Prefect stops the temporary local API it started as a child process (an atexit hook).
    SIGTERM's default action ends the process on the spot, skipping that hook, and left the
    API running as an orphan. uvicorn, while it listens, takes the signal for its graceful
    shutdown and then raises it again, so this handler runs after it too."""

    def _exit(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _exit)


def _log_to_stderr() -> None:
    """`serve` logs one line per decision, delivery and flow start (the `pilotgate.*` loggers,
    INFO) on stderr, on its own handler: Prefect, once loaded, configures only its own loggers
    and the root. Bolt's logger stays at WARNING: at INFO it would print request bodies."""
    logger = logging.getLogger("pilotgate")
    if not any(getattr(h, "_pilotgate", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        handler._pilotgate = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    logging.getLogger("pilotgate.bolt").setLevel(logging.WARNING)


def register(app: typer.Typer) -> None:
    app.command()(advance)
    app.command()(review)
    app.command()(terminate)
    app.command()(sweep)
    app.command()(serve)


def _check_slack(rt: Runtime, client: Any) -> None:
    """`serve` start-up: the token works (`auth.test`) and the bot can post to the digest
    channel. Problems are said loudly; a refused token also pauses the relay (recorded, shown
    by /healthz and `status`) until a call works."""
    # Deferred: slack_sdk loads only for commands that talk to Slack.
    from slack_out import preflight

    token = preflight.check_token(client)
    preflight.record(rt.db, token, utcnow())
    err.print(("" if token.ok else "[bold red]Slack: [/]") + escape(token.message), highlight=False)
    channel = rt.policy.portfolio.digest_channel
    if token.ok and channel:
        found = preflight.check_channel(client, channel)
        err.print(("" if found.ok else "[bold red]warning: [/]") + escape(found.message))
