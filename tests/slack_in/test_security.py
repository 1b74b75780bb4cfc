"""Who may decide: bolt's signature and timestamp checks, and the register's own rules for
clicks that are authentic but not the clicker's to make."""

from __future__ import annotations

import json
import logging
import time
from urllib.parse import urlencode

import httpx
import pytest
from listener_scene import FIN, OWNER, PMO1, PMO2, PROPOSER, SECRET, TOKEN, Ask, Scene
from sqlalchemy import select

from config.clock import utcnow
from store.models import Decision, OutboxMessage, SignoffRequest

Asks = dict[str, Ask]


def signed_body(scene: Scene, user: str, ask: Ask) -> str:
    payload = scene.emu.build_block_actions(user, ask.channel, ask.ts, "pilotgate_approve")
    return urlencode({"payload": json.dumps(payload, separators=(",", ":"))})


def nothing_recorded(scene: Scene) -> None:
    assert scene.count(Decision) == 0
    with scene.db.session() as session:
        pending = (
            session.execute(select(OutboxMessage).where(OutboxMessage.status == "pending"))
            .scalars()
            .all()
        )
    assert pending == []


def test_forged_signature_is_refused(scene: Scene, gate: tuple[int, Asks]) -> None:
    _, asks = gate
    body = signed_body(scene, PMO1, asks[PMO1])
    now = str(int(time.time()))
    forged = "v0=" + "0" * 64
    response = scene.emu.send_raw(scene.url, body, now, forged)
    assert response.status_code == 401
    # A valid signature for another body does not carry over to this one.
    other = scene.emu.sign(signed_body(scene, FIN, asks[FIN]), now)
    assert scene.emu.send_raw(scene.url, body, now, other).status_code == 401
    # Nor does a valid signature survive a tampered body (PMO2 posing as PMO1).
    genuine = signed_body(scene, PMO2, asks[PMO1])
    good = scene.emu.sign(genuine, now)
    tampered = genuine.replace(PMO2, PMO1)
    assert tampered != genuine
    assert scene.emu.send_raw(scene.url, tampered, now, good).status_code == 401
    # Missing headers.
    bare = httpx.post(
        scene.url, content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert bare.status_code == 401
    nothing_recorded(scene)


def test_wrong_secret_is_refused(scene: Scene, gate: tuple[int, Asks]) -> None:
    _, asks = gate
    response = scene.click(PMO1, asks[PMO1], secret="not-the-" + SECRET)
    assert response.status_code == 401
    nothing_recorded(scene)


def test_stale_future_or_malformed_timestamp_is_refused(
    scene: Scene, gate: tuple[int, Asks]
) -> None:
    """A captured request replayed later (or dated ahead) fails even with a good signature."""
    _, asks = gate
    for skew in (-301, -3600, 301):
        response = scene.click(PMO1, asks[PMO1], timestamp=int(time.time()) + skew)
        assert response.status_code == 401, skew
    body = signed_body(scene, PMO1, asks[PMO1])
    for timestamp in ("", "soon", "1e9", "-5", "１７００"):
        response = httpx.post(
            scene.url,
            content=body.encode(),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Slack-Request-Timestamp": timestamp.encode(),
                "X-Slack-Signature": scene.emu.sign(body, timestamp),
            },
        )
        assert response.status_code == 401, timestamp
    nothing_recorded(scene)


def test_a_fresh_timestamp_within_five_minutes_is_accepted(
    scene: Scene, gate: tuple[int, Asks]
) -> None:
    _, asks = gate
    assert scene.click(PMO1, asks[PMO1], timestamp=int(time.time()) - 240).status_code == 200
    assert scene.count(Decision) == 1


def test_someone_not_asked_is_told_and_nothing_is_recorded(
    scene: Scene, gate: tuple[int, Asks]
) -> None:
    _, asks = gate
    # Another programme-office member clicks PMO1's message; a finance approver clicks it too.
    for user in (PMO2, FIN):
        response = scene.click(user, asks[PMO1])
        assert response.status_code == 200
    assert scene.count(Decision) == 0
    assert scene.relay().errors == []
    for user in (PMO2, FIN):
        [note] = scene.emu.ephemerals_for(user)
        assert "not yours to decide" in (note.text or "")
        assert f"<@{PMO1}>" in (note.text or "") and note.channel == asks[PMO1].channel


def test_proposer_and_owner_are_refused(scene: Scene, gate: tuple[int, Asks]) -> None:
    _, asks = gate
    for who in (PROPOSER, OWNER):
        for action in ("pilotgate_approve", "pilotgate_reject"):
            assert scene.click(who, asks[FIN], action).status_code == 200
    assert scene.count(Decision) == 0
    assert scene.relay().errors == []
    for who in (PROPOSER, OWNER):
        assert scene.emu.latest_view_for(who) is None
        notes = [n.text or "" for n in scene.emu.ephemerals_for(who)]
        # Two refused clicks, one notice: refusals are bounded per person and 10 minutes.
        assert len(notes) == 1 and all("separation of duties" in n for n in notes)


def test_a_flood_of_refused_clicks_queues_one_notice(
    scene: Scene, gate: tuple[int, Asks]
) -> None:
    _, asks = gate
    for _ in range(60):
        assert scene.click(PMO2, asks[PMO1]).status_code == 200
    assert scene.count(Decision) == 0
    with scene.db.session() as session:
        ephemerals = (
            session.execute(
                select(OutboxMessage).where(OutboxMessage.method == "chat.postEphemeral")
            )
            .scalars()
            .all()
        )
    assert len(ephemerals) == 1


def test_proposer_asked_by_mistake_is_still_refused(scene: Scene, gate: tuple[int, Asks]) -> None:
    """Even a request addressed to the proposer (a policy edited mid-gate, a hand-made row)
    cannot carry their own sign-off."""
    gate_id, asks = gate
    with scene.db.session() as session:
        row = SignoffRequest(
            gate_id=gate_id, approver=PROPOSER, role="programme_office", round=0, asked_at=utcnow()
        )
        session.add(row)
        session.flush()
        own_id = row.id
    # The proposer clicks a message whose button carries their own request id.
    response = scene.click(PROPOSER, asks[PMO1], value=str(own_id))
    assert response.status_code == 200
    assert scene.count(Decision) == 0
    assert scene.relay().errors == []
    [note] = scene.emu.ephemerals_for(PROPOSER)
    assert "separation of duties" in (note.text or "")


def test_secrets_never_reach_the_logs(
    scene: Scene, gate: tuple[int, Asks], caplog: pytest.LogCaptureFixture
) -> None:
    _, asks = gate
    with caplog.at_level(logging.DEBUG):
        scene.click(PMO1, asks[PMO1], secret="wrong-secret")
        scene.click(PMO2, asks[PMO1])
        scene.click(FIN, asks[FIN], "pilotgate_reject")  # views.open with the bot token
        scene.click(PMO1, asks[PMO1])
    assert caplog.records
    assert TOKEN not in caplog.text and SECRET not in caplog.text
    assert TOKEN not in repr(scene.runtime.settings) and SECRET not in repr(scene.runtime.settings)
