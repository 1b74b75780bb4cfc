"""Value in money: hours saved priced at the policy's rate, set against the pilot's budget."""

from __future__ import annotations

from pathlib import Path

from lifecycle.policy import ValueRules
from lifecycle.proposal import BusinessOwner, load_proposal
from lifecycle.value import estimate, money

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _helpdesk():  # type: ignore[no-untyped-def]
    proposal = load_proposal(EXAMPLES / "helpdesk-assistant.yaml")
    metric = proposal.metric("resolution_minutes")
    assert metric is not None and metric.volume_per_year
    found = estimate(metric, 1.0, "test")
    assert found is not None and found.per_year_unit == "hours/year"
    return proposal, found


def test_hours_are_priced_and_repay_the_budget() -> None:
    proposal, found = _helpdesk()
    priced = money([found], proposal, ValueRules(hour_rate=50, currency="USD"))
    assert priced is not None
    assert priced.per_year == round(found.per_year * 50, 2)
    assert priced.payback_months == round(180000 / priced.per_year * 12, 1)


def test_no_rate_no_hours_or_another_currency_gives_no_payback() -> None:
    proposal, found = _helpdesk()
    assert money([found], proposal, ValueRules()) is None
    assert money([], proposal, ValueRules(hour_rate=50)) is None
    in_euros = proposal.model_copy(
        update={"business_owner": BusinessOwner(name="Tom Becker", slack_id="U0BIZ0001",
                                                budget=180000, currency="EUR")}
    )
    priced = money([found], in_euros, ValueRules(hour_rate=50, currency="USD"))
    assert priced is not None and priced.payback_months is None
    assert "months" not in priced.formula
