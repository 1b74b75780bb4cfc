"""The dispatcher: the loop that keeps things moving without anyone waiting.

Each tick it (1) relays the Slack outbox, (2) starts the flow runs that committed state changes
asked for (flow_requests), and (3) runs the sweep when a gate's deadline has passed or the
sweep's schedule comes round; in `serve` it also refreshes people's names from Slack (a small
batch of users.info calls a minute, `slack_out.people`). Everything it acts on is in the
database, so killing it loses nothing: a restarted dispatcher finds the same rows.

Flows run in this process ("local", the embedded default) or are created as deployment runs on
a Prefect server for workers to pick up ("deployments", at scale). In `serve` a scheduled sweep
is queued only when the database shows it has something to do (`sweep_work`), so a `serve` with
nothing due never starts Prefect's temporary local API: the first flow that has to run does.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, cast

from slack_sdk import WebClient

from config.clock import utcnow
from config.names import DEPLOYMENT, SWEEP, Keys
from lifecycle.deadlines import CONTINUATION_GRACE, DIGEST_AHEAD
from lifecycle.policy import Policy
from lifecycle.statuses import FlowRequestStatus
from pilotgate.console import error_kind
from slack_out import messages
from slack_out.people import refresh_names
from slack_out.relay import relay_outbox
from store import delegations, flow_queue, gates, outbox, pilots, value_reviews
from store.errors import NotFound
from tasks.run_tags import labels_for, tags_for
from tasks.runtime import Runtime

if TYPE_CHECKING:
    from prefect.client.schemas.objects import State

log = logging.getLogger("pilotgate.dispatcher")


class Launcher(Protocol):
    #: a launch error means "try again later" (the Prefect API was unreachable), not "the
    #: flow failed".
    retry_on_error: bool

    def launch(self, flow: str, parameters: dict[str, Any], key: str) -> str | None: ...


class LocalLauncher:
    """Runs a flow to completion in this process (against Prefect's local API)."""

    retry_on_error = False

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self.clock = clock

    def launch(self, flow: str, parameters: dict[str, Any], key: str) -> str | None:
        # Deferred: Prefect loads only when a flow runs, after config.prefect_env has set its
        # defaults (and `pilotgate list` never pays for it).
        from prefect import tags

        from flows.registry import flows

        params = dict(parameters)
        if self.clock is not None:
            params.setdefault("now", self.clock())
        # Tagged where it is created (pilot:, portfolio:, stage:, gate:), found by tag in the UI.
        with tags(*tags_for(flow, parameters)):
            state: State[Any] = cast("State[Any]", flows()[flow](**params, return_state=True))
        if state.is_failed():
            state.result()  # raises the flow's exception
        return str(state.state_details.flow_run_id) if state.state_details.flow_run_id else None


class DeploymentLauncher:
    """Creates a run of the flow's deployment on the Prefect server; a worker runs it."""

    retry_on_error = True

    def __init__(self, deployment_name: str = DEPLOYMENT) -> None:
        self.deployment_name = deployment_name

    def launch(self, flow: str, parameters: dict[str, Any], key: str) -> str | None:
        # Deferred: Prefect loads only when a flow runs (see LocalLauncher.launch).
        from prefect.client.schemas.objects import FlowRun
        from prefect.deployments import run_deployment

        # Named and tagged as it is created, so it is found while it waits for a worker.
        labels = labels_for(flow, parameters)
        run = cast(
            FlowRun,
            run_deployment(
                f"{flow}/{self.deployment_name}",
                parameters=parameters,
                timeout=0,
                flow_run_name=labels.name,
                tags=labels.tags,
                # One run per flow request, even if a restarted dispatcher launches it again.
                idempotency_key=key,
            ),
        )
        return str(run.id)


def _what(flow: str, pilot_id: str | None, request_id: int, params: dict[str, Any]) -> str:
    """The `key=value` words naming a flow request in the log (no parameter values beyond who
    asked: a reason stays in the database)."""
    return (
        f"flow={flow} pilot={pilot_id or '-'} request={request_id} "
        f"actor={params.get('actor') or '-'}"
    )


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text[:300]}"


@dataclass
class TickReport:
    sent: int = 0
    flows_started: int = 0
    flows_failed: int = 0
    swept: bool = False
    errors: list[str] = field(default_factory=list)

    @property
    def busy(self) -> bool:
        return bool(self.sent or self.flows_started or self.flows_failed or self.swept)


