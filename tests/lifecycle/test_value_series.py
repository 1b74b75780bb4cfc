"""Value over time after go-live: the figures computed by hand, and the rules as properties."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from lifecycle.evidence import Observation
from lifecycle.policy import ValueRules
from lifecycle.proposal import Proposal, load_proposal
from lifecycle.value_series import (
    granularity,
    periods,
    portfolio_totals,
    production_window,
    value_series,
)

LIVE = datetime(2026, 1, 1, tzinfo=UTC)
NOW = datetime(2026, 5, 1, tzinfo=UTC)
RATE = ValueRules(hour_rate=55, currency="USD")
#: hypothesis calls a test many times per fixture, so the property test reads its own copy.
HELPDESK = load_proposal(Path(__file__).resolve().parents[2] / "examples/helpdesk-assistant.yaml")


def _obs(day: str, value: float, metric: str = "resolution_minutes") -> Observation:
    return Observation(metric, value, "minutes", datetime.fromisoformat(day).replace(tzinfo=UTC))


#: 11 -> 5 in January, median 4 in February, nothing in March (carried), 2 in April; the
#: pilot-phase figure of 1 minute, before go-live, must not count.
OBSERVATIONS = [
    _obs("2025-12-20", 1.0),
    _obs("2026-01-15", 5.0),
    _obs("2026-02-10", 3.0),
    _obs("2026-02-20", 5.0),
    _obs("2026-04-10", 2.0),
]


def _helpdesk(
    make_proposal: Callable[[dict[str, Any]], Proposal],
    proposal_data: Callable[[str], dict[str, Any]],
    budget: int = 180000,
    currency: str = "USD",
) -> Proposal:
    data = proposal_data("helpdesk-assistant")
    data["business_owner"]["budget"] = budget
    data["business_owner"]["currency"] = currency
    return make_proposal(data)


def test_months_hours_money_and_projection_by_hand(make_proposal, proposal_data) -> None:  # type: ignore[no-untyped-def]
    proposal = _helpdesk(make_proposal, proposal_data)
    s = value_series(proposal, OBSERVATIONS, LIVE, RATE, NOW)
    assert s.granularity == "month" and s.in_production
    (m,) = s.metrics  # first_contact_resolution has no volume_per_year: nothing to price
    assert m.metric == "resolution_minutes" and m.value_unit == "hours"
    # (11 - figure) min x 42000 per year x days / 365 / 60
    assert [(p.label, p.days, p.observed, p.value, p.carried) for p in m.periods] == [
        ("2026-01", 31, 1, 5.0, False),
        ("2026-02", 28, 2, 4.0, False),
        ("2026-03", 31, 0, 4.0, True),
        ("2026-04", 30, 1, 2.0, False),
    ]
    # 6x42000x31/365/60, 7x42000x28/365/60, 7x42000x31/365/60, 9x42000x30/365/60
    assert [p.realised for p in m.periods] == [356.71, 375.89, 416.16, 517.81]
    assert [p.cumulative for p in m.periods] == [356.71, 732.6, 1148.76, 1666.57]
    # the target (1 minute) is 10 minutes better than baseline: 10x42000xdays/365/60
    assert [p.promised for p in m.periods] == [594.52, 536.99, 594.52, 575.34]
    assert [p.vs_baseline for p in m.periods] == [6, 7, 7, 9]
    assert [p.to_target for p in m.periods] == [4, 3, 3, 1]
    assert m.periods[0].formula == (
        "(11 - 5) minutes x 42,000 per year x 31 / 365 days / 60 = 356.71 hours"
    )
    assert m.periods[2].formula.endswith("(figure carried from an earlier period)")
    # money: hours x 55
    assert [p.money for p in s.periods] == [19619.05, 20673.95, 22888.8, 28479.55]
    assert [p.cumulative_money for p in s.periods] == [19619.05, 40293.0, 63181.8, 91661.35]
    assert s.realised_hours == 1666.57 and s.realised_money == 91661.35
    assert s.promised_hours == 2301.37 and s.promised_money == round(2301.37 * 55, 2)
    # not yet: 180000 - 91661.35 = 88338.65 to go; latest figure 2 min: 9x42000/60 = 6300
    # hours a year x 55 = 346500 a year; 88338.65 / 346500 x 365 = 93.06 days after May 1
    assert s.payback.state == "not yet" and s.payback.at is None
    assert s.payback.rate_per_year == 346500
    assert s.payback.projected_at is not None
    assert s.payback.projected_at.date().isoformat() == "2026-08-02"
    assert s.payback.formula == (
        "88,338.65 USD to go / 346,500 USD per year at the latest figures x 365 = 93.1 days: "
        "about 2026-08-02"
    )
    assert "1,666.57 hours x 55 USD/hour = 91,661.35 USD against a budget of 180,000 USD" in (
        s.formula
    )


def test_payback_is_the_moment_the_budget_is_reached(make_proposal, proposal_data) -> None:  # type: ignore[no-untyped-def]
    proposal = _helpdesk(make_proposal, proposal_data, budget=30000)
    s = value_series(proposal, OBSERVATIONS, LIVE, RATE, NOW)
    # January repays 19619.05; February's 20673.95 crosses 30000 after
    # (30000 - 19619.05) / 20673.95 x 28 days = 14.06 days: 15 February
    assert s.payback.state == "paid back" and s.payback.period == "2026-02"
    assert s.payback.at is not None
    assert s.payback.at.date().isoformat() == "2026-02-15"
    expected = datetime(2026, 2, 1, tzinfo=UTC) + timedelta(days=28) * (10380.95 / 20673.95)
    assert abs((s.payback.at - expected).total_seconds()) < 1


def test_no_rate_or_other_currency_no_payback(make_proposal, proposal_data) -> None:  # type: ignore[no-untyped-def]
    proposal = _helpdesk(make_proposal, proposal_data)
    s = value_series(proposal, OBSERVATIONS, LIVE, ValueRules(), NOW)
    assert s.realised_hours == 1666.57 and s.realised_money is None
    assert s.payback.state == "no hour rate"
    euros = _helpdesk(make_proposal, proposal_data, currency="EUR")
    s = value_series(euros, OBSERVATIONS, LIVE, RATE, NOW)
    assert s.realised_money == 91661.35 and s.payback.state == "other currency"


def test_recent_go_live_is_shown_in_weeks_clipped_at_both_ends() -> None:
    live = datetime(2026, 4, 8, 12, tzinfo=UTC)  # a Wednesday
    now = datetime(2026, 4, 22, 6, tzinfo=UTC)
    assert granularity(live, now) == "week"
    assert [
        (label, a.isoformat(), b.isoformat()) for label, a, b in periods(live, now, "week")
    ] == [
        ("2026-W15", "2026-04-08T12:00:00+00:00", "2026-04-13T00:00:00+00:00"),
        ("2026-W16", "2026-04-13T00:00:00+00:00", "2026-04-20T00:00:00+00:00"),
        ("2026-W17", "2026-04-20T00:00:00+00:00", "2026-04-22T06:00:00+00:00"),
    ]
    assert granularity(LIVE, LIVE + timedelta(days=92)) == "month"
    # December rolls over into the next year
    labels = [p[0] for p in periods(datetime(2025, 11, 20, tzinfo=UTC), NOW, "month")]
    assert labels == ["2025-11", "2025-12", "2026-01", "2026-02", "2026-03", "2026-04"]


def test_value_stops_when_the_pilot_leaves_production(make_proposal, proposal_data) -> None:  # type: ignore[no-untyped-def]
    proposal = _helpdesk(make_proposal, proposal_data, budget=10**9)
    s = value_series(
        proposal, OBSERVATIONS, LIVE, RATE, NOW, left_at=datetime(2026, 4, 5, tzinfo=UTC)
    )
    assert not s.in_production and s.until == datetime(2026, 4, 5, tzinfo=UTC)
    assert [p.label for p in s.periods] == ["2026-01", "2026-02", "2026-03", "2026-04"]
    # April's 4 days carry March's 4 minutes (the 10 April figure came after it left):
    # 7 x 42000 x 4 / 365 / 60 = 53.7
    assert [p.hours for p in s.periods][-1] == 53.7
    assert s.realised_hours == 1148.76 + 53.7
    assert s.payback.state == "not at the current rate" and s.payback.projected_at is None


def test_production_window_and_portfolio_totals(make_proposal, proposal_data) -> None:  # type: ignore[no-untyped-def]
    day = lambda d: datetime(2026, 1, d, tzinfo=UTC)  # noqa: E731
    assert production_window([("proposal", day(1)), ("pilot", day(2))]) is None
    assert production_window(
        [("proposal", day(1)), ("production", day(3)), ("retired", day(9))]
    ) == (day(3), day(9))
    assert production_window([("production", day(3))]) == (day(3), None)
    a = value_series(_helpdesk(make_proposal, proposal_data), OBSERVATIONS, LIVE, RATE, NOW)
    b = value_series(
        _helpdesk(make_proposal, proposal_data, budget=30000), OBSERVATIONS, LIVE, RATE, NOW
    )
    e = value_series(
        _helpdesk(make_proposal, proposal_data, currency="EUR"), OBSERVATIONS, LIVE, RATE, NOW
    )
    (it, ops) = portfolio_totals([("it", a), ("it", b), ("ops", e)], RATE)
    assert (it.portfolio, it.pilots, it.realised_hours, it.realised_money) == (
        "it",
        2,
        3333.14,
        183322.7,
    )
    assert (it.budget, it.paid_back, it.other_currency) == (210000, 1, 0)
    assert (ops.budget, ops.other_currency, ops.paid_back) == (0, 1, 0)


_minutes = st.floats(min_value=0, max_value=30, allow_nan=False, allow_infinity=False)
_offsets = st.integers(min_value=-60 * 86400, max_value=300 * 86400)


@settings(max_examples=60, deadline=None)
@given(
    points=st.lists(st.tuples(_offsets, _minutes), max_size=25),
    days=st.integers(min_value=0, max_value=400),
)
def test_properties(points: list[tuple[int, float]], days: int) -> None:
    proposal = HELPDESK
    now = LIVE + timedelta(days=days)
    obs = [
        Observation("resolution_minutes", v, "minutes", LIVE + timedelta(seconds=s))
        for s, v in points
        if LIVE + timedelta(seconds=s) <= now
    ]
    s = value_series(proposal, obs, LIVE, RATE, now)
    # periods tile go-live to now, in order, with no gap
    assert all(p.start < p.end for p in s.periods)
    assert all(a.end == b.start for a, b in zip(s.periods, s.periods[1:], strict=False))
    if s.periods:
        assert s.periods[0].start == LIVE and s.periods[-1].end == now
    # promised value only grows (the target is always better than the baseline)
    promised = [p.cumulative_promised_hours for p in s.periods]
    assert promised == sorted(promised)
    (m,) = s.metrics
    # no value before production, nor before the first figure measured in production
    first = min((LIVE + timedelta(seconds=x) for x, _ in points if x >= 0), default=None)
    for p in m.periods:
        if first is None or p.end <= first:
            assert p.value is None and p.realised == 0
    # a figure never worse than baseline: realised value never shrinks
    if all(v <= 11 for _, v in points):
        cumulative = [p.cumulative_hours for p in s.periods]
        assert cumulative == sorted(cumulative)
    # pre-production observations alone change nothing
    before = [o for o in obs if o.observed_at < LIVE]
    assert value_series(proposal, before, LIVE, RATE, now).realised_hours == 0
    # the money is the hours at the rate, and the payback is only ever inside the series
    assert s.realised_money == round(s.realised_hours * 55, 2)
    if s.payback.at is not None:
        assert LIVE <= s.payback.at <= now
