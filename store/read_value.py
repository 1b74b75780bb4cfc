"""Value since go-live, read side: when each pilot went live (and left production), and what one
production pilot's value series is computed from.

Why a module of its own: the report, a pilot's page and `pilotgate value` all price a pilot's
value over time from the same three things (its proposal, its stage history, its metric
observations), and every query lives in `store/`. The series itself is computed by
`lifecycle.value_series` (pure); this module only reads. Read-only: nothing here writes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from lifecycle.evidence import Observation
from lifecycle.proposal import Proposal
from lifecycle.stages import Stage
from lifecycle.value_series import production_window
from store.metrics import observations_of
from store.models import Pilot, StageChange
from store.pilots import get_pilot, proposal_of


@dataclass(frozen=True)
class Window:
    """A pilot's stay in production: went live at `since`, left at `until` (None: still there)."""

    since: datetime
    until: datetime | None


@dataclass(frozen=True)
class LiveInputs:
    """What one pilot's value since go-live is computed from; `window` None: never went live."""

    pilot: Pilot
    proposal: Proposal
    window: Window | None
    observations: list[Observation]


def production_windows(
    session: Session, pilot_ids: Collection[str] | None = None
) -> dict[str, Window]:
    """Every pilot that reached production (or those of `pilot_ids`), with its first stay there.

    One statement: the stage history of the pilots with a change to production, in the order it
    happened (at, then id); the stay is read from it by `lifecycle.value_series`."""
    live = select(StageChange.pilot_id).where(StageChange.to_stage == Stage.PRODUCTION)
    query = select(StageChange.pilot_id, StageChange.to_stage, StageChange.at).where(
        StageChange.pilot_id.in_(live)
    )
    if pilot_ids is not None:
        query = query.where(StageChange.pilot_id.in_(list(pilot_ids)))
    rows = session.execute(
        query.order_by(StageChange.pilot_id, StageChange.at, StageChange.id)
    ).all()
    history: dict[str, list[tuple[str, datetime]]] = defaultdict(list)
    for pilot_id, stage, at in rows:
        history[pilot_id].append((Stage(stage).value, at))
    out = {}
    for pilot_id, changes in history.items():
        found = production_window(changes, Stage.PRODUCTION.value)
        if found is not None:
            out[pilot_id] = Window(*found)
    return out


def live_inputs(session: Session, pilot_id: str) -> LiveInputs:
    """One pilot's proposal, production stay and observations (NotFound: no such pilot)."""
    pilot = get_pilot(session, pilot_id)
    window = production_windows(session, [pilot_id]).get(pilot_id)
    observations = observations_of(session, pilot_id) if window is not None else []
    return LiveInputs(pilot, proposal_of(pilot), window, observations)
