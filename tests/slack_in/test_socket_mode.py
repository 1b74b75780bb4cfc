"""Socket Mode end to end for the first time: the real slack-bolt SocketModeHandler (slack_sdk's
own WebSocket client) opens its connection with `apps.connections.open` and talks to the
emulator over a real WebSocket on loopback; clicks, the reject modal, the App Home and
`/pilotgate` arrive as envelopes, are acked with their answers, and land in the register."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from listener_scene import FIN, PMO1, Ask, Scene
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import select

from slack_in.server import socket_mode_handler
from store.models import Decision, Gate, OutboxMessage

Asks = dict[str, Ask]
APP_TOKEN = "xapp-1-A0EMUAPP1-socket-test"


@pytest.fixture
def socket(scene: Scene) -> Iterator[SocketModeHandler]:
    scene.emu.allow_app_token(APP_TOKEN)
    handler = socket_mode_handler(scene.runtime, APP_TOKEN, on_wake=lambda: scene.wakes.append(0))
    handler.connect()
    try:
        scene.emu.wait_until(lambda e: e.socket_connections == 1 or None, timeout=10)
        yield handler
    finally:
        handler.close()


def test_apps_connections_open_needs_an_app_level_token(scene: Scene) -> None:
    scene.emu.allow_app_token(APP_TOKEN)
    client = WebClient(base_url=scene.emu.api_url)
    for token, error in (("xoxb-pilotgate-listener-test", "not_allowed_token_type"),
                         ("xapp-1-unknown", "invalid_auth")):
        with pytest.raises(SlackApiError) as failed:
            client.apps_connections_open(app_token=token)
        assert failed.value.response["error"] == error
    url = client.apps_connections_open(app_token=APP_TOKEN)["url"]
    assert url.startswith(f"ws://{scene.emu.host}:") and "ticket=" in url


def test_decisions_homes_and_commands_over_socket_mode(
    scene: Scene, gate: tuple[int, Asks], socket: SocketModeHandler
) -> None:
    gate_id, asks = gate
    emu = scene.emu
    ack = emu.socket_click(PMO1, asks[PMO1].channel, asks[PMO1].ts, "pilotgate_approve")
    assert set(ack) == {"envelope_id"}  # acked, nothing to say
    with scene.db.session() as session:
        [decision] = session.execute(select(Decision)).scalars().all()
        assert (decision.approver, decision.verdict, decision.source) == (PMO1, "approve", "slack")

    # Reject: the modal opens (views.open from the handler), a short reason is refused on the
    # ack, a good one is recorded.
    emu.socket_click(FIN, asks[FIN].channel, asks[FIN].ts, "pilotgate_reject")
    view = emu.latest_view_for(FIN)
    assert view is not None and view.view["callback_id"] == "pilotgate_reject_modal"
    short = emu.socket_submit_view(FIN, view.id, {"reason_input": "   too short   "})
    assert short["payload"] == {
        "response_action": "errors",
        "errors": {"reason": "Give a reason of at least 10 characters"},
    }
    assert emu.socket_submit_view(FIN, view.id, {"reason_input": "No budget line for FY27"})
    with scene.db.session() as session:
        assert session.get(Gate, gate_id).status == "rejected"  # type: ignore[union-attr]
    closed = emu.get_view(view.id)
    assert closed is not None and closed.status == "closed"

    emu.socket_home_opened(PMO1)
    with scene.db.session() as session:
        [home] = session.execute(select(OutboxMessage).where(
            OutboxMessage.method == "views.publish")).scalars().all()
        assert home.ref_id == PMO1
    assert scene.relay().errors == []
    assert emu.home_for(PMO1) is not None

    answer = emu.socket_command(PMO1, "/pilotgate", "waiting")
    assert answer.message is not None and answer.message.ephemeral
    assert answer.text == "No gate is open."
