"""The sweep's steps, straight from the database.

Each query reads only what is due (indexed deadline columns: gates.status+deadline,
gates.next_reminder_at, pilots.deploy_by), so a sweep's cost follows the number of due items,
not the number of pilots; each is read in keyset pages (`pages`), so a backlog of any size is
seen whole. The acting steps take a batch of due items per task run (`terminate-due-pilots`,
`enforce-deadlines`), `PER_TRANSACTION` items to a transaction (`_in_batches`: a batch with a
failing item is rolled back and tried item by item, so a failed item is logged and left due
for the next sweep while the rest goes on). Every action is conditional, so two sweeps at once
act once; on top of that, the sweep flow holds `store.locks.sweep_lock`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any, TypeVar

from prefect import task
from prefect.runtime import flow_run
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

from config.names import TERMINATE, Keys
from lifecycle.deadlines import CONTINUATION_GRACE, DIGEST_AHEAD, current_point, next_reminder
from lifecycle.outcomes import on_deadline, sends_back
from lifecycle.stages import Stage
from lifecycle.statuses import GatePhase
from slack_out import messages
from store import audit, flow_queue, gates, outbox, people, pilots
from store._rows import PAGE
from store.models import Gate
from tasks import home
from tasks.gates import apply_transition_in, enforce_deadline_in
from tasks.inputs import DeadlineAction, GateInput, TaskModel, Terminated, TerminateInput
from tasks.logs import run_logger
from tasks.runtime import get_runtime
from tasks.terminate import log_ended, terminate_in

#: Due items per batch task: one task run (and one progress line) per batch, `PER_TRANSACTION`
#: items to a transaction, so a sweep's cost follows its due items at a few statements each.
BATCH = 100

Row = TypeVar("Row")


def pages(
    fetch: Callable[[tuple[Any, Any] | None, int], Sequence[Row]],
    key: Callable[[Row], tuple[Any, Any]],
) -> Iterator[Row]:
    """Every row of a keyset-paged due query, page after page: no cap on how much is due.
    `fetch(after, limit)` returns one page."""
    size = PAGE  # read here, not at import: a test pages through a small backlog
    after = None
    while True:
        page = fetch(after, size)
        yield from page
        if len(page) < size:
            return
        after = key(page[-1])


def batches(items: Sequence[Row]) -> Iterator[list[Row]]:
    size = BATCH  # read here, not at import: a test works through a backlog in small batches
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def _window_start(gate: Gate) -> datetime:
    """Where the gate's current reminder window began: an escalation or an extension starts a
    new window (enforce_deadline schedules its first reminder from then)."""
    return gate.escalated_at or gate.extended_at or gate.opened_at


class SweepInput(TaskModel):
    now: datetime


class DueGate(TaskModel):
    gate_id: int
    pilot_id: str
    title: str
    stage: Stage
    deadline: datetime
    on_timeout: str


class OverduePilot(TaskModel):
    pilot_id: str
    title: str
    stage: Stage
    deploy_by: datetime


class StaleProposal(TaskModel):
    pilot_id: str
    title: str
    proposed_at: datetime


class DueReminder(TaskModel):
    gate_id: int
    pilot_id: str
    title: str
    point: float
    approvers: list[str]


class SweepPlan(TaskModel):
    now: datetime
    expired_gates: list[DueGate] = []
    overdue_pilots: list[OverduePilot] = []
    stale_proposals: list[StaleProposal] = []
    reminders: list[DueReminder] = []


class ReminderRound(TaskModel):
    """One gate's reminders in one sweep."""

    gate_id: int
    pilot_id: str
    point: float
    approvers: list[str]


class RemindersSent(TaskModel):
    sent: int
    approvers: list[str] = []
    rounds: list[ReminderRound] = []


