"""The funnel and cap rows the report and the pages share (`lifecycle.portfolio`): one row per
stage of the forward path and per portfolio named, missing counts as 0, the cap from the
policy's per-portfolio caps or its default."""

from __future__ import annotations

from lifecycle.policy import PortfolioRules
from lifecycle.portfolio import PATH, CapRow, FunnelRow, caps, funnel
from lifecycle.stages import Stage


def test_the_funnel_follows_the_forward_path() -> None:
    rows = funnel({"proposal": 4, "pilot": 3, "terminated": 2}, {"pilot": 1, "terminated": 2})
    assert [r.stage for r in rows] == [s.value for s in PATH]
    assert PATH[0] is Stage.PROPOSAL and PATH[-1] is Stage.PRODUCTION
    assert Stage.TERMINATED not in PATH  # an ending, not a step of the funnel
    assert rows[0] == FunnelRow("proposal", "proposal", 4, 0)
    assert rows[1] == FunnelRow("pilot", "pilot", 3, 1)
    assert all((r.reached, r.current) == (0, 0) for r in rows[2:])


def test_caps_per_portfolio_in_the_order_given() -> None:
    rules = PortfolioRules(max_active_pilots=3, caps={"clinical": 1})
    rows = caps(["it", "clinical", "empty"], {"it": 4, "clinical": 1}, rules)
    assert rows == (
        CapRow("it", 4, 3, 0, True),  # over the cap: no free place, never a negative one
        CapRow("clinical", 1, 1, 0, True),
        CapRow("empty", 0, 3, 3, False),
    )
