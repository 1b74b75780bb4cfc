"""Approve and reject through the real listener: clicks from the emulator, decisions in the
register, replies through the outbox."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from listener_scene import FIN, PMO1, PMO2, Ask, Scene, make_runtime
from sqlalchemy import select

from lifecycle.policy import Policy
from slack_in.server import start_in_thread
from slackemu import SlackEmulator
from store.db import Database
from store.models import Decision, FlowRequest, Gate, OutboxMessage

Asks = dict[str, Ask]


def gate_row(scene: Scene, gate_id: int) -> Gate:
    with scene.db.session() as session:
        row = session.get(Gate, gate_id)
        assert row is not None
        return row


def decisions(scene: Scene) -> list[Decision]:
    with scene.db.session() as session:
        return list(session.execute(select(Decision).order_by(Decision.id)).scalars())


def resolve_requests(scene: Scene) -> list[FlowRequest]:
    with scene.db.session() as session:
        return list(session.execute(
            select(FlowRequest).where(FlowRequest.flow == "resolve-gate")).scalars())


def has_buttons(blocks: list[dict[str, Any]] | None) -> bool:
    return any(b.get("type") == "actions" for b in blocks or [])


def latest(scene: Scene, ask: Ask) -> tuple[str, list[dict[str, Any]]]:
    message = scene.emu.find_message(ask.channel, ask.ts)
    assert message is not None
    return message.text or "", message.blocks or []


def test_quorum_of_two_roles_resolves_the_gate_once(scene: Scene, gate: tuple[int, Asks]) -> None:
    gate_id, asks = gate
    assert has_buttons(latest(scene, asks[PMO1])[1])

    assert scene.click(PMO1, asks[PMO1]).status_code == 200
    assert gate_row(scene, gate_id).status == "open"  # finance has not answered yet
    assert resolve_requests(scene) == [] and scene.wakes == []
    # Changing one's mind is not a button away: Reject after Approve opens no modal.
    assert scene.click(PMO1, asks[PMO1], "pilotgate_reject").status_code == 200
    assert scene.emu.latest_view_for(PMO1) is None

    assert scene.click(FIN, asks[FIN]).status_code == 200
    row = gate_row(scene, gate_id)
    assert row.status == "approved"
    assert "quorum reached" in (row.outcome_reason or "")
    assert [(d.approver, d.verdict, d.source) for d in decisions(scene)] == [
        (PMO1, "approve", "slack"), (FIN, "approve", "slack")]
    flows = resolve_requests(scene)
    assert len(flows) == 1 and flows[0].parameters == {"gate_id": gate_id}
    assert len(scene.wakes) == 1

    # A late click by the other programme-office member changes nothing and wakes nobody.
    assert scene.click(PMO2, asks[PMO2]).status_code == 200
    assert len(decisions(scene)) == 2 and len(resolve_requests(scene)) == 1
    assert len(scene.wakes) == 1

    report = scene.relay()
    assert report.errors == [] and report.dead == 0
    for approver in (PMO1, FIN):
        text, blocks = latest(scene, asks[approver])
        decided = next(d for d in decisions(scene) if d.approver == approver)
        when = f"{decided.decided_at:%Y-%m-%d %H:%M} UTC"
        assert f"Approved by <@{approver}> on {when}" in text
        assert f"<@{approver}>" in json.dumps(blocks) and when in json.dumps(blocks)
        assert not has_buttons(blocks)
    closed = [e.text or "" for e in scene.emu.ephemerals_for(PMO2)]
    assert any("already closed (approved)" in t for t in closed), closed
    assert ["already recorded" in (e.text or "") for e in scene.emu.ephemerals_for(PMO1)] == [True]


def test_the_ack_path_makes_no_slack_calls(scene: Scene, gate: tuple[int, Asks]) -> None:
    gate_id, asks = gate
    before = len(scene.emu.calls)
    for user, ask in ((PMO2, asks[PMO1]), (PMO1, asks[PMO1]), (PMO1, asks[PMO1])):
        assert scene.click(user, ask).status_code == 200
    assert len(scene.emu.calls) == before  # everything Slack must hear waits in the outbox

    # Reject: exactly one call, views.open (its trigger_id would be dead after a relay).
    assert scene.click(FIN, asks[FIN], "pilotgate_reject").status_code == 200
    assert [c.method for c in scene.emu.calls[before:]] == ["views.open"]

    # The approver thinks again and approves instead: the gate resolves, still no Slack call.
    before = len(scene.emu.calls)
    assert scene.click(FIN, asks[FIN]).status_code == 200
    assert gate_row(scene, gate_id).status == "approved"
    assert len(scene.emu.calls) == before
    with scene.db.session() as session:
        queued = session.execute(select(
            OutboxMessage.method, OutboxMessage.ref_kind, OutboxMessage.ref_id).where(
                OutboxMessage.status == "pending").order_by(OutboxMessage.id)).all()
    # PMO1's approval left the gate open: the asks of PMO2 and FIN get their tally refreshed
    # (FIN's refresh is then moot: the relay skips it, FIN having answered)
    assert [tuple(q) for q in queued] == [
        ("chat.postEphemeral", None, None),
        ("chat.update", "request_update", str(asks[PMO1].id)),
        ("chat.update", "request_refresh", str(asks[PMO2].id)),
        ("chat.update", "request_refresh", str(asks[FIN].id)),
        ("chat.update", "request_update", str(asks[FIN].id)),
    ]


def test_reject_opens_the_modal_and_records_the_reason(scene: Scene,
                                                       gate: tuple[int, Asks]) -> None:
    gate_id, asks = gate
    before = len(scene.emu.calls)
    response = scene.click(FIN, asks[FIN], "pilotgate_reject")
    assert response.status_code == 200
    assert [c.method for c in scene.emu.calls[before:]] == ["views.open"]
    view = scene.emu.latest_view_for(FIN)
    assert view is not None and view.status == "open"
    assert view.view["callback_id"] == "pilotgate_reject_modal"
    assert view.view["private_metadata"] == str(asks[FIN].id)
    assert decisions(scene) == []  # opening the modal records nothing

    # Whitespace does not count: Slack's min_length lets it through, the listener does not.
    short = scene.emu.submit_view(scene.url, FIN, view.id, {"reason_input": "   too short   "})
    assert short.status_code == 200
    assert short.json() == {"response_action": "errors",
                            "errors": {"reason": "Give a reason of at least 10 characters"}}
    still = scene.emu.get_view(view.id)
    assert still is not None and still.status == "open"
    assert decisions(scene) == [] and gate_row(scene, gate_id).status == "open"

    reason = "Budget <not> approved for FY27 & no cost centre"
    done = scene.emu.submit_view(scene.url, FIN, view.id, {"reason_input": f"  {reason}\n"})
    assert done.status_code == 200 and done.text == ""
    closed = scene.emu.get_view(view.id)
    assert closed is not None and closed.status == "closed"
    [decision] = decisions(scene)
    assert (decision.approver, decision.verdict, decision.reason) == (FIN, "reject", reason)
    row = gate_row(scene, gate_id)
    assert row.status == "rejected" and reason in (row.outcome_reason or "")
    assert len(resolve_requests(scene)) == 1 and len(scene.wakes) == 1

    # Reject again before the message lost its buttons: closed, no second modal.
    before = len(scene.emu.calls)
    assert scene.click(FIN, asks[FIN], "pilotgate_reject").status_code == 200
    assert scene.emu.calls[before:] == [] and len(decisions(scene)) == 1

    assert scene.relay().errors == []
    text, blocks = latest(scene, asks[FIN])
    assert text.startswith(f":x: Rejected by <@{FIN}> on ")
    assert "Budget &lt;not&gt; approved for FY27 &amp; no cost centre" in text
    assert not has_buttons(blocks)
    assert any("already closed (rejected)" in (n.text or "") for n in scene.emu.ephemerals_for(FIN))


def test_reject_button_of_someone_else_opens_no_modal(scene: Scene,
                                                      gate: tuple[int, Asks]) -> None:
    _, asks = gate
    before = len(scene.emu.calls)
    assert scene.click(PMO2, asks[FIN], "pilotgate_reject").status_code == 200
    assert scene.emu.calls[before:] == [] and scene.emu.latest_view_for(PMO2) is None
    assert decisions(scene) == []
    assert scene.relay().errors == []
    [note] = scene.emu.ephemerals_for(PMO2)
    assert "not yours to decide" in (note.text or "") and note.channel == asks[FIN].channel


def test_the_same_click_three_times_is_one_decision(scene: Scene,
                                                    gate: tuple[int, Asks]) -> None:
    _, asks = gate
    # Three separate clicks (fresh payloads)...
    for _ in range(3):
        assert scene.click(PMO1, asks[PMO1]).status_code == 200
    # ...and one payload delivered three times, byte for byte (a redelivery).
    payload = scene.emu.build_block_actions(FIN, asks[FIN].channel, asks[FIN].ts,
                                            "pilotgate_approve")
    body = urlencode({"payload": json.dumps(payload, separators=(",", ":"))})
    ts = str(int(time.time()))
    signature = scene.emu.sign(body, ts)
    for _ in range(3):
        assert scene.emu.send_raw(scene.url, body, ts, signature).status_code == 200
    assert [(d.approver, d.verdict) for d in decisions(scene)] == [(PMO1, "approve"),
                                                                   (FIN, "approve")]
    assert len(resolve_requests(scene)) == 1 and len(scene.wakes) == 1
    with scene.db.session() as session:
        updates = session.execute(select(OutboxMessage).where(
            OutboxMessage.ref_kind == "request_update")).scalars().all()
    assert sorted(int(u.ref_id or 0) for u in updates) == sorted([asks[PMO1].id, asks[FIN].id])


def test_malformed_or_unknown_request_is_acked_and_ignored(scene: Scene,
                                                           gate: tuple[int, Asks]) -> None:
    _, asks = gate
    with scene.db.session() as session:
        outbox_before = len(session.execute(select(OutboxMessage.id)).all())
    for value in ("abc", "", "-1", "1.5", "٣", "99999999999999999999999", "999999"):
        for action in ("pilotgate_approve", "pilotgate_reject"):
            response = scene.click(PMO1, asks[PMO1], action, value=value)
            assert response.status_code == 200, (value, action)
    assert decisions(scene) == [] and scene.emu.latest_view_for(PMO1) is None
    with scene.db.session() as session:
        assert len(session.execute(select(OutboxMessage.id)).all()) == outbox_before


def test_a_failing_wake_up_does_not_fail_the_click(db: Database, policy: Policy,
                                                   emu: SlackEmulator, scene: Scene,
                                                   gate: tuple[int, Asks]) -> None:
    _, asks = gate

    def broken_wake() -> None:
        raise RuntimeError("prefect is down")

    other = start_in_thread(scene.runtime, on_wake=broken_wake)
    try:
        assert emu.click(other.url, PMO1, asks[PMO1].channel, asks[PMO1].ts,
                         "pilotgate_approve").status_code == 200
        assert emu.click(other.url, FIN, asks[FIN].channel, asks[FIN].ts,
                         "pilotgate_approve").status_code == 200
    finally:
        other.stop()
    assert len(decisions(scene)) == 2
    assert len(resolve_requests(scene)) == 1  # the dispatcher still finds the follow-up


def test_a_database_error_is_not_acked(tmp_path: Path, policy: Policy, emu: SlackEmulator,
                                       scene: Scene, gate: tuple[int, Asks]) -> None:
    """With process_before_response the answer waits for the commit: a failing register
    answers 500, so Slack tells the user it did not work, and nothing half-happened."""
    _, asks = gate
    broken = Database(f"sqlite:///{tmp_path / 'no-schema.db'}")  # no tables at all
    other = start_in_thread(make_runtime(broken, policy, emu))
    try:
        response = emu.click(other.url, PMO1, asks[PMO1].channel, asks[PMO1].ts,
                             "pilotgate_approve")
        assert response.status_code == 500
        view = emu.click(other.url, FIN, asks[FIN].channel, asks[FIN].ts, "pilotgate_reject")
        assert view.status_code == 500 and emu.latest_view_for(FIN) is None
    finally:
        other.stop()
        broken.dispose()
    assert decisions(scene) == []