@task(name="find-due-work", persist_result=False)
def find_due_work(inp: SweepInput) -> SweepPlan:
    """What is due at `inp.now`. Reads only; the --dry-run answer."""
    rt = get_runtime()
    now = inp.now
    with rt.db.session() as session:
        expired = []
        for gate in pages(
            lambda after, limit: gates.open_gates_past_deadline(
                session, now, after=after, limit=limit
            ),
            lambda g: (g.deadline, g.id),
        ):
            pilot = pilots.get_pilot(session, gate.pilot_id)
            rule = on_deadline(
                rt.policy.gate(Stage(gate.stage)).on_timeout,
                deadline=gate.deadline,
                now=now,
                extended=gate.extended_at is not None,
                escalated=gate.escalated_at is not None,
            )
            expired.append(
                DueGate(
                    gate_id=gate.id,
                    pilot_id=pilot.id,
                    title=pilot.title,
                    stage=Stage(gate.stage),
                    deadline=gate.deadline,
                    on_timeout=rule.describe(gate.stage),
                )
            )
        overdue = [
            OverduePilot(pilot_id=p.id, title=p.title, stage=Stage(p.stage), deploy_by=p.deploy_by)
            for p in pages(
                lambda after, limit: pilots.pilots_past_deploy_by(
                    session, now, after=after, limit=limit
                ),
                lambda p: (p.deploy_by, p.id),
            )
            if p.deploy_by
        ]
        reminders = []
        for gate in pages(
            lambda after, limit: gates.gates_due_for_reminder(
                session, now, after=after, limit=limit
            ),
            lambda g: (g.next_reminder_at, g.id),
        ):
            if gate.deadline < now:
                continue
            points = rt.policy.gate(Stage(gate.stage)).reminders
            point = current_point(_window_start(gate), gate.deadline, points, now)
            if point is None:
                continue
            waiting = [r.approver for r in gates.unanswered_requests(session, gate.id)]
            pilot = pilots.get_pilot(session, gate.pilot_id)
            reminders.append(
                DueReminder(
                    gate_id=gate.id,
                    pilot_id=pilot.id,
                    title=pilot.title,
                    point=point,
                    approvers=waiting,
                )
            )
        cutoff = now - timedelta(days=rt.policy.portfolio.proposal_days)
        stale = [
            StaleProposal(pilot_id=p.id, title=p.title, proposed_at=p.created_at)
            for p in pages(
                lambda after, limit: pilots.stale_proposals(
                    session, cutoff, after=after, limit=limit
                ),
                lambda p: (p.created_at, p.id),
            )
        ]
    run_logger().info(
        "due at %s: %d gate(s) past their deadline, %d pilot(s) past deploy-or-terminate, "
        "%d stale proposal(s), %d gate(s) to remind",
        f"{now:%Y-%m-%d %H:%M} UTC",
        len(expired),
        len(overdue),
        len(stale),
        len(reminders),
    )
    return SweepPlan(
        now=now,
        expired_gates=expired,
        overdue_pilots=overdue,
        stale_proposals=stale,
        reminders=reminders,
    )


@task(name="send-reminders", persist_result=False)
def send_reminders(inp: SweepInput) -> RemindersSent:
    """Remind each unanswered approver once per reminder point: `PER_TRANSACTION` gates'
    rounds to a transaction, a gate whose round fails rolled back alone (`_in_batches`)."""
    rt = get_runtime()
    now = inp.now
    sent = 0
    who: list[str] = []
    rounds: list[ReminderRound] = []
    with rt.db.session() as session:
        gate_ids = [
            g.id
            for g in pages(
                lambda after, limit: gates.gates_due_for_reminder(
                    session, now, after=after, limit=limit
                ),
                lambda g: (g.next_reminder_at, g.id),
            )
        ]
    done: list[ReminderRound] = _in_batches(
        "reminding",
        now,
        [(gate_id, partial(_remind_one, gate_id=gate_id, now=now)) for gate_id in gate_ids],
        hold=_gates_and_pilots,
    )
    for reminder in done:
        sent += len(reminder.approvers)
        who.extend(reminder.approvers)
        rounds.append(reminder)
        run_logger().info(
            "gate %d of pilot %s: reminded %s (%d%% of the window); reminder(s) queued",
            reminder.gate_id,
            reminder.pilot_id,
            ", ".join(reminder.approvers),
            round(reminder.point * 100),
        )
    return RemindersSent(sent=sent, approvers=who, rounds=rounds)


