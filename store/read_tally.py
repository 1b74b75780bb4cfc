"""The live quorum tally of one gate, as its sign-off asks show it (no writes).

An approver deciding alone at a DM is better served knowing who else was asked, how many of
each role the gate needs and who has already answered; the ask carries that tally and is
updated as others decide (slack_out.messages.refresh_asks). Two reads per gate: its live
requests (superseded ones, handed over or asked again, no longer count and are left out; their
successors stand "on behalf of" the approver they replaced) and its decisions.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from lifecycle.gates import Verdict
from store.models import Decision, Gate, SignoffRequest


@dataclass(frozen=True)
class Seat:
    """One live request: who was asked (for whom) and what they answered (None: not yet)."""

    request_id: int
    approver: str
    on_behalf_of: str | None
    verdict: Verdict | None


@dataclass(frozen=True)
class RoleTally:
    """A role's part of the gate: `needed` approvals (None: the escalation role, whose one
    approval settles the gate) and its seats in the order they were asked."""

    role: str
    needed: int | None
    seats: tuple[Seat, ...]

    @property
    def approved(self) -> list[Seat]:
        # an Adjust is an approval with a note (it counts toward the quorum, as in
        # lifecycle.gates.evaluate_gate)
        return [s for s in self.seats if s.verdict in (Verdict.APPROVE, Verdict.ADJUST)]

    @property
    def rejected(self) -> list[Seat]:
        return [s for s in self.seats if s.verdict is Verdict.REJECT]

    @property
    def waiting(self) -> list[Seat]:
        return [s for s in self.seats if s.verdict is None]

    @property
    def count(self) -> int:
        """Approvals that count: one per person (as lifecycle.gates.evaluate_gate counts)."""
        return len({s.approver for s in self.approved})


def tally(session: Session, gate: Gate) -> list[RoleTally]:
    """The gate's roles in quorum order, then its escalation role if anyone was asked in it."""
    requests = session.execute(
        select(
            SignoffRequest.id,
            SignoffRequest.approver,
            SignoffRequest.on_behalf_of,
            SignoffRequest.role,
            SignoffRequest.round,
        )
        .where(SignoffRequest.gate_id == gate.id, SignoffRequest.superseded_at.is_(None))
        .order_by(SignoffRequest.id)
    ).all()
    verdicts = {
        int(request_id): Verdict(verdict)
        for request_id, verdict in session.execute(
            select(Decision.request_id, Decision.verdict).where(Decision.gate_id == gate.id)
        )
    }
    quorum = {str(role): int(n) for role, n in dict(gate.quorum).items()}
    seats: dict[tuple[str, bool], list[Seat]] = {}
    for request_id, approver, on_behalf_of, role, round_ in requests:
        escalation = bool(round_) and role == gate.escalation_role
        key = (str(role), escalation or role not in quorum)
        seats.setdefault(key, []).append(
            Seat(int(request_id), str(approver), on_behalf_of, verdicts.get(int(request_id)))
        )
    found = [
        RoleTally(role, need, tuple(seats.get((role, False), ()))) for role, need in quorum.items()
    ]
    found += [RoleTally(role, None, tuple(rows)) for (role, extra), rows in seats.items() if extra]
    return found


def people_in(tallies: list[RoleTally]) -> set[str]:
    """Everyone a tally names (to look their names up once)."""
    found: set[str] = set()
    for t in tallies:
        for s in t.seats:
            found.add(s.approver)
            if s.on_behalf_of:
                found.add(s.on_behalf_of)
    return found
