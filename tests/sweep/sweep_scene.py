"""Helpers for the sweep tests: pilots brought to a stage through the real flows and clicks,
the sweep run as the scheduler would, and what the emulator and the register say afterwards."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from store import flow_queue, pilots
from store import gates as gates_store
from store.models import AuditEntry, Base, ReminderSent, SignoffRequest, StageChange

CIO = "U0CIO0001"
OWNER = "U0BIZ0001"  # helpdesk-assistant's business owner
DIGEST_CHANNEL = "C0PORTFOLIO"


def to_pilot(stack: Any, **changes: Any) -> str:
    """Propose, open the proposal gate and approve it: the pilot's clock starts now."""
    pilot_id = stack.propose(**changes)
    stack.advance(pilot_id)
    stack.approve_gate(pilot_id)
    assert stack.stage(pilot_id) == "pilot"
    return pilot_id


def to_readiness_review(stack: Any, **changes: Any) -> str:
    """A pilot whose readiness-review gate is open (it opens on entry)."""
    pilot_id = to_pilot(stack, **changes)
    stack.advance(pilot_id)  # the pilot gate
    stack.approve_gate(pilot_id)
    assert stack.stage(pilot_id) == "readiness_review"
    assert open_gate(stack, pilot_id) is not None
    return pilot_id


def sweep(
    stack: Any, now: datetime | None = None, *, drain: bool = True, dry_run: bool = False
) -> dict[str, Any]:
    """One scheduled sweep at `now` (default: the stack's clock), then the follow-up flows."""
    from flows.sweep import sweep_flow

    result = sweep_flow(now=now or stack.clock(), dry_run=dry_run)
    if drain:
        stack.dispatcher.drain()
    return result


def open_gate(stack: Any, pilot_id: str) -> Any:
    with stack.db.session() as session:
        return gates_store.open_gate_for(session, pilot_id)


def gates(stack: Any, pilot_id: str) -> list[Any]:
    with stack.db.session() as session:
        return list(gates_store.gates_for(session, pilot_id))


def requests(stack: Any, gate_id: int) -> list[Any]:
    with stack.db.session() as session:
        return list(gates_store.requests_for(session, gate_id))


def pilot(stack: Any, pilot_id: str) -> Any:
    with stack.db.session() as session:
        return pilots.get_pilot(session, pilot_id)


def history(stack: Any, pilot_id: str) -> list[Any]:
    with stack.db.session() as session:
        return list(pilots.stage_history(session, pilot_id))


def terminations(stack: Any, pilot_id: str) -> list[Any]:
    with stack.db.session() as session:
        return list(
            session.execute(
                select(StageChange).where(
                    StageChange.pilot_id == pilot_id, StageChange.to_stage == "terminated"
                )
            ).scalars()
        )


def audit_actions(stack: Any, action: str, pilot_id: str | None = None) -> list[Any]:
    with stack.db.session() as session:
        query = select(AuditEntry).where(AuditEntry.action == action)
        if pilot_id is not None:
            query = query.where(AuditEntry.pilot_id == pilot_id)
        return list(session.execute(query.order_by(AuditEntry.id)).scalars())


def flow_requests(stack: Any, pilot_id: str) -> list[Any]:
    with stack.db.session() as session:
        return list(flow_queue.flow_requests(session, pilot_id))


def row_counts(db: Any) -> dict[str, int]:
    with db.session() as session:
        return {
            t.name: session.execute(select(func.count()).select_from(t)).scalar_one()
            for t in Base.metadata.sorted_tables
        }


# ---------------------------------------------------------------- the emulator's view


def dms(stack: Any, user: str) -> list[Any]:
    """Every message in the user's DM (top-level and threaded), oldest first."""
    return stack.emulator.messages_in(stack.emulator.dm_channel_for(user))


def has_buttons(message: Any) -> bool:
    return any(b.get("type") == "actions" for b in (message.blocks or []))


