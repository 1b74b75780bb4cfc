"""Re-applying the policy in force to an open gate: the only way a gate's rules change.

A gate keeps the quorum it opened under (store.gates.open_gate stamps the policy on it); a
policy change reaches an open gate only when the programme office re-applies it, here, in one
transaction with the gate row locked: the quorum, the firm roles and the excluded people are
replaced by the new plan's, approvers the new plan asks and the gate had not asked are asked
(round 0, delegation honoured as at opening), and every request the new plan would not make
(a role no longer needed, a person who left a role or is now excluded) is superseded, so an
answer from it can neither count nor reject; one audit row says what changed. Answers already
given on requests the new plan keeps stay and count toward the new quorum.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from lifecycle.gates import Evaluation, GatePlan, GateStatus
from lifecycle.policy_versions import PolicyStamp
from lifecycle.statuses import GatePhase
from store import audit
from store.errors import Conflict
from store.gates import (
    active_requests_for,
    add_requests,
    evaluate,
    lock_gate,
    resolve_gate,
    supersede,
)
from store.models import Gate, SignoffRequest


@dataclass
class Reapplied:
    gate: Gate
    quorum_before: dict[str, int]
    added: list[SignoffRequest] = field(default_factory=list)
    dropped: list[SignoffRequest] = field(default_factory=list)
    evaluation: Evaluation | None = None
    #: the re-applied rules settled the gate (e.g. a lower quorum already met).
    resolved_now: bool = False


def reapply(
    session: Session,
    gate_id: int,
    plan: GatePlan,
    policy: PolicyStamp,
    *,
    now: datetime,
    actor: str,
) -> Reapplied:
    gate = lock_gate(session, gate_id)
    if gate.status != GatePhase.OPEN:
        raise Conflict(f"gate {gate.id} is {gate.status}; only an open gate takes new rules")
    if (plan.stage.value, plan.target.value) != (gate.stage, gate.target):
        raise Conflict(
            f"gate {gate.id} leaves {gate.stage} for {gate.target}, not {plan.stage.value}"
        )
    result = Reapplied(gate, dict(gate.quorum))
    active = active_requests_for(session, gate.id)
    # The rules first, so new asks honour the new separation of duties.
    session.execute(
        update(Gate)
        .where(Gate.id == gate.id)
        .values(
            quorum=dict(plan.quorum),
            firm_roles=sorted(plan.firm),
            excluded=sorted(plan.excluded),
            policy_digest=policy.digest,
            policy_version=policy.label,
        )
        .execution_options(synchronize_session=False)
    )
    session.refresh(gate)
    wanted_asks = {(a.approver, a.role) for a in plan.asks}
    # A request stands for its principal: a delegate's request counts as the absent approver's.
    asked = {(r.on_behalf_of or r.approver, r.role) for r in active}
    for request in active:
        # Round 0 only: an escalation's asks are the deadline rule's, not the quorum's.
        if request.round == 0 and (request.on_behalf_of or request.approver, request.role) not in (
            wanted_asks
        ):
            supersede(session, request.id, now)
            result.dropped.append(request)
    for role in plan.quorum:
        wanted = [
            a.approver for a in plan.asks if a.role == role and (a.approver, role) not in asked
        ]
        if wanted:
            result.added += add_requests(session, gate, wanted, role, 0, now)
    audit.append(
        session,
        actor=actor,
        action="gate.policy_reapplied",
        pilot_id=gate.pilot_id,
        data={
            "gate_id": gate.id,
            "policy": policy.digest,
            "policy_version": policy.label,
            "quorum_before": result.quorum_before,
            "quorum": dict(plan.quorum),
            "asked": [[r.approver, r.role] for r in result.added],
            "dropped": [[r.approver, r.role] for r in result.dropped],
        },
        now=now,
    )
    result.evaluation = evaluate(session, gate, now)
    if result.evaluation.status in (GateStatus.APPROVED, GateStatus.REJECTED):
        result.resolved_now = resolve_gate(
            session,
            gate,
            result.evaluation.status.value,
            "; ".join(result.evaluation.reasons),
            now=now,
            actor=actor,
        )
    return result
