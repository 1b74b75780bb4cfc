"""New measurements reach the gate that is waiting on them.

`pilotgate metric record` / `metric import` call this in the same transaction as the new
observations. If the pilot has an open gate that carries evidence (readiness review, the gate
before customers) and its verdict changed, the gate's evidence is replaced on record
(store.gate_evidence), and under `evidence.on_evidence_change: reask` each approver whose
approval was given on the old verdict has that message closed ("the evidence changed") and is
asked again with the new evidence. Nothing happens when the verdict is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from lifecycle.policy import Policy
from lifecycle.stages import Stage
from slack_out import messages
from slack_out.render import mrkdwn
from store import gate_evidence, gates, pilots
from tasks import home
from tasks.evidence import compute_evidence


@dataclass(frozen=True)
class EvidenceRefreshed:
    gate_id: int
    #: "metric x: met -> not_met" lines.
    changed: list[str]
    #: (approver, role) asked again.
    reasked: list[tuple[str, str]]


def refresh_open_gate(
    session: Session, policy: Policy, pilot_id: str, *, now: datetime, actor: str
) -> EvidenceRefreshed | None:
    pilot = pilots.get_pilot(session, pilot_id)
    gate = gates.open_gate_for(session, pilot.id)
    if gate is None or gate.evidence is None:
        return None
    evidence = compute_evidence(session, pilot, Stage(gate.stage), policy, now)
    if evidence is None:
        return None
    change = gate_evidence.replace_evidence(
        session,
        gate.id,
        evidence.to_dict(),
        reask=policy.evidence.on_evidence_change == "reask",
        now=now,
        actor=actor,
    )
    if change is None:
        return None
    for old, new in change.reasked:
        messages.close_request(
            session,
            old,
            mrkdwn("The evidence changed after you approved; you are asked again with it."),
            now,
        )
        messages.ask(session, pilot, change.gate, new, now, policy=policy)
    if change.reasked:  # approvals asked again no longer count: the other asks say so
        skip = {new.id for _, new in change.reasked}
        messages.refresh_asks(session, change.gate, now=now, skip=skip)
    home.refresh_pilot(session, pilot.id, now)
    return EvidenceRefreshed(
        gate_id=gate.id,
        changed=list(change.changed),
        reasked=[(old.approver, old.role) for old, _ in change.reasked],
    )
