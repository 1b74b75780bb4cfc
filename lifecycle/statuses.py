"""The statuses the register stores, as enums shared by the tables and the rules.

They are `StrEnum`s so a stored value and a member compare equal, and a typo in a comparison is
an AttributeError at import rather than a branch that silently never runs. `lifecycle.gates.
GateStatus` is a different thing: what the rules read from a gate's decisions (pending,
approved, ...); `GatePhase` is where the stored gate is in its own life.
"""

from __future__ import annotations

from enum import StrEnum


class GatePhase(StrEnum):
    """gates.status: open -> approved | rejected | expired | cancelled."""

    OPEN = "open"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


#: a gate that was decided (or ran out of time) and whose outcome someone must apply.
SETTLED: frozenset[GatePhase] = frozenset(
    {GatePhase.APPROVED, GatePhase.REJECTED, GatePhase.EXPIRED}
)


class OutboxStatus(StrEnum):
    """outbox.status: pending -> sending (leased) -> sent | dead | skipped; a lapsed lease is
    pending again in effect."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DEAD = "dead"
    #: never sent on purpose, with why in last_error (a Home view a newer one replaced, a
    #: reminder whose request closed before it could go out).
    SKIPPED = "skipped"


class FlowRequestStatus(StrEnum):
    """flow_requests.status: pending -> started -> done | failed."""

    PENDING = "pending"
    STARTED = "started"
    DONE = "done"
    FAILED = "failed"


#: outbox rows still to deliver (a leased row whose lease lapsed is taken again).
UNDELIVERED: frozenset[OutboxStatus] = frozenset({OutboxStatus.PENDING, OutboxStatus.SENDING})
