"""Read models for people: a pilot's status and the portfolio list, as plain dicts.

The CLI prints them as tables or JSON; the report and Slack templates reuse them, so every
surface says the same thing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from config.links import pilot_url
from lifecycle.deadlines import days_left
from lifecycle.policy import Policy
from store import gates, people, pilots
from store.models import Pilot


def pilot_row(
    pilot: Pilot, session: Session, now: datetime, names: people.Names | None = None
) -> dict[str, Any]:
    """One pilot's line; `names` (store.people) puts a name to its business owner."""
    gate = gates.open_gate_for(session, pilot.id)
    owner_name = names.name(pilot.business_owner) if names is not None else None
    return {
        "id": pilot.id,
        "title": pilot.title,
        "url": pilot_url(pilot.id),
        "portfolio": pilot.portfolio,
        "owner": {"slack_id": pilot.business_owner, "name": owner_name},
        "risk_tier": pilot.risk_tier,
        "stage": pilot.stage,
        "open_gate": f"{gate.stage} -> {gate.target}" if gate else None,
        "gate_deadline": gate.deadline.isoformat() if gate else None,
        "deploy_by": pilot.deploy_by.isoformat() if pilot.deploy_by else None,
        "days_to_deploy_by": round(days_left(pilot.deploy_by, now), 1)
        if pilot.deploy_by and not pilot.ended_at
        else None,
    }


def pilot_status(session: Session, pilot_id: str, policy: Policy, now: datetime) -> dict[str, Any]:
    pilot = pilots.get_pilot(session, pilot_id)
    proposal = pilots.proposal_of(pilot)
    gate = gates.open_gate_for(session, pilot.id)
    history = pilots.stage_history(session, pilot.id)
    requests = gates.requests_for(session, gate.id) if gate is not None else []
    shown = {pilot.business_owner, *(h.actor for h in history), *(r.approver for r in requests)}
    names = people.names(session, policy, shown)
    status: dict[str, Any] = pilot_row(pilot, session, now, names)
    status.update(
        {
            "business_owner": {
                "name": proposal.business_owner.name,
                "slack_id": proposal.business_owner.slack_id,
            },
            "operations_owner": proposal.operations_owner.name
            if proposal.operations_owner
            else None,
            "ended_at": pilot.ended_at.isoformat() if pilot.ended_at else None,
            "end_reason": pilot.end_reason,
            "history": [
                {
                    "from": h.from_stage,
                    "to": h.to_stage,
                    "actor": h.actor,
                    "actor_name": names.name(h.actor),
                    "reason": h.reason,
                    "at": h.at.isoformat(),
                }
                for h in history
            ],
            "gate": None,
        }
    )
    if gate is not None:
        evaluation = gates.evaluate(session, gate, now)
        decided = {d.request_id: d for d in gates.decisions_for(session, gate.id)}
        status["gate"] = {
            "id": gate.id,
            "stage": gate.stage,
            "target": gate.target,
            "opened_at": gate.opened_at.isoformat(),
            "deadline": gate.deadline.isoformat(),
            "days_left": round(days_left(gate.deadline, now), 1),
            "quorum": gate.quorum,
            "missing": evaluation.missing,
            "escalated": gate.escalated_at is not None,
            "extended": gate.extended_at is not None,
            "requests": [
                {
                    "approver": r.approver,
                    "approver_name": names.name(r.approver),
                    "role": r.role,
                    "round": r.round,
                    "answer": decided[r.id].verdict if r.id in decided else None,
                    "answered_at": decided[r.id].decided_at.isoformat()
                    if r.id in decided
                    else None,
                    "reason": decided[r.id].reason if r.id in decided else None,
                    # handed to a delegate, or asked again after the evidence changed: its
                    # answer no longer counts
                    "superseded": r.superseded_at is not None,
                }
                for r in requests
            ],
            "policy": (
                f"{gate.policy_version} ({gate.policy_digest[:12]})"
                if gate.policy_version and gate.policy_digest
                else (gate.policy_digest[:12] if gate.policy_digest else None)
            ),
        }
    return status
