"""`pilotgate policy reapply`: put one open gate under the policy in force, on record.

Open gates keep the rules they opened under; when the programme office decides a change must
reach a gate already open, this plans the gate again under the policy in force
(lifecycle.gates.plan_gate), re-applies it in the store (store.gate_policy), asks the newly
needed approvers in Slack, closes the buttons of requests no longer needed, and queues the
gate's follow-up if the new rules settle it. One transaction: all of it or none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from lifecycle.gates import GateUnsatisfiable, plan_gate
from lifecycle.policy import Policy
from lifecycle.policy_versions import stamp
from lifecycle.stages import Stage
from slack_out import messages
from slack_out.render import mrkdwn
from store import flow_queue, gate_policy, gates, pilots
from store.errors import Conflict
from tasks import home


@dataclass(frozen=True)
class ReapplyResult:
    pilot_id: str
    gate_id: int
    policy: str
    quorum_before: dict[str, int]
    quorum: dict[str, int]
    asked: list[tuple[str, str]]
    dropped: list[tuple[str, str]]
    #: the gate's status after re-applying: pending, approved or rejected.
    status: str
    resolved_now: bool


def reapply_policy(
    session: Session, policy: Policy, pilot_id: str, *, actor: str, now: datetime
) -> ReapplyResult:
    pilot = pilots.get_pilot(session, pilot_id)
    gate = gates.open_gate_for(session, pilot.id)
    if gate is None:
        raise Conflict(
            f"pilot {pilot.id} has no open gate; new gates open under the policy in force"
        )
    in_force = stamp(policy)
    if gate.policy_digest == in_force.digest:
        raise Conflict(f"gate {gate.id} of {pilot.id} already follows policy {in_force}")
    try:
        plan = plan_gate(policy, pilots.proposal_of(pilot), Stage(gate.stage), Stage(gate.target))
    except GateUnsatisfiable as exc:
        raise Conflict(
            f"the policy in force ({in_force}) cannot be met at gate {gate.id} of {pilot.id}: "
            f"{exc}; the gate keeps its rules"
        ) from None
    done = gate_policy.reapply(session, gate.id, plan, in_force, now=now, actor=actor)
    for request in done.added:
        messages.ask(session, pilot, done.gate, request, now, policy=policy)
    for request in done.dropped:
        messages.close_request(
            session,
            request,
            mrkdwn("No longer needed: this gate now follows policy {}.", str(in_force)),
            now,
        )
    if done.resolved_now:
        flow_queue.request_resolve_gate(session, gate.id, pilot.id, now=now)
    else:  # the asks still open show the new quorum and who else is asked now
        skip = {r.id for r in done.added}
        messages.refresh_asks(session, done.gate, now=now, skip=skip)
    # Dropped requests lose their Home buttons, added ones gain them, in this transaction.
    home.refresh_pilot(session, pilot.id, now, policy=policy)
    evaluation = done.evaluation
    return ReapplyResult(
        pilot_id=pilot.id,
        gate_id=gate.id,
        policy=str(in_force),
        quorum_before=done.quorum_before,
        quorum=dict(plan.quorum),
        asked=[(r.approver, r.role) for r in done.added],
        dropped=[(r.approver, r.role) for r in done.dropped],
        status=evaluation.status.value if evaluation else "pending",
        resolved_now=done.resolved_now,
    )
