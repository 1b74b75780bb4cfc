"""Reject on the App Home: a Home click carries no channel, yet the approver is still answered
(the refusal, and the notice that the reason form could not be opened) in the DM the ask went
to. Real listener over HTTP, the emulator's signed Home clicks, SQLite and PostgreSQL."""

from __future__ import annotations

from listener_scene import FIN, PMO1, Ask, Scene
from sqlalchemy import select

from store.models import OutboxMessage

Asks = dict[str, Ask]


def ephemerals(scene: Scene, user: str) -> list[str]:
    with scene.db.session() as session:
        rows = session.execute(
            select(OutboxMessage)
            .where(OutboxMessage.method == "chat.postEphemeral")
            .order_by(OutboxMessage.id)
        ).scalars()
        return [str(r.payload["text"]) for r in rows if r.payload.get("user") == user]


def test_a_reject_form_that_cannot_open_from_the_home_is_still_explained(
    scene: Scene, gate: tuple[int, Asks]
) -> None:
    _, asks = gate
    assert scene.emu.open_home(scene.url, FIN).status_code == 200
    assert scene.relay().errors == []
    # FIN was refused something a minute ago (someone else's ask): that notice's 10-minute
    # limit must not swallow the form's
    assert scene.click(FIN, asks[PMO1]).status_code == 200
    assert len(ephemerals(scene, FIN)) == 1

    scene.emu.refuse("expired_trigger_id", methods=["views.open"], count=1)
    response = scene.emu.click_home(scene.url, FIN, "pilotgate_reject", value=str(asks[FIN].id))
    assert response.status_code == 200
    told = ephemerals(scene, FIN)
    assert len(told) == 2 and "could not be opened (expired_trigger_id)" in told[1]
    assert scene.relay().errors == []
    shown = scene.emu.messages_in(asks[FIN].channel, include_ephemeral=True)
    assert any("could not be opened" in (m.text or "") for m in shown)


def test_a_refused_reject_from_the_home_is_answered_in_the_asks_dm(
    scene: Scene, gate: tuple[int, Asks]
) -> None:
    _, asks = gate
    assert scene.emu.open_home(scene.url, FIN).status_code == 200
    assert scene.relay().errors == []
    assert scene.click(FIN, asks[FIN]).status_code == 200  # FIN approves in the DM
    # the Home on screen still shows the button: FIN clicks Reject there
    response = scene.emu.click_home(scene.url, FIN, "pilotgate_reject", value=str(asks[FIN].id))
    assert response.status_code == 200
    [told] = ephemerals(scene, FIN)
    assert "already" in told.lower()
    with scene.db.session() as session:
        [row] = session.execute(
            select(OutboxMessage).where(OutboxMessage.method == "chat.postEphemeral")
        ).scalars()
        assert row.payload["channel"] == asks[FIN].channel
