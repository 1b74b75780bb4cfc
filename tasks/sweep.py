"""The sweep's steps, straight from the database.

Each query reads only what is due (indexed deadline columns: gates.status+deadline,
gates.next_reminder_at, pilots.deploy_by), so a sweep's cost follows the number of due items,
not the number of pilots. Every action is conditional, so two sweeps at once act once; on top of
that, `sweep_lock` lets one sweep at a time run per database, so the digest a sweep posts tells
the whole story rather than the half a concurrent sweep left it.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from prefect import task
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lifecycle.deadlines import current_point, next_reminder
from lifecycle.stages import ACTIVE, Stage
from pilotgate.runtime import get_runtime
from slackbot import messages
from store import repo
from store.db import Database
from store.models import Gate, OutboxMessage, Pilot
from tasks.inputs import TaskModel

#: PostgreSQL advisory lock key (two-int form, apart from the portfolio locks' one-int keys).
SWEEP_LOCK_KEY = (0x5047, 0x5357)  # "PG", "SW"
_local_sweep_lock = threading.Lock()


@contextmanager
def sweep_lock(
    db: Database, wait: timedelta = timedelta(minutes=10), poll: float = 0.2
) -> Iterator[bool]:
    """One sweep at a time per database: yields True once held, False if another sweep held it
    for all of `wait`. PostgreSQL: a session advisory lock (freed if the process dies); SQLite:
    an flock on a file next to the database (threads and processes alike)."""
    deadline = time.monotonic() + wait.total_seconds()
    if db.is_postgres:
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            key = {"a": SWEEP_LOCK_KEY[0], "b": SWEEP_LOCK_KEY[1]}
            while not conn.execute(text("SELECT pg_try_advisory_lock(:a, :b)"), key).scalar():
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(poll)
            try:
                yield True
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:a, :b)"), key)
        return
    path = db.engine.url.database
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on this platform
        fcntl = None  # type: ignore[assignment]
    if fcntl is None or not path or path == ":memory:" or path.startswith("file:"):
        if not _local_sweep_lock.acquire(timeout=wait.total_seconds()):
            yield False
            return
        try:
            yield True
        finally:
            _local_sweep_lock.release()
        return
    with open(f"{path}-sweeplock", "a+b") as handle:
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(poll)
        try:
            yield True
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


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


class RemindersSent(TaskModel):
    sent: int
    approvers: list[str] = []


def _on_timeout(policy_rule: object, gate: object) -> str:
    action = getattr(policy_rule, "action", "terminate")
    if action == "extend" and getattr(gate, "extended_at", None) is None:
        return f"extend by {getattr(policy_rule, 'days', 0)} days"
    if action == "escalate" and getattr(gate, "escalated_at", None) is None:
        return f"escalate to {getattr(policy_rule, 'to_role', '?')}"
    return "terminate"


@task(name="find-due-work", persist_result=False)
def find_due_work(inp: SweepInput) -> SweepPlan:
    """What is due at `inp.now`. Reads only; the --dry-run answer."""
    rt = get_runtime()
    now = inp.now
    with rt.db.session() as session:
        expired = []
        for gate in repo.open_gates_past_deadline(session, now):
            pilot = repo.get_pilot(session, gate.pilot_id)
            rule = rt.policy.gate(Stage(gate.stage)).on_timeout
            expired.append(
                DueGate(
                    gate_id=gate.id,
                    pilot_id=pilot.id,
                    title=pilot.title,
                    stage=Stage(gate.stage),
                    deadline=gate.deadline,
                    on_timeout=_on_timeout(rule, gate),
                )
            )
        overdue = [
            OverduePilot(pilot_id=p.id, title=p.title, stage=Stage(p.stage), deploy_by=p.deploy_by)
            for p in repo.pilots_past_deploy_by(session, now)
            if p.deploy_by
        ]
        reminders = []
        for gate in repo.gates_due_for_reminder(session, now):
            if gate.deadline < now:
                continue
            points = rt.policy.gate(Stage(gate.stage)).reminders
            point = current_point(_window_start(gate), gate.deadline, points, now)
            if point is None:
                continue
            waiting = [r.approver for r in repo.unanswered_requests(session, gate.id)]
            pilot = repo.get_pilot(session, gate.pilot_id)
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
            for p in repo.stale_proposals(session, cutoff)
        ]
    return SweepPlan(
        now=now,
        expired_gates=expired,
        overdue_pilots=overdue,
        stale_proposals=stale,
        reminders=reminders,
    )


@task(name="send-reminders", persist_result=False)
def send_reminders(inp: SweepInput) -> RemindersSent:
    """Remind each unanswered approver once per reminder point, threaded under the request."""
    rt = get_runtime()
    now = inp.now
    sent = 0
    who: list[str] = []
    with rt.db.session() as session:
        gate_ids = [g.id for g in repo.gates_due_for_reminder(session, now)]
    for gate_id in gate_ids:
        with rt.db.session() as session:
            gate = repo.get_gate(session, gate_id)
            if gate.status != "open" or gate.next_reminder_at is None or gate.deadline < now:
                continue
            points = rt.policy.gate(Stage(gate.stage)).reminders
            start = _window_start(gate)
            point = current_point(start, gate.deadline, points, now)
            upcoming = next_reminder(start, gate.deadline, points, now)
            # Claim this gate's reminder round: a concurrent sweep gets False and moves on.
            if not repo.advance_reminder(
                session,
                gate,
                expected=gate.next_reminder_at,
                next_at=upcoming[1] if upcoming else None,
            ):
                continue
            if point is None:
                continue
            pilot = repo.get_pilot(session, gate.pilot_id)
            for request in repo.unanswered_requests(session, gate.id):
                if repo.mark_reminder(session, request.id, point, now):
                    messages.remind(session, pilot, gate, request, point, now)
                    sent += 1
                    who.append(request.approver)
    return RemindersSent(sent=sent, approvers=who)


def _active_by_portfolio(session: Session) -> dict[str, int]:
    """Active pilots per portfolio, counted by the database (the stage index), not in Python."""
    rows = session.execute(
        select(Pilot.portfolio, func.count())
        .where(Pilot.stage.in_([s.value for s in ACTIVE]))
        .group_by(Pilot.portfolio)
        .order_by(Pilot.portfolio)
    )
    return {portfolio: int(count) for portfolio, count in rows}


def _queued(session: Session, key: str) -> bool:
    return (
        session.execute(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key)).first()
        is not None
    )


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
    soon = now + timedelta(days=7)
    with rt.db.session() as session:
        due = [
            f"{g.pilot_id}: gate {g.stage} -> {g.target} due {g.deadline:%Y-%m-%d}"
            for g in repo.gates_due_between(session, now, soon)
        ]
        due += [
            f"{p.id} {p.title}: deploy-or-terminate date {p.deploy_by:%Y-%m-%d}"
            for p in repo.pilots_due_between(session, now, soon)
            if p.deploy_by
        ]
        caps = [
            f"{name}: {active}/{rt.policy.portfolio.cap_for(name)} active"
            for name, active in _active_by_portfolio(session).items()
        ]
        if not (terminated or due):
            return False
        hour = f"digest:{now:%Y%m%dT%H}"
        keys = [hour]
        if terminated:
            lines = "\n".join(sorted(terminated)).encode()
            keys.append(f"{hour}:{hashlib.sha256(lines).hexdigest()[:16]}")
        for key in keys:
            if _queued(session, key):
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
                        dedupe_key=key,
                    )
            except IntegrityError:
                continue
            return True
    return False


#: How long a resolved gate may wait for its follow-up before the sweep asks again.
CONTINUATION_GRACE = timedelta(minutes=10)


@task(name="requeue-stalled-gates", persist_result=False)
def requeue_stalled_gates(inp: SweepInput) -> list[int]:
    """The safety net under the flow-request outbox: a gate that was settled but never acted on
    (its resolve-gate run failed, or was lost with an orchestrator) is queued again. Acting on
    a gate is claimed once in the database, so asking twice cannot act twice."""
    rt = get_runtime()
    requeued = []
    with rt.db.session() as session:
        for gate in repo.unclaimed_resolved_gates(
            session, resolved_before=inp.now - CONTINUATION_GRACE
        ):
            if repo.flow_request_in_flight(session, f"resolve:{gate.id}"):
                continue
            if repo.request_flow(
                session,
                "resolve-gate",
                {"gate_id": gate.id},
                now=inp.now,
                pilot_id=gate.pilot_id,
                dedupe_key=f"resolve:{gate.id}:again:{inp.now:%Y%m%dT%H%M}",
            ):
                requeued.append(gate.id)
        for gate in repo.gates_whose_termination_stalled(
            session, acted_before=inp.now - CONTINUATION_GRACE
        ):
            if repo.flow_request_in_flight(session, f"terminate:{gate.id}"):
                continue
            if gate.status == "rejected" and rt.policy.gate(Stage(gate.stage)).on_reject == (
                "send_back"
            ):
                continue
            if repo.request_flow(
                session,
                "terminate",
                {
                    "pilot_id": gate.pilot_id,
                    "reason": f"{gate.status} at {gate.stage}: {gate.outcome_reason or ''}",
                    "actor": "sweep",
                },
                now=inp.now,
                pilot_id=gate.pilot_id,
                dedupe_key=f"terminate:{gate.id}:again:{inp.now:%Y%m%dT%H%M}",
            ):
                requeued.append(gate.id)
    return requeued