def request_message(stack: Any, request: Any) -> Any:
    with stack.db.session() as session:
        fresh = gates_store.get_request(session, request.id)
    assert fresh.message_ts, f"request {fresh.id} was never posted"
    message = stack.emulator.find_message(fresh.channel, fresh.message_ts)
    assert message is not None
    return message


def reminders_of(stack: Any, request: Any) -> list[Any]:
    """The reminders of a request: new messages in the approver's DM (not thread replies, which
    may not notify), carrying the request's own buttons."""
    with stack.db.session() as session:
        fresh = gates_store.get_request(session, request.id)

    def values(m: Any) -> set[Any]:
        return {e.get("value") for b in (m.blocks or []) for e in b.get("elements", [])}

    return [
        m
        for m in stack.emulator.messages_in(fresh.channel)
        if m.ts != fresh.message_ts
        and (m.text or "").startswith("Reminder:")
        and str(fresh.id) in values(m)
    ]


def digests(stack: Any) -> list[Any]:
    return stack.emulator.messages_in(DIGEST_CHANNEL)


def text_of(message: Any) -> str:
    """All the words of a message: its text and every text in its blocks."""
    parts = [message.text or ""]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "text" and isinstance(value, str):
                    parts.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(message.blocks or [])
    return "\n".join(parts)


# ---------------------------------------------------------------- a busy portfolio


@dataclass(frozen=True)
class Busy:
    """Three pilots with something due at the same moment."""

    overdue: str  # 183 days into its pilot: terminate
    escalating: str  # readiness-review gate an hour past its deadline: escalate to the CIO
    reminded: str  # proposal gate just past half its window: remind three approvers


def busy_portfolio(stack: Any) -> Busy:
    overdue = to_pilot(stack)
    stack.clock.advance(days=172)
    escalating = to_readiness_review(stack, title="Invoice triage")
    stack.clock.advance(days=4)
    reminded = stack.propose(title="Contract clause finder")
    stack.advance(reminded)
    stack.dispatcher.drain()
    stack.clock.advance(days=7, seconds=3600)
    return Busy(overdue, escalating, reminded)


def reminder_rows(stack: Any, gate_id: int) -> list[tuple[str, str]]:
    """(approver, point) of every reminder recorded for a gate's requests."""
    with stack.db.session() as session:
        rows = session.execute(
            select(SignoffRequest.approver, ReminderSent.point)
            .join(ReminderSent, ReminderSent.request_id == SignoffRequest.id)
            .where(SignoffRequest.gate_id == gate_id)
        )
        return sorted((a, p) for a, p in rows)


def assert_acted_once(
    stack: Any, scene: Busy, reminded_gate: int, results: list[dict[str, Any]]
) -> None:
    """What two sweeps at once must have done, exactly once."""
    # The overdue pilot: one termination.
    assert pilot(stack, scene.overdue).stage == "terminated"
    assert len(terminations(stack, scene.overdue)) == 1
    terminated = [line for r in results for line in r["terminated"]]
    assert sum(scene.overdue in line for line in terminated) == 1
    # The expired gate: escalated once, the CIO asked once.
    assert len(audit_actions(stack, "gate.escalated", scene.escalating)) == 1
    gate = open_gate(stack, scene.escalating)
    assert [r.approver for r in requests(stack, gate.id)].count(CIO) == 1
    assert len(dms(stack, CIO)) == 1
    assert pilot(stack, scene.escalating).stage == "readiness_review"
    # Reminders: one per approver and point, one new message each in the approver's DM.
    rows = reminder_rows(stack, reminded_gate)
    assert len(rows) == 3 and {p for _, p in rows} == {"0.500"}
    assert len({a for a, _ in rows}) == 3
    assert sum(r["reminders"] for r in results) == 3
    for request in requests(stack, reminded_gate):
        assert len(reminders_of(stack, request)) == 1
