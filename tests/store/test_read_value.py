"""store.read_value on both databases: go-live and leaving production from the stage history,
and one pilot's inputs for its value series."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from lifecycle.policy import Policy
from lifecycle.proposal import Proposal
from lifecycle.stages import FORWARD
from store import metrics, pilots, read_value
from store.errors import NotFound
from store.models import StageChange
from store.read_value import Window

T0 = datetime(2026, 1, 1, 9, tzinfo=UTC)


def test_windows_and_inputs(
    session: Session,
    policy: Policy,
    helpdesk: Proposal,
    walk_to_production: Callable[..., None],
) -> None:
    live = T0 + timedelta(days=10)
    a = pilots.create_pilot(session, helpdesk, policy, actor="t", now=T0, pilot_id="pg-aaaaaaaa")
    b = pilots.create_pilot(session, helpdesk, policy, actor="t", now=T0, pilot_id="pg-bbbbbbbb")
    c = pilots.create_pilot(session, helpdesk, policy, actor="t", now=T0, pilot_id="pg-cccccccc")
    # a live at `live`, b a day later; each one's earlier stages a day apart just before
    for pilot_id, went_live in ((a.id, live), (b.id, live + timedelta(days=1))):
        walk_to_production(
            session,
            pilot_id,
            policy,
            live=went_live,
            start=went_live - timedelta(days=len(FORWARD)),
            step=timedelta(days=1),
        )
        session.flush()
    # b left production 30 days later (a later stage, e.g. a retirement, is whatever comes
    # next in its history); written directly so the test does not depend on that stage
    left = live + timedelta(days=31)
    session.add(
        StageChange(
            pilot_id=b.id,
            from_stage="production",
            to_stage="terminated",
            actor="t",
            reason="left",
            at=left,
        )
    )
    for day, value in ((5, 9.0), (12, 4.0), (20, 3.0)):
        metrics.record_metric(
            session,
            a.id,
            metric="resolution_minutes",
            value=value,
            unit="minutes",
            observed_at=T0 + timedelta(days=day),
            source=None,
            now=T0 + timedelta(days=day),
            actor="t",
        )
    session.flush()

    windows = read_value.production_windows(session)
    assert windows == {
        a.id: Window(live, None),
        b.id: Window(live + timedelta(days=1), left),
    }
    assert c.id not in windows  # never went live
    assert read_value.production_windows(session, [b.id, c.id]) == {
        b.id: Window(live + timedelta(days=1), left)
    }

    got = read_value.live_inputs(session, a.id)
    assert got.pilot.id == a.id and got.proposal == helpdesk
    assert got.window == Window(live, None)
    # every observation, the pre-production one too: the pure series drops it
    assert [(o.value, o.observed_at) for o in got.observations] == [
        (9.0, T0 + timedelta(days=5)),
        (4.0, T0 + timedelta(days=12)),
        (3.0, T0 + timedelta(days=20)),
    ]
    none = read_value.live_inputs(session, c.id)
    assert none.window is None and none.observations == []
    with pytest.raises(NotFound):
        read_value.live_inputs(session, "pg-00000000")
