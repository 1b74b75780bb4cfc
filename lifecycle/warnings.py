"""Owners told before it is too late: which open gates need a warning now, as a pure rule.

An approver on leave or a busy committee lets a gate expire, and the first the business owner
hears of it is the termination. So when a gate is due within the policy's warning window
(`warnings.window_hours`) and its quorum is still short, the owner and the programme office are
told who has not answered and how long is left. A warning belongs to one gate and one deadline
window: an extension or an escalation moves the deadline, opening a new window that may warn
again (the dedupe key carries the deadline, see `config.names.Keys.owner_warning`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Waiting:
    """One request nobody has answered yet."""

    approver: str
    role: str
    #: the approver this request stands in for (a delegate or a reassignee).
    on_behalf_of: str | None = None
    #: 0 for the gate's own asks, 1 for an escalation's.
    round: int = 0


@dataclass(frozen=True)
class GateWatch:
    """What the rule needs to know about one open gate."""

    gate_id: int
    pilot_id: str
    deadline: datetime
    #: role -> approvals still missing (`lifecycle.gates.Evaluation.missing`).
    missing: Mapping[str, int]
    waiting: Sequence[Waiting] = ()
    #: the role an escalation asked, once the gate has escalated.
    escalation_role: str | None = None


@dataclass(frozen=True)
class OwnerWarning:
    gate_id: int
    pilot_id: str
    deadline: datetime
    time_left: timedelta
    #: role -> approvals still missing, only the roles that are short.
    short: dict[str, int] = field(default_factory=dict)
    #: who has not answered in a role that is still short (or the escalation's role).
    waiting: tuple[Waiting, ...] = ()


def warning_due(gate: GateWatch, *, window: timedelta, now: datetime) -> OwnerWarning | None:
    """The warning `gate` needs at `now`, or None: not yet in the window, already past its
    deadline (the deadline rule acts then), or nothing short."""
    if window <= timedelta(0) or gate.deadline <= now or now < gate.deadline - window:
        return None
    short = {role: n for role, n in gate.missing.items() if n > 0}
    if not short:
        return None
    waiting = tuple(
        w
        for w in gate.waiting
        if w.role in short or (w.round > 0 and w.role == gate.escalation_role)
    )
    return OwnerWarning(
        gate_id=gate.gate_id,
        pilot_id=gate.pilot_id,
        deadline=gate.deadline,
        time_left=gate.deadline - now,
        short=short,
        waiting=waiting,
    )


def warnings_due(
    gates: Iterable[GateWatch], *, window: timedelta, now: datetime
) -> list[OwnerWarning]:
    """Every gate's warning due at `now`, soonest deadline first."""
    due = [w for g in gates if (w := warning_due(g, window=window, now=now)) is not None]
    return sorted(due, key=lambda w: (w.deadline, w.gate_id))


def time_left(delta: timedelta) -> str:
    """`1 day 4 hours`, `5 hours 20 minutes`, `12 minutes`: what a person reads at a glance."""
    minutes = max(0, int(delta.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)

    def unit(n: int, word: str) -> str:
        return f"{n} {word}{'' if n == 1 else 's'}"

    if days:
        return unit(days, "day") + (f" {unit(hours, 'hour')}" if hours else "")
    if hours:
        return unit(hours, "hour") + (f" {unit(minutes, 'minute')}" if minutes else "")
    return unit(minutes, "minute")
