"""Deadline arithmetic: deploy-or-terminate dates and reminder points, with `now` passed in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lifecycle.deadlines import days_left, deploy_by, due_reminders, is_past, reminder_times

T0 = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
DEADLINE = T0 + timedelta(days=10)
POINTS = [0.5, 0.8]


def at(days: float) -> datetime:
    return T0 + timedelta(days=days)


def test_deploy_by_is_start_plus_the_limit() -> None:
    assert deploy_by(T0, 182) == datetime(2026, 7, 11, 12, 0, tzinfo=UTC)
    assert deploy_by(T0, 1) == at(1)


def test_days_left_and_is_past() -> None:
    assert days_left(DEADLINE, T0) == 10
    assert days_left(DEADLINE, at(9.75)) == pytest.approx(0.25)
    assert days_left(DEADLINE, at(12)) == pytest.approx(-2)
    assert not is_past(DEADLINE, DEADLINE)
    assert is_past(DEADLINE, DEADLINE + timedelta(microseconds=1))


def test_reminder_times_are_fractions_of_the_window() -> None:
    assert reminder_times(T0, DEADLINE, [0.8, 0.5]) == [(0.5, at(5)), (0.8, at(8))]


@pytest.mark.parametrize("now_days,sent,expected", [
    (4.99, [], []),              # nothing due yet
    (5, [], [0.5]),              # due exactly at its point
    (6, [], [0.5]),
    (6, [0.5], []),              # once per point
    (8, [0.5], [0.8]),
    (9, [], [0.8]),              # several due together: only the latest
    (9, [0.8], []),              # the latest already sent: no catch-up of the earlier one
    (10, [0.5], [0.8]),          # at the deadline itself, still in time
    (10.001, [], []),            # none after the deadline
    (11, [0.5], []),
])
def test_due_reminders(now_days: float, sent: list[float], expected: list[float]) -> None:
    assert due_reminders(T0, DEADLINE, POINTS, sent, at(now_days)) == expected


def test_due_reminders_with_unsorted_points_and_stored_point_strings() -> None:
    # The store keeps points as "0.800" and reads them back as floats.
    sent = [float(f"{0.5:.3f}")]
    assert due_reminders(T0, DEADLINE, [0.8, 0.5], sent, at(8.5)) == [0.8]
    assert due_reminders(T0, DEADLINE, [0.8, 0.5], [float(f"{0.8:.3f}")], at(9)) == []


@given(st.lists(st.floats(0, 12, allow_nan=False), max_size=30),
       st.lists(st.floats(0.01, 0.99, allow_nan=False), min_size=1, max_size=4, unique=True))
def test_a_sweep_sends_each_point_at_most_once_and_never_late(sweeps: list[float],
                                                              points: list[float]) -> None:
    sent: list[float] = []
    for days in sorted(sweeps):
        now = at(days)
        for point in due_reminders(T0, DEADLINE, points, sent, now):
            assert now <= DEADLINE
            assert T0 + (DEADLINE - T0) * point <= now
            assert point not in sent
            sent.append(point)
    assert len(sent) == len(set(sent))
