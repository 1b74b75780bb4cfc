"""The emulator's App Home and slash commands against a real slack-bolt App on loopback:
`views.publish` checked as Slack checks it, `app_home_opened` and `/command` requests signed so
bolt's own verification accepts them (and refuses them forged), Home clicks shaped as Slack's
(container `view`, no channel), and the control API over HTTP."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from slack_bolt import Ack, App, BoltRequest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from slackemu import NotFoundError, SlackEmulator

TOKEN = "xoxb-home-test"
SECRET = "home-test-signing-secret"
USER = "U0ALICE01"
HOME = {
    "type": "home",
    "blocks": [
        {"type": "section", "text": {"type": "mrkdwn", "text": "Waiting for you"}},
        *(
            {"type": "actions", "elements": [
                {"type": "button", "action_id": "approve", "value": value,
                 "text": {"type": "plain_text", "text": "Approve"}}]}
            for value in ("7", "8")  # one per sign-off: an action id is unique in its block
        ),
    ],
}


@pytest.fixture
def emu() -> Iterator[SlackEmulator]:
    with SlackEmulator(bot_token=TOKEN, signing_secret=SECRET) as emulator:
        yield emulator


@pytest.fixture
def bolt(emu: SlackEmulator) -> Iterator[tuple[str, dict[str, list[Any]]]]:
    app = App(
        client=WebClient(token=TOKEN, base_url=emu.api_url),
        signing_secret=SECRET,
        process_before_response=True,  # the answer after the listener: no race in asserts
    )
    seen: dict[str, list[Any]] = {"events": [], "clicks": [], "commands": []}

    @app.event("app_home_opened")
    def on_home(ack: Ack, event: dict[str, Any], client: WebClient) -> None:
        ack()
        seen["events"].append(event)
        client.views_publish(user_id=event["user"], view=HOME)

    @app.action("approve")
    def on_approve(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        seen["clicks"].append(body)

    @app.command("/pilotgate")
    def on_command(ack: Ack, body: dict[str, Any]) -> None:
        seen["commands"].append(body)
        ack(text=f"you said {body['text']}", response_type="ephemeral")

    class Listener(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            result = app.dispatch(BoltRequest(body=raw, headers=dict(self.headers.items())))
            data = result.body.encode()
            self.send_response(result.status)
            for key, values in result.headers.items():
                for value in values:
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Listener)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/slack/events", seen
    finally:
        server.shutdown()
        server.server_close()


def test_home_opened_publish_and_click(
    emu: SlackEmulator, bolt: tuple[str, dict[str, list[Any]]]
) -> None:
    url, seen = bolt
    assert emu.open_home(url, USER, secret="forged").status_code == 401
    assert seen["events"] == []
    assert emu.open_home(url, USER).status_code == 200
    [event] = seen["events"]
    assert (event["type"], event["user"], event["tab"]) == ("app_home_opened", USER, "home")
    assert event["channel"] == emu.dm_channel_for(USER) and "view" not in event
    home = emu.home_for(USER)
    assert home is not None and home.view["type"] == "home" and len(home.versions) == 1
    assert home.view["blocks"][1]["block_id"] != home.view["blocks"][2]["block_id"]  # filled in

    # Opening again carries the current view; publishing again keeps the view's id.
    assert emu.open_home(url, USER).status_code == 200
    assert seen["events"][1]["view"]["id"] == home.id
    again = emu.home_for(USER)
    assert again is not None and again.id == home.id and len(again.versions) == 2

    assert emu.click_home(url, USER, "approve", value="8").status_code == 200
    [click] = seen["clicks"]
    assert click["container"] == {"type": "view", "view_id": home.id}
    assert click["actions"][0]["value"] == "8" and "channel" not in click
    assert click["view"]["type"] == "home" and click["trigger_id"]
    with pytest.raises(NotFoundError):
        emu.click_home(url, USER, "approve", value="9")
    with pytest.raises(NotFoundError):
        emu.click_home(url, "U0NOHOME1", "approve")


def test_views_publish_is_checked_as_slack_checks_it(emu: SlackEmulator) -> None:
    client = WebClient(token=TOKEN, base_url=emu.api_url)
    for view, error in (
        ({"type": "modal", "blocks": []}, "invalid_arguments"),
        ({"type": "home", "blocks": [{"type": "section"}] * 101}, "invalid_arguments"),
        ({"type": "home", "blocks": [], "title": {"type": "plain_text", "text": "x"}},
         "invalid_arguments"),
    ):
        with pytest.raises(SlackApiError) as failed:
            client.views_publish(user_id=USER, view=view)
        assert failed.value.response["error"] == error
    with pytest.raises(SlackApiError) as failed:
        client.views_publish(user_id="nobody", view=HOME)
    assert failed.value.response["error"] == "user_not_found"
    published = client.views_publish(user_id=USER, view=HOME)["view"]
    with pytest.raises(SlackApiError) as failed:
        client.views_publish(user_id=USER, view=HOME, hash="stale.hash")
    assert failed.value.response["error"] == "hash_conflict"
    assert client.views_publish(user_id=USER, view=HOME, hash=published["hash"])["ok"]
    with pytest.raises(SlackApiError) as failed:
        WebClient(token="xoxb-wrong", base_url=emu.api_url).views_publish(user_id=USER, view=HOME)
    assert failed.value.response["error"] == "invalid_auth"


def test_slash_commands_are_signed_forms_and_the_ack_is_shown(
    emu: SlackEmulator, bolt: tuple[str, dict[str, list[Any]]]
) -> None:
    url, seen = bolt
    forged = emu.slash_command(url, USER, "/pilotgate", "status", secret="forged")
    assert forged.response.status_code == 401 and forged.message is None
    answer = emu.slash_command(url, USER, "/pilotgate", "status pg-1 & <more>")
    assert answer.response.status_code == 200
    [body] = seen["commands"]
    assert (body["command"], body["text"], body["user_id"]) == (
        "/pilotgate", "status pg-1 & <more>", USER)
    assert body["team_id"] == emu.team_id and body["api_app_id"] == emu.app_id
    assert body["trigger_id"] and body["response_url"]
    assert answer.message is not None and answer.message.ephemeral
    assert answer.message.user == USER and answer.message.channel == emu.dm_channel_for(USER)
    assert answer.text == "you said status pg-1 & <more>"
    assert emu.interactions[-1].kind == "slash_command"
    unknown = emu.slash_command(url, USER, "/other")
    assert unknown.response.status_code == 404 and unknown.message is None


def test_the_control_api_opens_homes_and_types_commands(
    emu: SlackEmulator, bolt: tuple[str, dict[str, list[Any]]]
) -> None:
    url, seen = bolt
    base = emu.base_url + "/_emu"
    with httpx.Client() as http:
        opened = http.post(f"{base}/home/open", json={"listener_url": url, "user_id": USER})
        assert opened.json() == {"ok": True, "status": 200, "body": ""}
        home = http.get(f"{base}/home", params={"user": USER}).json()["home"]
        assert home["view"]["type"] == "home" and home["user_id"] == USER
        clicked = http.post(f"{base}/home/click", json={
            "listener_url": url, "user_id": USER, "action_id": "approve", "value": "7"})
        assert clicked.json()["status"] == 200 and clicked.json()["payload"]["actions"][0][
            "value"] == "7"
        typed = http.post(f"{base}/command", json={
            "listener_url": url, "user_id": USER, "command": "/pilotgate", "text": "list"}).json()
        assert typed["status"] == 200 and typed["message"]["text"] == "you said list"
        assert http.get(f"{base}/home", params={"user": "U0NOBODY1"}).json()["home"] is None
    assert len(seen["clicks"]) == 1 and len(seen["commands"]) == 1
