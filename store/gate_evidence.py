"""An open gate's evidence, brought up to date, and approvals asked again when it changed.

A gate shows its approvers the evidence computed when it opened. When new measurements change
what that evidence *says* (a metric now meets its target, or no longer does), the gate's
evidence is replaced, on record, and — where the policy says `on_evidence_change: reask` —
every approval given on the old verdict stops counting: its request is superseded and the
same approver is asked again, in the same role and round, on the new evidence. Decisions are
never edited; each records the verdict digest it was made on (Decision.evidence_digest).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from lifecycle.evidence import verdict_digest
from lifecycle.gates import Verdict
from lifecycle.statuses import GatePhase
from store import audit
from store.gates import active_requests_for, decisions_for, lock_gate, supersede
from store.models import Gate, SignoffRequest


@dataclass
class EvidenceChange:
    gate: Gate
    before: str | None
    after: str | None
    #: what the verdict says differently: "metric x: not_met -> met".
    changed: list[str] = field(default_factory=list)
    #: (superseded request, its successor) for each approval asked again.
    reasked: list[tuple[SignoffRequest, SignoffRequest]] = field(default_factory=list)


def _said(evidence: dict[str, Any] | None) -> dict[str, str]:
    if not evidence:
        return {}
    return {
        **{f"metric {m['name']}": m["status"] for m in evidence.get("metrics", [])},
        **{f"criterion {c['name']}": c["status"] for c in evidence.get("criteria", [])},
    }


def replace_evidence(
    session: Session,
    gate_id: int,
    evidence: dict[str, Any],
    *,
    reask: bool,
    now: datetime,
    actor: str,
) -> EvidenceChange | None:
    """Replace an open gate's evidence if its verdict changed (None if it did not, or the gate
    is no longer open). With `reask`, approvals made on another verdict are asked again."""
    gate = lock_gate(session, gate_id)
    before, after = verdict_digest(gate.evidence), verdict_digest(evidence)
    if gate.status != GatePhase.OPEN or before == after:
        return None
    old = _said(gate.evidence)
    new = _said(evidence)
    session.execute(
        update(Gate)
        .where(Gate.id == gate.id)
        .values(evidence=evidence)
        .execution_options(synchronize_session=False)
    )
    session.refresh(gate)
    differs = [k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
    change = EvidenceChange(
        gate,
        before,
        after,
        [f"{k}: {old.get(k, 'absent')} -> {new.get(k, 'absent')}" for k in differs],
    )
    if reask:
        live = {r.id: r for r in active_requests_for(session, gate.id)}
        for decision in decisions_for(session, gate.id):
            request = live.get(decision.request_id)
            if (
                request is None
                or decision.verdict not in (Verdict.APPROVE, Verdict.ADJUST)
                or decision.evidence_digest == after
            ):
                continue
            change.reasked.append((request, _ask_again(session, request, now)))
    audit.append(
        session,
        actor=actor,
        action="gate.evidence_changed",
        pilot_id=gate.pilot_id,
        data={
            "gate_id": gate.id,
            "changed": {k: [old.get(k), new.get(k)] for k in differs},
            "verdict_before": before,
            "verdict_after": after,
            "reasked": [[old_r.approver, old_r.role, new_r.id] for old_r, new_r in change.reasked],
        },
        now=now,
    )
    return change


def _ask_again(session: Session, request: SignoffRequest, now: datetime) -> SignoffRequest:
    supersede(session, request.id, now)
    again = SignoffRequest(
        gate_id=request.gate_id,
        approver=request.approver,
        role=request.role,
        round=request.round,
        asked_at=now,
        on_behalf_of=request.on_behalf_of,
    )
    session.add(again)
    session.flush()
    session.refresh(request)
    return again