def sweep_work(session: Any, now: datetime, policy: Policy) -> str | None:
    """What a sweep at `now` would act on, read from the database without Prefect: the first
    kind of due item found, or None when the sweep would do nothing. It errs towards sweeping:
    each of the sweep's steps is asked "is there any row you would look at?" (one row each),
    so a None means no step would act and a reason may still end in a sweep that finds nothing
    to change (a gate due within the digest's week, say). A new step in flows/sweep.py needs
    its check here too, or `serve` would not sweep for it until something else is due."""
    ahead = now + max(DIGEST_AHEAD, timedelta(hours=policy.warnings.window_hours))
    grace = now - CONTINUATION_GRACE
    checks: list[tuple[str, Callable[[], Any]]] = [
        ("a gate past its deadline", lambda: gates.open_gates_past_deadline(session, now, 1)),
        (
            "a pilot past its deploy-or-terminate date",
            lambda: pilots.pilots_past_deploy_by(session, now, 1),
        ),
        ("a reminder", lambda: gates.gates_due_for_reminder(session, now, 1)),
        (
            "a proposal never put to its gate",
            lambda: pilots.stale_proposals(
                session, now - timedelta(days=policy.portfolio.proposal_days), 1
            ),
        ),
        (
            "a settled gate awaiting its follow-up",
            lambda: gates.unclaimed_resolved_gates(session, 1, resolved_before=grace),
        ),
        ("a stalled termination", lambda: gates.gates_whose_termination_stalled(session, grace, 1)),
        ("a delegation in force", lambda: delegations.in_force_recorded_before_start(session, now)),
        (
            "a gate due soon (digest, owner warnings)",
            lambda: gates.gates_due_between(session, now, ahead),
        ),
        ("a pilot due soon (digest)", lambda: pilots.pilots_due_between(session, now, ahead)),
        (
            "a value review due",
            lambda: (
                policy.value.review is not None
                and next(value_reviews.due(session, policy.value.review, now), None)
            ),
        ),
    ]
    return next((what for what, rows in checks if rows()), None)


