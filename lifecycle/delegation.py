"""Out-of-office delegation, as pure rules: who is asked in an approver's place, and which
delegations are refused before they are recorded.

An approver (or the programme office for them) names a delegate for a period. A sign-off that
would go to the approver in that period goes to the delegate instead, recorded as "delegate on
behalf of approver": the answer counts once, toward the approver's role. Delegations chain
(Sam -> Lee -> Kim while both are away) up to `MAX_DEPTH` hops; a cycle is refused when it is
recorded and, should one ever reach the register, when it is followed. Separation of duties
holds for a delegate as for anyone: a delegate who proposed or owns the pilot, or who is already
asked in the same role of the same gate (they would count twice), is passed over and the
request stays with the approver, with the reason said.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

#: how many hops a chain of delegations is followed.
MAX_DEPTH = 3
#: the longest period one delegation may cover.
MAX_PERIOD = timedelta(days=180)


class DelegationError(ValueError):
    """A delegation that cannot be recorded or followed; the message says why."""


@dataclass(frozen=True)
class Delegation:
    approver: str
    delegate: str
    starts_at: datetime
    ends_at: datetime
    revoked_at: datetime | None = None

    def active_at(self, at: datetime) -> bool:
        revoked = self.revoked_at is not None and self.revoked_at <= at
        return self.starts_at <= at < self.ends_at and not revoked

    def overlaps(self, other: Delegation) -> bool:
        return self.starts_at < other.ends_at and other.starts_at < self.ends_at


@dataclass(frozen=True)
class Assignee:
    """Who is asked for `approver`'s sign-off, and why."""

    asked: str
    #: the approver the asked person stands in for (None: asked in their own right).
    on_behalf_of: str | None = None
    #: the hops followed, approver first (one element when nobody stands in).
    chain: tuple[str, ...] = ()
    #: why a delegate was passed over, if one was.
    passed_over: str | None = None


def check_new(new: Delegation, existing: Iterable[Delegation], now: datetime) -> None:
    """Refuse a delegation that is empty, too long, to oneself, or that closes a cycle with the
    delegations it overlaps."""
    if new.delegate == new.approver:
        raise DelegationError(f"{new.approver} cannot delegate to themselves")
    if new.ends_at <= new.starts_at:
        raise DelegationError("--until must be after --from")
    if new.ends_at <= now:
        raise DelegationError("the period is already over")
    if new.ends_at - new.starts_at > MAX_PERIOD:
        raise DelegationError(f"a delegation covers at most {MAX_PERIOD.days} days")
    live = [d for d in existing if d.revoked_at is None and d.overlaps(new)]
    if any(d.approver == new.approver for d in live):
        raise DelegationError(
            f"{new.approver} already has a delegation in that period; revoke it first"
        )
    following = {d.approver: d.delegate for d in live}
    following[new.approver] = new.delegate
    seen = [new.approver]
    person = new.delegate
    while person in following:
        if person in seen:
            loop = " -> ".join([*seen[seen.index(person) :], person])
            raise DelegationError(f"this delegation would close a cycle: {loop}")
        seen.append(person)
        person = following[person]


def assignee(
    approver: str,
    *,
    delegations: Sequence[Delegation],
    at: datetime,
    excluded: frozenset[str] = frozenset(),
    asked_in_role: frozenset[str] = frozenset(),
) -> Assignee:
    """Who is asked in `approver`'s place at `at`: the end of the chain of active delegations
    (at most MAX_DEPTH hops), or `approver` when nobody stands in or the stand-in may not."""
    active = {d.approver: d.delegate for d in delegations if d.active_at(at)}
    chain = [approver]
    person = approver
    while person in active:
        nxt = active[person]
        if nxt in chain:
            loop = " -> ".join([*chain[chain.index(nxt) :], nxt])
            raise DelegationError(f"delegations form a cycle: {loop}")
        if len(chain) - 1 >= MAX_DEPTH:
            break  # the hops beyond are not followed: the last one reached is asked
        chain.append(nxt)
        person = nxt
    if person == approver:
        return Assignee(approver, chain=(approver,))
    if person in excluded:
        return Assignee(
            approver,
            chain=tuple(chain),
            passed_over=f"{person} proposed or owns this pilot (separation of duties)",
        )
    if person in asked_in_role:
        return Assignee(
            approver,
            chain=tuple(chain),
            passed_over=f"{person} is already asked in this role (nobody counts twice)",
        )
    return Assignee(person, on_behalf_of=approver, chain=tuple(chain))
