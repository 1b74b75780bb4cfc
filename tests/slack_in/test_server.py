"""The HTTP server around the listener, its thread helper, and Socket Mode wiring."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import httpx
import pytest
from listener_scene import PMO1, SECRET, TOKEN, Ask, Scene, make_runtime
from pydantic import SecretStr
from slack_bolt import Ack, App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.socket_mode.internals import run_bolt_app
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.socket_mode.request import SocketModeRequest

from lifecycle.policy import Policy
from slack_in.app import ListenerNotConfigured, build_app
from slack_in.server import MAX_BODY, ListenerThread, socket_mode_handler, start_in_thread
from slackemu import SlackEmulator
from store.db import Database
from store.models import Decision
from tasks.runtime import Runtime

Asks = dict[str, Ask]


def test_healthz_and_routes(scene: Scene) -> None:
    base = scene.listener.base_url
    health = httpx.get(base + "/healthz")
    assert health.status_code == 200 and health.json() == {"ok": True}
    assert httpx.get(scene.url).status_code == 405
    assert httpx.post(base + "/elsewhere").status_code == 404
    big = httpx.post(
        scene.url,
        content=b"x" * (MAX_BODY + 1),
        headers={"X-Slack-Request-Timestamp": "1", "X-Slack-Signature": "v0=0"},
    )
    assert big.status_code == 413


def test_listener_thread_binds_a_free_port_and_releases_it(
    db: Database, policy: Policy, emu: SlackEmulator
) -> None:
    runtime = make_runtime(db, policy, emu)
    listener = start_in_thread(runtime)
    assert listener.port > 0 and listener.url.endswith(f":{listener.port}/slack/events")
    assert httpx.get(listener.base_url + "/healthz").status_code == 200
    listener.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(listener.base_url + "/healthz", timeout=2)
    with socket.socket() as probe:  # the port is free again
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", listener.port))


def test_building_needs_the_secrets_but_no_slack_call(
    db: Database, policy: Policy, emu: SlackEmulator
) -> None:
    runtime = make_runtime(db, policy, emu)
    build_app(runtime)
    assert emu.calls == []  # no auth.test at start-up
    unsigned = runtime.settings.model_copy(update={"slack_signing_secret": None})
    with pytest.raises(ListenerNotConfigured):
        build_app(Runtime(unsigned, db=db, policy=policy))


def test_socket_mode_handler_is_built_without_connecting(policy: Policy) -> None:
    """Socket Mode cannot connect here without Slack: the handler is built over the same App
    (no connection is made) and refuses to start without an app-level token."""
    with SlackEmulator(bot_token=TOKEN, signing_secret=SECRET) as emu:
        runtime = make_runtime(Database("sqlite://"), policy, emu)
        handler = socket_mode_handler(runtime, SecretStr("xapp-1-A0TEST-1-abc"))
        try:
            assert isinstance(handler, SocketModeHandler)
            assert handler.client.app_token == "xapp-1-A0TEST-1-abc"
            assert handler.client.web_client.base_url == emu.api_url
        finally:
            handler.client.close()
        assert emu.calls == []
        with pytest.raises(ValueError, match="app-level token"):
            socket_mode_handler(runtime, None)


def test_socket_mode_payloads_reach_the_same_listeners(
    scene: Scene, gate: tuple[int, Asks]
) -> None:
    """A click as Socket Mode hands it to bolt (no signature: the websocket is authenticated)
    is recorded by the same handlers."""
    _, asks = gate
    app = build_app(scene.runtime)
    payload = scene.emu.build_block_actions(
        PMO1, asks[PMO1].channel, asks[PMO1].ts, "pilotgate_approve"
    )
    request = SocketModeRequest(type="interactive", envelope_id="e-1", payload=payload)
    assert run_bolt_app(app, request).status == 200
    assert scene.count(Decision) == 1


def _signed_click(action_id: str) -> tuple[bytes, dict[str, str]]:
    payload = {
        "type": "block_actions",
        "team": {"id": "T0PILOTGATE"},
        "user": {"id": PMO1},
        "actions": [{"action_id": action_id, "type": "button", "value": "x"}],
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    ts = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return body, {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


def test_requests_take_turns(db: Database, policy: Policy, emu: SlackEmulator) -> None:
    """At most PILOTGATE_LISTENER_THREADS requests are worked on at once; the others wait
    their turn and are all answered."""
    base = make_runtime(db, policy, emu)
    runtime = Runtime(
        base.settings.model_copy(update={"listener_threads": 2}), db=db, policy=policy
    )
    guard = threading.Lock()
    running = {"now": 0, "most": 0, "done": 0}

    def authorize(enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
        return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_token=TOKEN)

    app = App(
        signing_secret=SECRET,
        authorize=authorize,
        process_before_response=True,
        token_verification_enabled=False,
    )

    @app.action("slow")
    def slow(ack: Ack) -> None:
        with guard:
            running["now"] += 1
            running["most"] = max(running["most"], running["now"])
        time.sleep(0.2)
        with guard:
            running["now"] -= 1
            running["done"] += 1
        ack()

    listener = ListenerThread(runtime, app=app).start()
    try:

        def click(_: int) -> httpx.Response:
            body, headers = _signed_click("slow")
            return httpx.post(listener.url, content=body, headers=headers, timeout=10)

        with ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(click, range(6)))
    finally:
        listener.stop()
    assert [a.status_code for a in answers] == [200] * 6
    assert running["done"] == 6
    assert running["most"] == 2