class Dispatcher:
    def __init__(
        self,
        runtime: Runtime,
        *,
        client: WebClient | None,
        launcher: Launcher,
        clock: Callable[[], datetime] = utcnow,
        sweep_every: timedelta | None = timedelta(hours=1),
        names_every: timedelta | None = None,
        skip_idle_sweeps: bool = False,
    ) -> None:
        self.runtime = runtime
        self.client = client
        self.launcher = launcher
        self.clock = clock
        self.sweep_every = sweep_every
        #: how often to refresh names from users.info (None: never; `serve` does every minute).
        self.names_every = names_every
        #: a scheduled sweep the database shows has nothing to do is not queued (`serve`):
        #: queueing it would start Prefect (and its temporary API) for a run that does nothing.
        self.skip_idle_sweeps = skip_idle_sweeps
        self.wake = threading.Event()
        self.stop = threading.Event()
        self._last_sweep: datetime | None = None
        self._launch_backoff = 0.0
        self._launch_paused_until: datetime | None = None
        #: time.monotonic() of the last names refresh (users.info).
        self._names_refreshed: float | None = None

    def recover(self) -> int:
        """After a crash (local mode, one dispatcher): rerun interrupted flow requests."""
        with self.runtime.db.session() as session:
            return flow_queue.requeue_started_flow_requests(session)

    def tick(self) -> TickReport:
        report = TickReport()
        if self.client is not None:
            relayed = relay_outbox(
                self.runtime.db, self.client, self.clock, policy=self.runtime.policy
            )
            report.sent += relayed.sent
            report.errors += relayed.errors
            self._refresh_names()
        if self._launch_paused_until and self.clock() < self._launch_paused_until:
            claimed = []
        else:
            with self.runtime.db.session() as session:
                claimed = [
                    (fr.id, fr.flow, dict(fr.parameters), fr.pilot_id, fr.dedupe_key)
                    for fr in flow_queue.claim_flow_requests(session, self.clock())
                ]
        for request_id, flow, params, pilot_id, dedupe_key in claimed:
            what = _what(flow, pilot_id, request_id, params)
            try:
                run_id = self.launcher.launch(
                    flow, params, key=f"pilotgate-flow-request-{request_id}"
                )
            except Exception as exc:  # the row records it; the sweep re-checks deadlines
                if self.launcher.retry_on_error:
                    # The Prefect API did not take the run: keep the request and back off.
                    self._launch_backoff = min(60.0, max(1.0, self._launch_backoff * 2))
                    self._launch_paused_until = self.clock() + timedelta(
                        seconds=self._launch_backoff
                    )
                    log.warning(
                        "flow deferred %s outcome=retry retry_in=%.0fs error=%s",
                        what,
                        self._launch_backoff,
                        _one_line(exc),
                    )
                    report.errors.append(f"{flow}: {exc}")
                    with self.runtime.db.session() as session:
                        flow_queue.requeue_flow_request(session, request_id, error=str(exc)[:2000])
                    continue
                log.error("flow failed %s outcome=failed error=%s", what, _one_line(exc))
                report.flows_failed += 1
                report.errors.append(f"{flow}: {exc}")
                # The kind of refusal leads the recorded error, so a command that handed the flow
                # over exits as if it had run the flow itself (see pilotgate.console).
                kind = error_kind(exc)
                with self.runtime.db.session() as session:
                    flow_queue.finish_flow_request(
                        session,
                        request_id,
                        now=self.clock(),
                        ok=False,
                        error=(f"[{kind}] " if kind else "")
                        + "".join(traceback.format_exception_only(exc)),
                    )
                    # A command waiting for this request tells the person who asked instead.
                    if pilot_id is not None and not flow_queue.is_waited(dedupe_key):
                        self._tell_owner(session, pilot_id, flow, exc)
                continue
            report.flows_started += 1
            self._launch_backoff = 0.0
            log.info(
                "flow started %s run=%s outcome=%s",
                what,
                run_id or "-",
                "created" if self.launcher.retry_on_error else "completed",
            )
            with self.runtime.db.session() as session:
                flow_queue.finish_flow_request(
                    session, request_id, now=self.clock(), ok=True, flow_run_id=run_id
                )
        if self._sweep_due():
            with self.runtime.db.session() as session:
                flow_queue.request_flow(
                    session,
                    SWEEP,
                    {},
                    now=self.clock(),
                    dedupe_key=Keys.sweep(self.clock()),
                )
            self._last_sweep = self.clock()
            report.swept = True
        return report

    def _refresh_names(self) -> None:
        """Put names to the Slack ids the surfaces show (users.info into the `people` cache), a
        small batch each `names_every`; not counted as work, so `drain` does not wait on it."""
        if self.names_every is None:
            return
        started = time.monotonic()
        since = None if self._names_refreshed is None else started - self._names_refreshed
        if since is not None and since < self.names_every.total_seconds():
            return
        self._names_refreshed = started
        assert self.client is not None
        try:
            refresh_names(
                self.runtime.db,
                self.client,
                self.runtime.policy,
                self.clock,
                ttl=timedelta(hours=self.runtime.settings.people_ttl_hours),
            )
        except Exception as exc:  # names are a nicety: never hold up flows or the outbox
            log.warning("names refresh failed error=%s; ids are shown meanwhile", _one_line(exc))

    def _tell_owner(self, session: Any, pilot_id: str, flow: str, exc: Exception) -> None:
        """A queued flow that fails (e.g. a gate blocked by missing evidence) must not fail
        silently: the pilot's business owner is told what stopped it."""
        try:
            pilot = pilots.get_pilot(session, pilot_id)
        except NotFound:
            return
        messages.notify(
            session,
            pilot.business_owner,
            f"{pilot.title}: the {flow} step could not run.",
            str(exc)[:1500],
            self.clock(),
            pilot_id=pilot.id,
        )

    def _sweep_due(self) -> bool:
        now = self.clock()
        with self.runtime.db.session() as session:
            if gates.open_gates_past_deadline(session, now, limit=1):
                return self._last_sweep is None or now - self._last_sweep >= timedelta(seconds=30)
        if self.sweep_every is None:
            return False
        if self._last_sweep is not None and now - self._last_sweep < self.sweep_every:
            return False
        if self.skip_idle_sweeps:
            with self.runtime.db.session() as session:
                work = sweep_work(session, now, self.runtime.policy)
            if work is None:
                log.info("sweep not needed: nothing due at %s", f"{now:%Y-%m-%d %H:%M} UTC")
                self._last_sweep = now
                return False
            log.info("sweep due: %s", work)
        return True

    def drain(self, max_ticks: int = 50) -> list[TickReport]:
        """Tick until nothing is left to do (tests and the demo)."""
        reports = []
        for _ in range(max_ticks):
            report = self.tick()
            reports.append(report)
            with self.runtime.db.session() as session:
                pending = outbox.pending_outbox_count(session) if self.client else 0
                flows_pending = any(
                    fr.status == FlowRequestStatus.PENDING
                    for fr in flow_queue.flow_requests(session)
                )
            if not report.busy and not flows_pending and (pending == 0 or report.errors):
                break
        return reports

    def run_forever(self, interval: float) -> None:
        self.recover()
        while not self.stop.is_set():
            try:
                report = self.tick()
            except Exception:
                log.exception("dispatcher tick failed; retrying")
                report = TickReport()
            if report.busy:
                continue
            self.wake.wait(interval)
            self.wake.clear()
