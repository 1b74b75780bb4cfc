"""Every message kind escapes what people wrote: a title, a portfolio, a reason or a metric name
full of Slack markup (`<!channel>`, a disguised link, `&`) reaches Slack as plain text in every
mrkdwn field and in every notification fallback `text`, while the markup pilotgate means (the
approver's mention, emoji, bold) stays markup."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from lifecycle.gates import Verdict, plan_gate
from lifecycle.policy import Policy
from lifecycle.proposal import load_proposal
from lifecycle.stages import Stage
from lifecycle.statuses import GatePhase
from slack_out import messages
from slack_out.render import Mrkdwn, mrkdwn, render_view
from store import gates, outbox, pilots
from store.db import Database
from store.models import OutboxMessage

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
HOSTILE = "Security <!channel> <https://evil.example/x|click to re-approve> & co"
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _mrkdwn_texts(node: Any) -> Iterator[str]:
    """Every mrkdwn `text` in a Block Kit structure."""
    if isinstance(node, dict):
        if node.get("type") == "mrkdwn" and isinstance(node.get("text"), str):
            yield node["text"]
        for value in node.values():
            yield from _mrkdwn_texts(value)
    elif isinstance(node, list):
        for value in node:
            yield from _mrkdwn_texts(value)


def _assert_inert(payload: dict[str, Any]) -> None:
    texts = [*_mrkdwn_texts(payload.get("blocks") or payload), payload.get("text") or ""]
    for text in texts:
        assert "<!channel>" not in text and "<https://evil" not in text, text
    assert any("&lt;!channel&gt;" in t for t in texts), texts  # the text is there, as text


@pytest.fixture
def scene(db: Database, policy: Policy) -> tuple[Database, dict[str, Any]]:
    proposal = load_proposal(EXAMPLES / "helpdesk-assistant.yaml").model_copy(
        update={"title": HOSTILE}
    )
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
            evidence={
                "metrics": [],
                "criteria": [{"name": HOSTILE, "status": "missing", "detail": HOSTILE}],
                "warnings": [HOSTILE],
            },
        )
        request = gates.requests_for(session, gate.id)[0]
    return db, {"pilot": pilot, "gate": gate, "request": request}


def _queued(db: Database) -> list[OutboxMessage]:
    """The queued rows, each payload as the relay sends it (closes are rendered then)."""
    with db.session() as session:
        rows = list(outbox.due_outbox(session, NOW + timedelta(days=30), limit=1000))
        for row in rows:
            sent = messages.as_sent(session, row.ref_id, row.payload, policy=None, now=NOW)
            assert sent is not None
            row.payload = sent
        session.expunge_all()
        return rows


def test_every_message_kind_escapes_user_text(
    scene: tuple[Database, dict[str, Any]], monkeypatch: pytest.MonkeyPatch, policy: Policy
) -> None:
    monkeypatch.setenv("PILOTGATE_BASE_URL", "https://pilotgate.example/")
    db, s = scene
    pilot, gate, request = s["pilot"], s["gate"], s["request"]
    with db.session() as session:
        messages.ask(session, pilot, gate, request, NOW, policy=policy)
        messages.remind(session, pilot, gate, request, 0.5, NOW)
        messages.close_request(
            session,
            request,
            messages.decision_outcome(request.approver, Verdict.REJECT, HOSTILE, NOW),
            NOW,
        )
        messages.close_request(
            session, request, messages.gate_outcome(GatePhase.REJECTED, HOSTILE), NOW
        )
        messages.close_request(
            session, request, messages.gate_outcome(GatePhase.CANCELLED, HOSTILE), NOW
        )
        messages.notify(
            session, "U0OWNER01", f"{HOSTILE} moved to pilot.", HOSTILE, NOW, pilot_id=pilot.id
        )
        messages.digest(
            session,
            "C0DIGEST",
            now=NOW,
            terminated=[HOSTILE, f"{pilot.id} {HOSTILE}: rejected"],
            due=[HOSTILE],
            caps=[HOSTILE],
        )
    rows = _queued(db)
    assert {(r.method, r.ref_kind) for r in rows} == {
        ("chat.postMessage", "request"),
        ("chat.postMessage", "reminder"),
        ("chat.update", "request_update"),
        ("chat.postMessage", "notice"),
        ("chat.postMessage", "digest"),
    }
    for row in rows:
        _assert_inert(row.payload)
    # Every message about the pilot links to its page (PILOTGATE_BASE_URL).
    page = f"https://pilotgate.example/pilots/{pilot.id}"
    for row in rows:
        if row.ref_kind != "request_update":
            assert f"<{page}|" in json.dumps(row.payload), row.ref_kind
    # The mention pilotgate means is still a mention.
    closed = next(r for r in rows if r.ref_kind == "request_update")
    assert f"<@{request.approver}>" in json.dumps(closed.payload)


def test_the_reject_modal_escapes_the_title() -> None:
    view = render_view(
        "reject_modal.json.j2", request_id=7, title=HOSTILE, stage_label="readiness review"
    )
    texts = list(_mrkdwn_texts(view))
    assert texts and not any("<!channel>" in t or "<https://evil" in t for t in texts)


def test_an_outcome_must_be_built_escaped(scene: tuple[Database, dict[str, Any]]) -> None:
    db, s = scene
    with db.session() as session, pytest.raises(TypeError, match="Mrkdwn"):
        messages.close_request(session, s["request"], HOSTILE, NOW)  # type: ignore[arg-type]
    assert mrkdwn("Rejected: {}", "<!channel>") == Mrkdwn("Rejected: &lt;!channel&gt;")
