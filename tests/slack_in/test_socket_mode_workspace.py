"""Only our workspace and app count over Socket Mode too: the real SocketModeHandler talks to
the emulator over a real WebSocket on loopback, with SLACK_TEAM_ID and SLACK_APP_ID set; a
correctly delivered envelope claiming another team, enterprise or app is not acked and records
nothing, while our own is acked and recorded (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from listener_scene import FIN, PMO1, Ask, Scene
from slack_bolt.adapter.socket_mode import SocketModeHandler
from sqlalchemy import func, select

from slack_in.server import socket_mode_handler
from slackemu import EmulatorError
from store.models import Decision
from tasks.runtime import Runtime

Asks = dict[str, Ask]
APP_TOKEN = "xapp-1-A0EMUAPP1-socket-workspace"


@pytest.fixture
def socket(scene: Scene) -> Iterator[SocketModeHandler]:
    scene.emu.allow_app_token(APP_TOKEN)
    settings = scene.runtime.settings.model_copy(
        update={"slack_team_id": scene.emu.team_id, "slack_app_id": scene.emu.app_id}
    )
    runtime = Runtime(settings, db=scene.db, policy=scene.runtime.policy)
    handler = socket_mode_handler(runtime, APP_TOKEN)
    handler.connect()
    try:
        scene.emu.wait_until(lambda e: e.socket_connections == 1 or None, timeout=10)
        yield handler
    finally:
        handler.close()


def decisions(scene: Scene) -> int:
    with scene.db.session() as session:
        return int(session.execute(select(func.count()).select_from(Decision)).scalar_one())


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda p: p.update(team={"id": "T0OTHER01", "domain": "other"}), id="team"),
        pytest.param(lambda p: p.update(api_app_id="A0SIBLING1"), id="app"),
    ],
)
def test_a_socket_mode_click_from_another_workspace_or_app_is_not_acked(
    scene: Scene, gate: tuple[int, Asks], socket: SocketModeHandler, forge: Any
) -> None:
    _, asks = gate
    payload = scene.emu.build_block_actions(
        FIN, asks[FIN].channel, asks[FIN].ts, "pilotgate_approve"
    )
    forge(payload)
    with pytest.raises(EmulatorError, match="no ack"):
        scene.emu.send_envelope("interactive", payload, timeout=2)
    assert decisions(scene) == 0

    # our own workspace's click on the same connection is acked and recorded
    ack = scene.emu.socket_click(PMO1, asks[PMO1].channel, asks[PMO1].ts, "pilotgate_approve")
    assert set(ack) == {"envelope_id"}
    assert decisions(scene) == 1
