"""Delegation rules: who stands in, for how long, and what is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lifecycle.delegation import (
    MAX_DEPTH,
    Delegation,
    DelegationError,
    assignee,
    check_new,
)

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def away(approver: str, delegate: str, start: int = 0, days: int = 10) -> Delegation:
    return Delegation(approver, delegate, T0 + start * DAY, T0 + (start + days) * DAY)


def test_a_delegate_stands_in_only_during_the_period() -> None:
    d = [away("U0SAM", "U0LEE", start=1, days=5)]
    assert assignee("U0SAM", delegations=d, at=T0).asked == "U0SAM"
    during = assignee("U0SAM", delegations=d, at=T0 + 2 * DAY)
    assert (during.asked, during.on_behalf_of, during.chain) == (
        "U0LEE",
        "U0SAM",
        ("U0SAM", "U0LEE"),
    )
    assert assignee("U0SAM", delegations=d, at=T0 + 6 * DAY).asked == "U0SAM"


def test_a_revoked_delegation_no_longer_applies() -> None:
    d = Delegation("U0SAM", "U0LEE", T0, T0 + 5 * DAY, revoked_at=T0 + DAY)
    assert assignee("U0SAM", delegations=[d], at=T0 + 12 * timedelta(hours=1)).asked == "U0LEE"
    assert assignee("U0SAM", delegations=[d], at=T0 + 2 * DAY).asked == "U0SAM"


def test_chains_are_followed_to_a_fixed_depth() -> None:
    people = [f"U0P{i}" for i in range(MAX_DEPTH + 3)]
    chain = [away(a, b) for a, b in zip(people, people[1:], strict=False)]
    got = assignee(people[0], delegations=chain, at=T0 + DAY)
    assert got.asked == people[MAX_DEPTH] and len(got.chain) == MAX_DEPTH + 1


def test_separation_of_duties_and_counting_once_hold_for_delegates() -> None:
    d = [away("U0SAM", "U0OWNER")]
    owner = assignee("U0SAM", delegations=d, at=T0 + DAY, excluded=frozenset({"U0OWNER"}))
    assert owner.asked == "U0SAM" and "separation of duties" in (owner.passed_over or "")
    twice = assignee("U0SAM", delegations=d, at=T0 + DAY, asked_in_role=frozenset({"U0OWNER"}))
    assert twice.asked == "U0SAM" and "counts twice" in (twice.passed_over or "")


def test_cycles_and_nonsense_are_refused_when_recorded() -> None:
    existing = [away("U0SAM", "U0LEE"), away("U0LEE", "U0KIM")]
    with pytest.raises(DelegationError, match="cycle: U0KIM -> U0SAM -> U0LEE -> U0KIM"):
        check_new(away("U0KIM", "U0SAM"), existing, T0)
    check_new(away("U0KIM", "U0SAM", start=20), existing, T0)  # no overlap: no cycle
    with pytest.raises(DelegationError, match="themselves"):
        check_new(away("U0SAM", "U0SAM"), [], T0)
    with pytest.raises(DelegationError, match="after --from"):
        check_new(Delegation("U0SAM", "U0LEE", T0, T0), [], T0)
    with pytest.raises(DelegationError, match="already has a delegation"):
        check_new(away("U0SAM", "U0KIM", start=2), existing, T0)
    with pytest.raises(DelegationError, match="at most"):
        check_new(away("U0SAM", "U0KIM", days=400), [], T0)


def test_a_cycle_that_reached_the_register_is_refused_when_followed() -> None:
    cycle = [away("U0A", "U0B"), away("U0B", "U0A")]
    with pytest.raises(DelegationError, match="cycle"):
        assignee("U0A", delegations=cycle, at=T0 + DAY)


people = st.sampled_from([f"U0X{i}" for i in range(6)])


@given(
    st.lists(st.tuples(people, people, st.integers(0, 20), st.integers(1, 15)), max_size=8),
    people,
    st.integers(0, 40),
)
def test_whoever_is_asked_is_the_approver_or_an_eligible_stand_in(
    raw: list[tuple[str, str, int, int]], approver: str, day: int
) -> None:
    accepted: list[Delegation] = []
    for a, b, start, days in raw:
        new = away(a, b, start, days)
        try:
            check_new(new, accepted, T0)
        except DelegationError:
            continue
        accepted.append(new)
    excluded = frozenset({"U0X5"})
    got = assignee(approver, delegations=accepted, at=T0 + day * DAY, excluded=excluded)
    assert got.chain[0] == approver and len(got.chain) <= MAX_DEPTH + 1
    assert got.asked == approver or (got.asked not in excluded and got.on_behalf_of == approver)
