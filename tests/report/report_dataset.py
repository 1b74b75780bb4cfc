"""A known portfolio, written through the real store functions at fixed times.

Four pilots, mirroring the demo: the help-desk assistant reaches internal rollout (its gate
into customer rollout is open), the clinical assistant is rejected at readiness review and
terminated, the developer-productivity assistant's pilot gate expires and it is terminated,
and a second help-desk proposal waits at its first gate. Every time is an offset from T0, so
each figure of the report can be worked out by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from lifecycle.gates import Verdict, plan_gate
from lifecycle.policy import Policy
from lifecycle.proposal import load_proposal
from lifecycle.stages import Stage, next_stage
from store import gates, metrics, pilots

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=100)
REJECTION = "PHI was stored in a third-party log outside the EHR."


def at(days: float = 0, hours: float = 0) -> datetime:
    return T0 + timedelta(days=days, hours=hours)


@dataclass
class Portfolio:
    helpdesk: str = ""
    clinical: str = ""
    devprod: str = ""
    waiting: str = ""
    gates: dict[str, list[int]] = field(default_factory=dict)


def _open(session: Session, policy: Policy, pilot_id: str, when: datetime) -> int:
    pilot = pilots.get_pilot(session, pilot_id)
    stage = Stage(pilot.stage)
    plan = plan_gate(policy, pilots.proposal_of(pilot), stage, next_stage(stage))
    gate = gates.open_gate(
        session,
        pilot_id,
        plan,
        deadline=when + timedelta(days=14),
        escalation_role=None,
        now=when,
        actor="test",
    )
    return gate.id


def _decide(
    session: Session,
    gate_id: int,
    approver: str,
    when: datetime,
    verdict: Verdict = Verdict.APPROVE,
    reason: str | None = None,
) -> None:
    request = next(r for r in gates.requests_for(session, gate_id) if r.approver == approver)
    gates.record_decision(session, request, verdict=verdict, reason=reason, now=when, source="test")


def _move(
    session: Session,
    policy: Policy,
    pilot_id: str,
    gate_id: int | None,
    target: Stage,
    when: datetime,
    reason: str = "gate approved",
) -> None:
    pilot = pilots.get_pilot(session, pilot_id)
    if gate_id is not None:
        gates.claim_continuation(session, gate_id, when)
    assert pilots.move_stage(
        session,
        pilot_id,
        expected=Stage(pilot.stage),
        target=target,
        actor="gate",
        reason=reason,
        now=when,
        policy=policy,
    )


def _metrics(
    session: Session, pilot_id: str, metric: str, unit: str, values: list[float], first_day: float
) -> None:
    for i, value in enumerate(values):
        metrics.record_metric(
            session,
            pilot_id,
            metric=metric,
            value=value,
            unit=unit,
            observed_at=at(first_day + i),
            source="test",
            now=at(first_day + i),
            actor="test",
        )


def build(session: Session, policy: Policy) -> Portfolio:
    p = Portfolio()
    helpdesk = load_proposal(EXAMPLES / "helpdesk-assistant.yaml")
    clinical = load_proposal(EXAMPLES / "clinical-documentation.yaml")
    devprod = load_proposal(EXAMPLES / "developer-productivity.yaml")

    # Help-desk: proposal gate decided in 5 h, pilot 60 days, readiness review in 6 h,
    # internal rollout since day 61.25 with its gate open since day 80.
    p.helpdesk = pilots.create_pilot(
        session, helpdesk, policy, actor="test", now=at(0), pilot_id="pg-help0001"
    ).id
    g1 = _open(session, policy, p.helpdesk, at(0))
    _decide(session, g1, "U0PMO0001", at(0, 2))
    _decide(session, g1, "U0FIN0001", at(0, 5))
    _move(session, policy, p.helpdesk, g1, Stage.PILOT, at(0, 5))
    _metrics(session, p.helpdesk, "resolution_minutes", "minutes", [1.4, 1.1, 0.9, 1.0, 0.8], 55)
    _metrics(session, p.helpdesk, "first_contact_resolution", "percent", [79, 82, 84, 83, 85], 55)
    g2 = _open(session, policy, p.helpdesk, at(60))
    _decide(session, g2, "U0PMO0002", at(61))
    _move(session, policy, p.helpdesk, g2, Stage.READINESS_REVIEW, at(61))
    g3 = _open(session, policy, p.helpdesk, at(61))
    _decide(session, g3, "U0ARC0001", at(61, 3))
    _decide(session, g3, "U0OPS0001", at(61, 6))
    _move(session, policy, p.helpdesk, g3, Stage.INTERNAL_ROLLOUT, at(61, 6))
    g4 = _open(session, policy, p.helpdesk, at(80))
    p.gates[p.helpdesk] = [g1, g2, g3, g4]

    # Clinical: pilot from day 2, readiness review from day 31, rejected by security on day 33.
    p.clinical = pilots.create_pilot(
        session, clinical, policy, actor="test", now=at(1), pilot_id="pg-clin0001"
    ).id
    c1 = _open(session, policy, p.clinical, at(1))
    _decide(session, c1, "U0PMO0001", at(1, 12))
    _decide(session, c1, "U0FIN0001", at(2))
    _move(session, policy, p.clinical, c1, Stage.PILOT, at(2))
    _metrics(session, p.clinical, "documentation_minutes_per_visit", "minutes", [12, 11, 12.5], 27)
    c2 = _open(session, policy, p.clinical, at(30))
    _decide(session, c2, "U0PMO0001", at(31))
    _move(session, policy, p.clinical, c2, Stage.READINESS_REVIEW, at(31))
    c3 = _open(session, policy, p.clinical, at(31))
    _decide(session, c3, "U0ARC0002", at(32))
    _decide(session, c3, "U0SEC0001", at(33), Verdict.REJECT, REJECTION)
    _move(
        session,
        policy,
        p.clinical,
        c3,
        Stage.TERMINATED,
        at(33),
        reason=f"rejected at readiness review: U0SEC0001 rejected: {REJECTION}",
    )
    p.gates[p.clinical] = [c1, c2, c3]

    # Developer productivity: pilot from day 3; its pilot gate expires on day 24.
    p.devprod = pilots.create_pilot(
        session, devprod, policy, actor="test", now=at(2), pilot_id="pg-devp0001"
    ).id
    d1 = _open(session, policy, p.devprod, at(2))
    _decide(session, d1, "U0PMO0002", at(2, 1))
    _decide(session, d1, "U0FIN0001", at(3))
    _move(session, policy, p.devprod, d1, Stage.PILOT, at(3))
    d2 = _open(session, policy, p.devprod, at(3))
    gate = gates.get_gate(session, d2)
    gates.resolve_gate(session, gate, "expired", "deadline passed", now=at(24), actor="sweep")
    _move(
        session,
        policy,
        p.devprod,
        d2,
        Stage.TERMINATED,
        at(24),
        reason="deadline passed at pilot: nobody signed off",
    )
    p.gates[p.devprod] = [d1, d2]

    # A second help-desk proposal, waiting at its first gate since day 90.
    p.waiting = pilots.create_pilot(
        session, helpdesk, policy, actor="test", now=at(90), pilot_id="pg-wait0001"
    ).id
    p.gates[p.waiting] = [_open(session, policy, p.waiting, at(90))]
    session.flush()
    return p
