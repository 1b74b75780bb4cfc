"""Owner warnings as a pure rule: which gates need one at `now`, and the policy's window."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lifecycle.errors import InputError
from lifecycle.policy import Policy
from lifecycle.warnings import (
    GateWatch,
    OwnerWarning,
    Waiting,
    time_left,
    warning_due,
    warnings_due,
)

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
WINDOW = timedelta(hours=48)
OPS = Waiting("U0OPS0001", "operations")
ARCH = Waiting("U0ARC0002", "architecture")
CIO = Waiting("U0CIO0001", "cio", round=1)


def watch(hours_left: float, **changes: Any) -> GateWatch:
    values: dict[str, Any] = {
        "gate_id": 7,
        "pilot_id": "pg-1a2b3c4d",
        "deadline": NOW + timedelta(hours=hours_left),
        "missing": {"architecture": 0, "operations": 1},
        "waiting": (ARCH, OPS),
    }
    values.update(changes)
    return GateWatch(**values)


def test_a_gate_short_of_its_quorum_inside_the_window_warns_naming_only_the_short_roles() -> None:
    assert warning_due(watch(36), window=WINDOW, now=NOW) == OwnerWarning(
        gate_id=7,
        pilot_id="pg-1a2b3c4d",
        deadline=NOW + timedelta(hours=36),
        time_left=timedelta(hours=36),
        short={"operations": 1},
        waiting=(OPS,),
    )


@pytest.mark.parametrize(
    ("hours_left", "due"),
    [(48.01, False), (48, True), (0.5, True), (0, False), (-1, False)],
)
def test_the_window_opens_at_its_start_and_closes_at_the_deadline(
    hours_left: float, due: bool
) -> None:
    assert (warning_due(watch(hours_left), window=WINDOW, now=NOW) is not None) is due


def test_no_warning_when_nothing_is_short_or_the_window_is_zero() -> None:
    assert warning_due(watch(10, missing={"operations": 0}), window=WINDOW, now=NOW) is None
    assert warning_due(watch(10), window=timedelta(0), now=NOW) is None


def test_after_an_escalation_its_ask_is_named_and_nobody_left_is_said() -> None:
    escalated = watch(10, waiting=(OPS, CIO), escalation_role="cio")
    found = warning_due(escalated, window=WINDOW, now=NOW)
    assert found is not None and found.waiting == (OPS, CIO)
    # Nobody left to ask in the short role: still a warning, with nobody named.
    alone = warning_due(watch(10, waiting=(ARCH,)), window=WINDOW, now=NOW)
    assert alone is not None and alone.waiting == () and alone.short == {"operations": 1}


def test_warnings_come_soonest_deadline_first() -> None:
    gates = [watch(40, gate_id=1), watch(5, gate_id=2), watch(70, gate_id=3)]
    assert [w.gate_id for w in warnings_due(gates, window=WINDOW, now=NOW)] == [2, 1]


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(days=1, hours=12), "1 day 12 hours"),
        (timedelta(days=2), "2 days"),
        (timedelta(hours=5, minutes=20), "5 hours 20 minutes"),
        (timedelta(hours=1), "1 hour"),
        (timedelta(minutes=1, seconds=59), "1 minute"),
        (timedelta(seconds=-5), "0 minutes"),
    ],
)
def test_time_left_reads_at_a_glance(delta: timedelta, text: str) -> None:
    assert time_left(delta) == text


# ---------------------------------------------------------------- the policy's window

MakePolicy = Callable[[dict[str, Any]], Policy]


def problems(make_policy: MakePolicy, data: dict[str, Any]) -> str:
    with pytest.raises(InputError) as exc:
        make_policy(data)
    return "\n".join(exc.value.problems)


def test_the_example_documents_the_default(
    policy_data: dict[str, Any], make_policy: MakePolicy
) -> None:
    assert policy_data["warnings"] == {"window_hours": 48}
    assert policy_data["programme_office"] == "programme_office"
    del policy_data["warnings"], policy_data["programme_office"]
    policy = make_policy(policy_data)
    assert (policy.warnings.window_hours, policy.programme_office) == (48, "programme_office")
    assert policy.programme_office_members() == ["U0PMO0001", "U0PMO0002"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            -1,
            "warnings.window_hours: -1 hours is outside 0-720: give the hours before a gate's "
            "deadline at which to warn (at most 720, 30 days), or 0 for no warnings",
        ),
        (721, "warnings.window_hours: 721 hours is outside 0-720"),
        (
            "two days",
            "warnings.window_hours: 'two days' is not a whole number of hours; give 1 to 720 "
            "(e.g. 48 to warn two days before the deadline), or 0 for no warnings",
        ),
        (1.5, "warnings.window_hours: 1.5 is not a whole number of hours"),
        (True, "warnings.window_hours: True is not a whole number of hours"),
    ],
)
def test_a_bad_window_is_refused_precisely(
    policy_data: dict[str, Any], make_policy: MakePolicy, value: Any, message: str
) -> None:
    policy_data["warnings"] = {"window_hours": value}
    assert message in problems(make_policy, policy_data)


def test_the_programme_office_must_be_a_role_when_named(
    policy_data: dict[str, Any], make_policy: MakePolicy
) -> None:
    policy_data["programme_office"] = "pmo"
    assert "programme_office: unknown role 'pmo' (roles defined: " in problems(
        make_policy, policy_data
    )
    # One name for the programme office: the warnings have none of their own.
    policy_data["programme_office"] = "finance"
    policy_data["warnings"] = {"programme_office": "finance"}
    assert "warnings.programme_office" in problems(make_policy, policy_data)
    policy_data["warnings"] = {"window_hours": 24}
    assert make_policy(policy_data).programme_office_members() == ["U0FIN0001"]
    # Left at its default, a policy without that role has no programme office: the business
    # owner alone is warned and nobody may advance or terminate from Slack.
    del policy_data["programme_office"]
    policy_data["roles"]["office"] = policy_data["roles"].pop("programme_office")
    for gate in policy_data["gates"].values():
        if "programme_office" in gate["approvers"]:
            gate["approvers"]["office"] = gate["approvers"].pop("programme_office")
    policy_data.pop("people", None)
    without = make_policy(policy_data)
    assert (without.programme_office, without.programme_office_members()) == (
        "programme_office",
        [],
    )
