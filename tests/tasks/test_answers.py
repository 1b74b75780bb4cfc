"""An answer screened while its gate was open but recorded after another answer settled the
gate is late: not recorded, not counted, and the approver is told so (on both backends)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from lifecycle.gates import Verdict, plan_gate
from lifecycle.policy import Policy
from lifecycle.proposal import load_proposal
from lifecycle.stages import Stage
from store import gates, pilots
from store.db import Database
from store.models import Decision
from tasks.answers import LATE_TEXT, Answer, record, screen

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_an_answer_that_arrives_after_the_gate_settled_is_not_counted(
    db: Database, policy: Policy
) -> None:
    proposal = load_proposal(EXAMPLES / "helpdesk-assistant.yaml")
    with db.session() as session:
        pilot = pilots.create_pilot(session, proposal, policy, actor="test", now=NOW)
        plan = plan_gate(policy, proposal, Stage.PROPOSAL, Stage.PILOT)
        gate = gates.open_gate(
            session,
            pilot.id,
            plan,
            deadline=NOW + timedelta(days=7),
            escalation_role=None,
            now=NOW,
            actor="test",
        )
        asked = {r.role: r for r in gates.requests_for(session, gate.id)}
    pmo, fin = asked["programme_office"], asked["finance"]

    with db.session() as session:  # both screened while the gate is open
        late, refused = screen(session, pmo.id, pmo.approver, NOW)
        first, _ = screen(session, fin.id, fin.approver, NOW)
    assert late is not None and first is not None and refused is None

    with db.session() as session:  # finance rejects: the gate settles
        settled = record(
            session,
            first,
            verdict=Verdict.REJECT,
            reason="no budget this year",
            now=NOW + timedelta(minutes=1),
        )
    assert settled.answer is Answer.RECORDED and settled.gate_resolved

    with db.session() as session:  # the approval screened earlier lands now
        result = record(
            session, late, verdict=Verdict.APPROVE, reason=None, now=NOW + timedelta(minutes=2)
        )
        decisions = session.execute(
            select(func.count()).select_from(Decision).where(Decision.gate_id == gate.id)
        ).scalar_one()
        status = gates.get_gate(session, gate.id).status
    assert (result.answer, result.text, result.gate_resolved) == (Answer.LATE, LATE_TEXT, False)
    assert decisions == 1 and status == "rejected"
