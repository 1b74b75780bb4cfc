"""The register as `lifecycle.simulate` reads it: active pilots with their open gates.

Read-only: nothing here writes, flushes or audits (the simulation's promise is that asking
changes nothing, and a test checks the database file byte for byte). Three statements for the
active pilots, which of them have any gate and their open gates, then two per open gate for
the requests and decisions that count so far (open gates are few: one per active pilot at most).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import distinct, select
from sqlalchemy.orm import Session

from lifecycle.policy_versions import SHORT
from lifecycle.simulate import OpenGateView, PilotView
from lifecycle.stages import ACTIVE, Stage
from lifecycle.statuses import GatePhase
from store._rows import fetch_all
from store.gates import evaluate
from store.models import Gate, Pilot
from store.pilots import proposal_of


def _stamp_words(gate: Gate) -> str | None:
    if gate.policy_digest is None:
        return None
    short = gate.policy_digest[:SHORT]
    return f"{gate.policy_version} ({short})" if gate.policy_version else short


def register_snapshot(session: Session, now: datetime) -> list[PilotView]:
    """Every active pilot, oldest first, with its open gate (if any) and the approvals that
    count in it at `now`."""
    active = fetch_all(
        session,
        select(Pilot)
        .where(Pilot.stage.in_([s.value for s in ACTIVE]))
        .order_by(Pilot.created_at, Pilot.id),
    )
    ids = [p.id for p in active]
    with_gates = set(
        session.execute(select(distinct(Gate.pilot_id)).where(Gate.pilot_id.in_(ids))).scalars()
    )
    open_gates = {
        g.pilot_id: g
        for g in fetch_all(
            session,
            select(Gate).where(Gate.pilot_id.in_(ids), Gate.status == GatePhase.OPEN.value),
        )
    }
    views = []
    for pilot in active:
        gate = open_gates.get(pilot.id)
        gate_view = None
        if gate is not None:
            gate_view = OpenGateView(
                gate_id=gate.id,
                stage=Stage(gate.stage),
                target=Stage(gate.target),
                quorum=dict(gate.quorum),
                deadline=gate.deadline,
                extended=gate.extended_at is not None,
                escalated=gate.escalated_at is not None,
                approvals=evaluate(session, gate, now).approvals,
                policy=_stamp_words(gate),
            )
        views.append(
            PilotView(
                id=pilot.id,
                title=pilot.title,
                portfolio=pilot.portfolio,
                stage=Stage(pilot.stage),
                proposal=proposal_of(pilot),
                created_at=pilot.created_at,
                pilot_started_at=pilot.pilot_started_at,
                deploy_by=pilot.deploy_by,
                has_gate=pilot.id in with_gates,
                open_gate=gate_view,
            )
        )
    return views
