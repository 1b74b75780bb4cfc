"""The facts a value review's timing is decided from, for each pilot in production: when it
went live, its latest settled review and what that decided, whether one is open now.

Reads only. One page of live pilots at a time, ordered by id (keyset), a few statements per
pilot: production pilots are a portfolio's few survivors, not its backlog.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from lifecycle.gates import Verdict
from lifecycle.policy import ValueReview
from lifecycle.stages import LIVE, Stage
from lifecycle.statuses import SETTLED
from lifecycle.value_review import PastReview, review_due, review_outcome
from store import gates, pilots
from store._rows import PAGE, fetch_all
from store.models import Gate, Pilot


@dataclass(frozen=True)
class LiveFacts:
    pilot_id: str
    title: str
    stage: Stage
    live_since: datetime | None
    last: PastReview | None
    open_review: bool


def counted_verdicts(session: Session, gate: Gate) -> list[Verdict]:
    """The verdicts that counted toward a settled gate's outcome (ignored ones left out:
    late, excluded, not the approver's)."""
    at = gate.resolved_at or gate.deadline
    evaluation = gates.evaluate(session, gate, at)
    ignored = {(d.request_id, d.approver) for d, _ in evaluation.ignored}
    return [
        Verdict(d.verdict)
        for d in gates.decisions_for(session, gate.id)
        if (d.request_id, d.approver) not in ignored
    ]


def last_review(session: Session, pilot_id: str, stage: Stage) -> PastReview | None:
    """The pilot's latest settled review at `stage`, with what it decided."""
    gate = (
        session.execute(
            select(Gate)
            .where(
                Gate.pilot_id == pilot_id,
                Gate.stage == stage.value,
                Gate.status.in_([s.value for s in SETTLED]),
            )
            .order_by(Gate.resolved_at.desc(), Gate.id.desc())
        )
        .scalars()
        .first()
    )
    if gate is None or gate.resolved_at is None:
        return None
    return PastReview(
        settled_at=gate.resolved_at,
        outcome=review_outcome(str(gate.status), counted_verdicts(session, gate)),
    )


def facts_of(session: Session, pilot: Pilot) -> LiveFacts:
    stage = Stage(pilot.stage)
    open_gate = gates.open_gate_for(session, pilot.id)
    settling = gates.settled_gate_awaiting_follow_up(session, pilot.id)
    return LiveFacts(
        pilot_id=pilot.id,
        title=pilot.title,
        stage=stage,
        live_since=pilots.entered_stage_at(session, pilot.id, stage),
        last=last_review(session, pilot.id, stage),
        open_review=open_gate is not None or settling is not None,
    )


def live_pilots(
    session: Session, limit: int = PAGE, after: str | None = None
) -> Sequence[LiveFacts]:
    """One page of pilots in a live stage (production), ordered by id; pass the last row's
    id as `after` for the next page."""
    query = select(Pilot).where(Pilot.stage.in_([s.value for s in LIVE]))
    if after is not None:
        query = query.where(Pilot.id > after)
    rows = fetch_all(session, query.order_by(Pilot.id).limit(limit))
    return [facts_of(session, p) for p in rows]


def due(session: Session, rule: ValueReview, now: datetime) -> Iterator[tuple[LiveFacts, datetime]]:
    """Each live pilot whose review under `rule` is due at `now`, with when it fell due, page
    by page (the sweep opens them; `serve` asks only whether there is a first)."""
    after: str | None = None
    while True:
        page = live_pilots(session, limit=PAGE, after=after)
        for facts in page:
            at = review_due(
                rule, live_since=facts.live_since, last=facts.last, open_review=facts.open_review
            )
            if at is not None and at <= now:
                yield facts, at
        if len(page) < PAGE:
            return
        after = page[-1].pilot_id
