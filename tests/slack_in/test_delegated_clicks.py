"""Out-of-office delegation and reassignment through the real listener: asks delivered to the
Slack emulator, signed clicks, exact rows in SQLite and PostgreSQL.

The helpdesk proposal gate asks programme_office (PMO1, PMO2; 1 needed) and finance (FIN). In
these tests FIN is also in the `cio` role with U0CIO0001, so the CIO may stand in for FIN.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from listener_scene import FIN, PMO1, PMO2, Ask, Scene
from sqlalchemy import select

from config.clock import utcnow
from lifecycle.policy import Policy
from lifecycle.proposal import Proposal
from store import audit
from store.models import AuditEntry, Decision, Gate, SignoffRequest
from tasks import people

CIO = "U0CIO0001"
PMO3 = "U0PMO0003"


def with_deputy(policy: Policy) -> Policy:
    roles = {**policy.roles, "cio": [CIO, FIN]}
    return policy.model_copy(update={"roles": roles})


def requests(scene: Scene, gate_id: int) -> list[tuple[str, str, str | None, bool]]:
    with scene.db.session() as session:
        rows = session.execute(
            select(SignoffRequest).where(SignoffRequest.gate_id == gate_id).order_by(
                SignoffRequest.id)).scalars()
        return [(r.approver, r.role, r.on_behalf_of, r.superseded_at is not None) for r in rows]


def decisions(scene: Scene) -> list[tuple[str, str, int]]:
    with scene.db.session() as session:
        rows = session.execute(select(Decision).order_by(Decision.id)).scalars()
        return [(d.approver, str(d.verdict), d.request_id) for d in rows]


def status(scene: Scene, gate_id: int) -> str:
    with scene.db.session() as session:
        row = session.get(Gate, gate_id)
        assert row is not None
        return str(row.status)


def latest(scene: Scene, ask: Ask) -> tuple[str, list[dict[str, Any]]]:
    message = scene.emu.find_message(ask.channel, ask.ts)
    assert message is not None
    return message.text or "", message.blocks or []


def has_buttons(blocks: list[dict[str, Any]]) -> bool:
    return any(b.get("type") == "actions" for b in blocks)


def audit_rows(scene: Scene, prefix: str) -> list[AuditEntry]:
    with scene.db.session() as session:
        rows = session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars().all()
        return [e for e in rows if e.action.startswith(prefix)]


def delegate_fin(scene: Scene, policy: Policy) -> tuple[int, list[people.HandOver]]:
    now = utcnow()
    with scene.db.session() as session:
        row, handed, kept = people.create_delegation(
            session, with_deputy(policy), approver=FIN, delegate=CIO,
            starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=7),
            reason="annual leave <!channel>", actor="cli", now=now)
        assert kept == []
        return row.id, handed


def test_a_request_made_during_the_absence_goes_to_the_delegate(
        scene: Scene, helpdesk: Proposal, policy: Policy) -> None:
    delegate_fin(scene, policy)
    _, gate_id = scene.propose_and_ask(helpdesk, policy)
    assert requests(scene, gate_id) == [
        (PMO1, "programme_office", None, False),
        (PMO2, "programme_office", None, False),
        (CIO, "finance", FIN, False),
    ]
    asks = scene.asks(gate_id)
    assert FIN not in asks
    _, blocks = latest(scene, asks[CIO])
    assert f"on behalf of <@{FIN}>" in json.dumps(blocks)

    assert scene.click(CIO, asks[CIO]).status_code == 200
    assert status(scene, gate_id) == "open"
    assert scene.click(PMO1, asks[PMO1]).status_code == 200
    assert status(scene, gate_id) == "approved"
    assert decisions(scene) == [(CIO, "approve", asks[CIO].id), (PMO1, "approve", asks[PMO1].id)]

    assert scene.relay().errors == []
    text, blocks = latest(scene, asks[CIO])
    assert f"Approved by <@{CIO}> on behalf of <@{FIN}> on " in text
    assert not has_buttons(blocks)
    [logged] = [e for e in audit_rows(scene, "decision.") if e.actor == CIO]
    assert logged.data["on_behalf_of"] == FIN and logged.data["role"] == "finance"
    [opened] = audit_rows(scene, "gate.opened")
    assert opened.data["delegated"] == [[CIO, "finance", FIN]]
    with scene.db.session() as session:
        assert audit.verify(session).ok


def test_an_open_request_is_re_asked_of_the_delegate_and_the_original_closed(
        scene: Scene, helpdesk: Proposal, policy: Policy) -> None:
    _, gate_id = scene.propose_and_ask(helpdesk, policy)
    original = scene.asks(gate_id)[FIN]
    _, handed = delegate_fin(scene, policy)
    assert [(h.request_id, h.to, h.on_behalf_of, h.role) for h in handed] == [
        (original.id, CIO, FIN, "finance")]
    assert requests(scene, gate_id) == [
        (PMO1, "programme_office", None, False),
        (PMO2, "programme_office", None, False),
        (FIN, "finance", None, True),
        (CIO, "finance", FIN, False),
    ]
    # A click on the old message before Slack heard of the hand-over records nothing.
    assert scene.click(FIN, original).status_code == 200
    assert decisions(scene) == []
    assert scene.relay().errors == []
    text, blocks = latest(scene, original)
    assert text.startswith(f":arrow_right: Handed to <@{CIO}> while you are away: annual leave")
    assert "&lt;!channel&gt;" in text and "<!channel>" not in text  # the reason is escaped
    assert not has_buttons(blocks)
    [note] = scene.emu.ephemerals_for(FIN)
    assert f"handed to <@{CIO}>" in (note.text or "")

    new = scene.asks(gate_id)[CIO]
    assert scene.click(CIO, new, "pilotgate_approve").status_code == 200
    assert scene.click(PMO2, scene.asks(gate_id)[PMO2]).status_code == 200
    assert status(scene, gate_id) == "approved"
    assert decisions(scene) == [(CIO, "approve", new.id), (PMO2, "approve",
                                                           scene.asks(gate_id)[PMO2].id)]
    [moved] = audit_rows(scene, "request.delegated")
    assert (moved.data["from"], moved.data["to"], moved.data["request_id"]) == (
        FIN, CIO, original.id)
    assert [e.action for e in audit_rows(scene, "delegation.")] == ["delegation.created"]
    with scene.db.session() as session:
        assert audit.verify(session).ok


def test_reassign_hands_one_request_to_another_member_of_the_role(
        scene: Scene, helpdesk: Proposal, policy: Policy) -> None:
    _, gate_id = scene.propose_and_ask(helpdesk, policy)
    asks = scene.asks(gate_id)
    hired = policy.model_copy(update={"roles": {
        **policy.roles, "programme_office": [PMO1, PMO2, PMO3]}})
    now = utcnow()
    with scene.db.session() as session:
        handed = people.reassign(session, hired, asks[PMO2].id, to=PMO3,
                                 reason="Sam moved to another programme", actor="cli", now=now)
    assert (handed.from_approver, handed.to, handed.on_behalf_of) == (PMO2, PMO3, PMO2)
    assert requests(scene, gate_id)[1:] == [
        (PMO2, "programme_office", None, True),
        (FIN, "finance", None, False),
        (PMO3, "programme_office", PMO2, False),
    ]
    assert scene.click(PMO2, asks[PMO2]).status_code == 200  # handed over: refused
    assert decisions(scene) == []
    assert scene.relay().errors == []
    text, _ = latest(scene, asks[PMO2])
    assert text.startswith(f":arrow_right: Reassigned to <@{PMO3}>: Sam moved")
    [note] = scene.emu.ephemerals_for(PMO2)
    assert f"handed to <@{PMO3}>" in (note.text or "")
    # The new approver's answer counts for programme_office (finance is still to answer).
    assert scene.click(PMO3, scene.asks(gate_id)[PMO3]).status_code == 200
    assert decisions(scene) == [(PMO3, "approve", handed.new_request_id)]
    [logged] = audit_rows(scene, "request.reassigned")
    assert logged.data["to"] == PMO3 and logged.data["reason"] == "Sam moved to another programme"
    with scene.db.session() as session:
        assert audit.verify(session).ok
