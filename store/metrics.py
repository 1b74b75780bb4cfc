"""Metric observations: the measured outcomes readiness evidence is computed from."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from lifecycle.evidence import Observation
from store._rows import fetch_all
from store.models import (
    MetricObservation,
)


def record_metric(
    session: Session,
    pilot_id: str,
    *,
    metric: str,
    value: float,
    unit: str,
    observed_at: datetime,
    source: str | None,
    now: datetime,
    actor: str,
) -> MetricObservation:
    obs = MetricObservation(
        pilot_id=pilot_id,
        metric=metric,
        value=value,
        unit=unit,
        observed_at=observed_at,
        recorded_at=now,
        source=source,
    )
    session.add(obs)
    session.flush()
    return obs


def observations(
    session: Session, pilot_id: str, metric: str | None = None
) -> Sequence[MetricObservation]:
    query = select(MetricObservation).where(MetricObservation.pilot_id == pilot_id)
    if metric is not None:
        query = query.where(MetricObservation.metric == metric)
    return fetch_all(session, query.order_by(MetricObservation.observed_at, MetricObservation.id))


def observations_of(session: Session, pilot_id: str) -> list[Observation]:
    """A pilot's observations as the evidence rules read them."""
    return [
        Observation(o.metric, o.value, o.unit, o.observed_at)
        for o in observations(session, pilot_id)
    ]
