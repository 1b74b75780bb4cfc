"""The portfolio's shape, computed once for the report and the pages: the stage funnel and the
active pilots against each portfolio's cap.

Pure: the callers read the counts from the register (the report from its snapshot, the pages
with their filters in SQL) and hand them over, so the two surfaces cannot disagree on what a
funnel row or a cap row says.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from lifecycle.policy import PortfolioRules
from lifecycle.stages import FORWARD, INITIAL, Stage, stage_label

#: the forward path, proposal to production: the funnel's stages in order.
PATH: tuple[Stage, ...] = (INITIAL, *FORWARD.values())


@dataclass(frozen=True)
class FunnelRow:
    """How many pilots ever reached a stage of the forward path, and how many are there now."""

    stage: str
    label: str
    reached: int
    current: int


@dataclass(frozen=True)
class CapRow:
    """A portfolio's active pilots against its cap."""

    portfolio: str
    active: int
    cap: int
    free: int
    at_cap: bool


def funnel(reached: Mapping[str, int], current: Mapping[str, int]) -> tuple[FunnelRow, ...]:
    """One row per stage of `PATH`: `reached` and `current` count pilots by stage value (a stage
    missing from either counts 0)."""
    return tuple(
        FunnelRow(
            stage=s.value,
            label=stage_label(s),
            reached=reached.get(s.value, 0),
            current=current.get(s.value, 0),
        )
        for s in PATH
    )


def cap_row(portfolio: str, active: int, rules: PortfolioRules) -> CapRow:
    cap = rules.cap_for(portfolio)
    return CapRow(
        portfolio=portfolio, active=active, cap=cap, free=max(cap - active, 0), at_cap=active >= cap
    )


def caps(
    portfolios: Iterable[str], active: Mapping[str, int], rules: PortfolioRules
) -> tuple[CapRow, ...]:
    """One row per portfolio named, in the order given; `active` counts active pilots by
    portfolio (missing: 0)."""
    return tuple(cap_row(name, active.get(name, 0), rules) for name in portfolios)