def _remind_one(session: Session, gate_id: int, now: datetime) -> ReminderRound | None:
    """A gate's reminder round, claimed so that a concurrent sweep does not send it too; None
    if there was nothing to remind (or another sweep claimed it)."""
    gate = gates.get_gate(session, gate_id)
    if gate.status != GatePhase.OPEN or gate.next_reminder_at is None or gate.deadline < now:
        return None
    points = get_runtime().policy.gate(Stage(gate.stage)).reminders
    start = _window_start(gate)
    point = current_point(start, gate.deadline, points, now)
    upcoming = next_reminder(start, gate.deadline, points, now)
    # Claim this gate's reminder round: a concurrent sweep gets False and moves on.
    if not gates.advance_reminder(
        session, gate, expected=gate.next_reminder_at, next_at=upcoming[1] if upcoming else None
    ):
        return None
    if point is None:
        return None
    pilot = pilots.get_pilot(session, gate.pilot_id)
    reminded: list[str] = []
    for request in gates.unanswered_requests(session, gate.id):
        if gates.mark_reminder(session, request.id, point, now):
            messages.remind(session, pilot, gate, request, point, now)
            reminded.append(request.approver)
    if not reminded:
        return None
    # time has passed: the Homes' "time left" and "due within 7 days" (once per batch)
    home.refresh_pilot(session, pilot.id, now)
    return ReminderRound(gate_id=gate_id, pilot_id=pilot.id, point=point, approvers=reminded)


@task(name="post-digest", persist_result=False)
def post_digest(inp: SweepInput, terminated: list[str]) -> bool:
    """The portfolio channel's digest: terminations, what comes due in 7 days, caps.

    One digest an hour; a later sweep in the same hour that terminated something (the
    dispatcher sweeps as soon as a gate expires) posts its own, so no termination goes
    unreported. Returns whether a digest was queued."""
    rt = get_runtime()
    channel = rt.policy.portfolio.digest_channel
    if not channel:
        return False
    now = inp.now
    soon = now + DIGEST_AHEAD
    with rt.db.session() as session:
        due_gates = gates.gates_due_between(session, now, soon)
        waiting = gates.unanswered_approvers(session, [g.id for g in due_gates])
        names = people.names(session, rt.policy, {a for who in waiting.values() for a in who})
        due = [
            f"{g.pilot_id}: gate {g.stage} -> {g.target} due {g.deadline:%Y-%m-%d}"
            + (
                f", waiting on {', '.join(names.show(a) for a in waiting[g.id])}"
                if waiting[g.id]
                else ""
            )
            for g in due_gates
        ]
        due += [
            f"{p.id} {p.title}: deploy-or-terminate date {p.deploy_by:%Y-%m-%d}"
            for p in pilots.pilots_due_between(session, now, soon)
            if p.deploy_by
        ]
        caps = [
            f"{name}: {active}/{rt.policy.portfolio.cap_for(name)} active"
            for name, active in pilots.active_by_portfolio(session).items()
        ]
        if not (terminated or due):
            return False
        hour = Keys.digest_hour(now)
        keys = [hour]
        if terminated:
            lines = "\n".join(sorted(terminated)).encode()
            keys.append(f"{hour}:{hashlib.sha256(lines).hexdigest()[:16]}")
        for key in keys:
            if outbox.is_queued(session, key):
                continue
            try:
                # A savepoint: a concurrent sweep that queued the same key first makes this
                # insert fail on the unique index (PostgreSQL); then try the next key.
                with session.begin_nested():
                    messages.digest(
                        session,
                        channel,
                        now=now,
                        terminated=terminated,
                        due=due,
                        caps=caps,
                        audit_head=str(audit.current_head(session)),
                        dedupe_key=key,
                    )
            except IntegrityError:
                continue
            run_logger().info(
                "digest queued for %s: %d termination(s), %d item(s) due within 7 days",
                channel,
                len(terminated),
                len(due),
            )
            return True
    return False


