"""The sweep's owner warnings: the database and Slack side of `lifecycle.warnings`.

Reads the open gates due within the policy's warning window (the gates.status+deadline index,
so the cost follows the gates due soon, not the portfolio), asks the rule which need a warning
now, and queues one message per person told (the pilot's business owner and each member of the
programme-office role), audited as `gate.owners_warned`, in one transaction per gate. The
outbox dedupe key (`Keys.owner_warning`: gate, deadline, person) makes it once per gate and
window, also when two sweeps race or a sweep is run again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from prefect import task
from sqlalchemy.orm import Session

from config.names import Keys
from lifecycle.policy import Policy
from lifecycle.warnings import GateWatch, OwnerWarning, Waiting, time_left, warnings_due
from slack_out import messages
from store import audit, gates, outbox, pilots
from store.models import Gate, Pilot
from tasks.inputs import OwnerWarned, OwnerWarnings, WarningsInput
from tasks.logs import run_logger
from tasks.runtime import get_runtime

ACTOR = "sweep"
OWNER = "the pilot's business owner"


def _watch(session: Session, gate: Gate, now: datetime) -> GateWatch:
    evaluation = gates.evaluate(session, gate, now)
    return GateWatch(
        gate_id=gate.id,
        pilot_id=gate.pilot_id,
        deadline=gate.deadline,
        missing=evaluation.missing,
        waiting=tuple(
            Waiting(r.approver, r.role, r.on_behalf_of, r.round)
            for r in gates.unanswered_requests(session, gate.id)
        ),
        escalation_role=gate.escalation_role if gate.escalated_at else None,
    )


def _told(policy: Policy, pilot: Pilot) -> list[tuple[str, str]]:
    """Who hears of it, and why: the business owner, then the programme office."""
    role = policy.programme_office
    people = [(pilot.business_owner, OWNER)]
    for member in policy.roles.get(role, []):
        if member != pilot.business_owner:
            people.append((member, f"a member of {role.replace('_', ' ')}"))
    return people


def _names(policy: Policy, ids: set[str]) -> dict[str, str]:
    found = {i: policy.name_of(i) for i in ids}
    return {i: name for i, name in found.items() if name}


def _warn(
    session: Session, policy: Policy, due: OwnerWarning, now: datetime, dry_run: bool
) -> OwnerWarned | None:
    gate = gates.get_gate(session, due.gate_id)
    pilot = pilots.get_pilot(session, due.pilot_id)
    ids = {w.approver for w in due.waiting}
    ids |= {w.on_behalf_of for w in due.waiting if w.on_behalf_of}
    names = _names(policy, ids)
    left = time_left(due.time_left)
    told: list[str] = []
    for user, because in _told(policy, pilot):
        key = Keys.owner_warning(gate.id, gate.deadline, user)
        if dry_run:
            if not outbox.is_queued(session, key):
                told.append(user)
            continue
        queued = messages.owner_warning(
            session,
            pilot,
            gate,
            user=user,
            because=because,
            short=due.short,
            waiting=[(w.approver, w.role, w.on_behalf_of) for w in due.waiting],
            names=names,
            time_left=left,
            now=now,
            dedupe_key=key,
        )
        if queued is not None:
            told.append(user)
    if not told:
        return None
    waiting = [f"{names.get(w.approver, w.approver)} ({w.role})" for w in due.waiting]
    if not dry_run:
        audit.append(
            session,
            actor=ACTOR,
            action="gate.owners_warned",
            pilot_id=pilot.id,
            data={
                "gate_id": gate.id,
                "deadline": gate.deadline.isoformat(),
                "time_left": left,
                "short": dict(due.short),
                "waiting": [
                    {"approver": w.approver, "role": w.role, "on_behalf_of": w.on_behalf_of}
                    for w in due.waiting
                ],
                "told": told,
            },
            now=now,
        )
    return OwnerWarned(
        gate_id=gate.id,
        pilot_id=pilot.id,
        title=pilot.title,
        deadline=gate.deadline,
        time_left=left,
        waiting=waiting,
        told=told,
    )


@task(name="warn-owners", persist_result=False)
def warn_owners(inp: WarningsInput) -> OwnerWarnings:
    """Tell owners and the programme office of every gate about to run out short of its
    quorum, once per gate and window. A dry run reads only."""
    rt = get_runtime()
    policy = rt.policy
    now = inp.now
    window = timedelta(hours=policy.warnings.window_hours)
    if window <= timedelta(0):
        return OwnerWarnings()
    with rt.db.session() as session:
        soon = gates.gates_due_between(session, now, now + window)
        watched = [_watch(session, g, now) for g in soon]
    warned: list[OwnerWarned] = []
    for due in warnings_due(watched, window=window, now=now):
        # One transaction per gate: its messages and its audit row commit together.
        with rt.db.session() as session:
            note = _warn(session, policy, due, now, inp.dry_run)
        if note is None:
            continue
        warned.append(note)
        run_logger().info(
            "gate %d of pilot %s due in %s, still short: %s %s (not answered: %s)",
            note.gate_id,
            note.pilot_id,
            note.time_left,
            "would warn" if inp.dry_run else "warned",
            ", ".join(note.told),
            ", ".join(note.waiting) or "nobody",
        )
    return OwnerWarnings(warned=warned)