@task(name="requeue-stalled-gates", persist_result=False)
def requeue_stalled_gates(inp: SweepInput) -> list[int]:
    """The safety net under the flow-request outbox: a gate that was settled but never acted on
    (its resolve-gate run failed, or was lost with an orchestrator) is queued again. Acting on
    a gate is claimed once in the database, so asking twice cannot act twice."""
    rt = get_runtime()
    requeued = []
    with rt.db.session() as session:
        for gate in pages(
            lambda after, limit: gates.unclaimed_resolved_gates(
                session, resolved_before=inp.now - CONTINUATION_GRACE, after=after, limit=limit
            ),
            lambda g: (g.resolved_at, g.id),
        ):
            if flow_queue.flow_request_in_flight(session, Keys.resolve(gate.id)):
                continue
            if flow_queue.request_resolve_gate(
                session, gate.id, gate.pilot_id, now=inp.now, again=True
            ):
                requeued.append(gate.id)
        for gate in pages(
            lambda after, limit: gates.gates_whose_termination_stalled(
                session, acted_before=inp.now - CONTINUATION_GRACE, after=after, limit=limit
            ),
            lambda g: (g.continued_at, g.id),
        ):
            if flow_queue.flow_request_in_flight(session, Keys.terminate_after_gate(gate.id)):
                continue
            if sends_back(gate.status, gate.stage, rt.policy.gate(Stage(gate.stage)).on_reject):
                continue
            if flow_queue.request_flow(
                session,
                TERMINATE,
                {
                    "pilot_id": gate.pilot_id,
                    "reason": f"{gate.status} at {gate.stage}: {gate.outcome_reason or ''}",
                    "actor": "sweep",
                },
                now=inp.now,
                pilot_id=gate.pilot_id,
                dedupe_key=Keys.again(Keys.terminate_after_gate(gate.id), inp.now),
            ):
                requeued.append(gate.id)
    if requeued:
        run_logger().info("re-queued the stalled follow-up of gate(s) %s", requeued)
    return requeued


class DueTermination(TaskModel):
    pilot_id: str
    title: str
    reason: str


class TerminationBatch(TaskModel):
    now: datetime
    due: list[DueTermination]


class DeadlineBatch(TaskModel):
    now: datetime
    gate_ids: list[int]


class DeadlineOutcome(TaskModel):
    """What the deadline rule did to one gate and, after an expiry, what its follow-up did."""

    action: DeadlineAction
    #: the follow-up of an expiry, run in the expiry's transaction: the pilot's next step.
    outcome: str = ""
    terminated: Terminated | None = None


#: A deadlock or serialization failure between two unlocked sweeps (or a sweep and a click)
#: rolls back one item's transaction; it is tried again, as the terminate flow's retries did.
ATTEMPTS = 3


Hold = Callable[[Session, list[Any]], Sequence[object]]


def _each(what: str, key: Any, act: Callable[[Session], Any], hold: Hold | None = None) -> Any:
    """One due item in its own transaction: committed, or rolled back and logged (the next
    sweep finds it still due), never taking the rest of the batch with it. `hold`: as for
    `_in_batches`, for this one item."""
    db = get_runtime().db
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with db.session() as session:
                held = hold(session, [key]) if hold else ()
                result = act(session)
                del held  # kept until here, for the item's lookups
                return result
        except OperationalError as exc:
            if attempt == ATTEMPTS:
                run_logger().error("%s %s: gave up after %d attempts: %s", what, key, attempt, exc)
        except Exception as exc:  # logged with its item; the sweep reports how many failed
            run_logger().error("%s %s failed: %s", what, key, exc, exc_info=True)
            return None
    return None


#: Due items per transaction: they share one commit, one chaining of their audit rows and one
#: App Home refresh. Small enough that a click waiting on SQLite's single writer waits a
#: fraction of a second, and that a batch tried again item by item is little work.
PER_TRANSACTION = 25


def _in_batches(
    what: str,
    now: datetime,
    items: Sequence[tuple[Any, Callable[[Session], Any]]],
    hold: Hold | None = None,
) -> list[Any]:
    """Due items, `PER_TRANSACTION` to a transaction. If any item of a batch fails, or the
    transaction meets a deadlock, serialization failure or lock timeout, the whole batch is
    rolled back and its items are tried again one transaction each (`_each`, with its
    retries): an item that fails is then rolled back alone and logged (the next sweep finds it
    still due), and the others commit. Failures are rare, so the batch does not pay a
    savepoint per item for them (two statements each, a tenth of a sweep's statements).

    `hold(session, keys)` reads the rows the batch's items look up by id (their gates, their
    pilots) in one statement or two and keeps them for the batch: the session's identity map
    holds an object only while something refers to it, so each item would read them again."""
    db = get_runtime().db
    done: list[Any] = []
    for start in range(0, len(items), PER_TRANSACTION):
        chunk = items[start : start + PER_TRANSACTION]
        try:
            with db.session() as session, home.batched(session, now):
                held = hold(session, [key for key, _ in chunk]) if hold else ()
                results = [act(session) for _, act in chunk]
                del held  # kept until here, for the items' lookups
        except Exception as exc:
            cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
            run_logger().warning(
                "%s: a batch of %d was rolled back (%s: %s); each is tried on its own",
                what,
                len(chunk),
                type(cause).__name__,
                cause,
            )
            results = [_each(what, key, act, hold) for key, act in chunk]
        done.extend(r for r in results if r is not None)
    return done


@task(name="terminate-due-pilots", persist_result=False)
def terminate_due_pilots(inp: TerminationBatch) -> list[Terminated]:
    """A batch of terminations the sweep found due, each the same as the terminate flow's (stage,
    open gates and their buttons, the owner and approvers told, audit rows), a failing one
    rolled back alone (`_in_batches`), all in this one task run."""
    ended: list[Terminated] = _in_batches(
        "terminating",
        inp.now,
        [
            (
                item.pilot_id,
                partial(
                    terminate_in,
                    inp=TerminateInput(
                        pilot_id=item.pilot_id, reason=item.reason, actor="sweep", now=inp.now
                    ),
                ),
            )
            for item in inp.due
        ],
        hold=pilots.load_pilots,
    )
    for each in ended:
        log_ended(each)
    return ended


def _gates_and_pilots(session: Session, gate_ids: list[int]) -> list[object]:
    """A batch's gates and their pilots, for `_in_batches` to hold."""
    found = gates.load_gates(session, gate_ids)
    return [*found, *pilots.load_pilots(session, {g.pilot_id for g in found})]


def _enforce_one(session: Session, gate_id: int, now: datetime) -> DeadlineOutcome:
    # The steps below (expire, resolve, terminate) each look the gate and the pilot up again:
    # `_gates_and_pilots`, held by `_in_batches` / `_each`, has them in the session.
    action = enforce_deadline_in(session, GateInput(gate_id=gate_id, now=now, actor="sweep"))
    if action.action != "expired":
        return DeadlineOutcome(action=action)
    # The expiry queued resolve-gate in this transaction. Rather than a flow run per gate
    # (resolve-gate, then terminate), do their work here: it commits with the expiry, or
    # neither happens; the requests are marked done by this run, so no one runs them again.
    run_id = str(flow_run.id) if flow_run.id else None
    if not flow_queue.run_in_process(session, Keys.resolve(gate_id), now=now, flow_run_id=run_id):
        return DeadlineOutcome(action=action)
    applied = apply_transition_in(session, GateInput(gate_id=gate_id, now=now, actor="gate"))
    terminated = None
    if applied.outcome == "terminate" and flow_queue.run_in_process(
        session, Keys.terminate_after_gate(gate_id), now=now, flow_run_id=run_id
    ):
        terminated = terminate_in(
            session,
            TerminateInput(pilot_id=applied.pilot_id, reason=applied.reason, actor="gate", now=now),
        )
    return DeadlineOutcome(action=action, outcome=applied.outcome, terminated=terminated)


@task(name="enforce-deadlines", persist_result=False)
def enforce_deadlines(inp: DeadlineBatch) -> list[DeadlineOutcome]:
    """A batch of gates past their deadline: extend, escalate or expire each (the same rule as
    `enforce-deadline`), and follow an expiry up at once, in its transaction."""
    done: list[DeadlineOutcome] = _in_batches(
        "gate",
        inp.now,
        [
            (gate_id, partial(_enforce_one, gate_id=gate_id, now=inp.now))
            for gate_id in inp.gate_ids
        ],
        hold=_gates_and_pilots,
    )
    logger = run_logger()
    for r in done:
        a = r.action
        if r.terminated:
            log_ended(r.terminated)
        if a.action == "expired":
            logger.info(
                "gate %d of pilot %s expired: %s; resolve-gate queued and %s",
                a.gate_id,
                a.pilot_id,
                a.detail,
                "run in this sweep: pilot terminated"
                if r.terminated and r.terminated.terminated
                else (
                    f"run in this sweep: {r.outcome}"
                    if r.outcome
                    else "left to its flow run (another process had it)"
                ),
            )
        elif a.action != "none":
            logger.info(
                "gate %d of pilot %s deadline passed: %s, new deadline %s",
                a.gate_id,
                a.pilot_id,
                a.detail,
                f"{a.new_deadline:%Y-%m-%d %H:%M} UTC" if a.new_deadline else "n/a",
            )
    return done
