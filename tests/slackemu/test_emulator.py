"""Tests for slackemu, the local Slack emulator.

Everything runs over real HTTP on loopback: the real slack_sdk WebClient (with
its real retry handlers) calls the emulator, the emulator delivers signed
payloads to a tiny recording receiver or to a real slack-bolt App, and the
receiving side verifies them with slack_sdk's own SignatureVerifier.  No mocks:
if the emulator drifts from Slack's wire format, these tests are where it shows.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from slack_bolt import Ack, App, BoltRequest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.signature import SignatureVerifier

from slackemu import ClientValidationError, NotFoundError, SlackEmulator, validate_blocks

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "xoxb-test-token"
SECRET = "test-signing-secret"
USER = "U0ALICE01"

DECISION_BLOCKS: list[dict[str, Any]] = [
    {"type": "header", "text": {"type": "plain_text", "text": "Pilot X: pilot → production"}},
    {"type": "section", "text": {"type": "mrkdwn", "text": "Please approve *Pilot X*."}},
    {
        "type": "actions",
        "block_id": "decision",
        "elements": [
            {
                "type": "button",
                "action_id": "approve",
                "style": "primary",
                "value": "req-42",
                "text": {"type": "plain_text", "text": "Approve"},
            },
            {
                "type": "button",
                "action_id": "reject",
                "style": "danger",
                "value": "req-42",
                "text": {"type": "plain_text", "text": "Reject"},
            },
        ],
    },
]

REJECT_MODAL: dict[str, Any] = {
    "type": "modal",
    "callback_id": "reject_modal",
    "private_metadata": "req-42",
    "title": {"type": "plain_text", "text": "Reject"},
    "submit": {"type": "plain_text", "text": "Reject"},
    "close": {"type": "plain_text", "text": "Cancel"},
    "blocks": [
        {"type": "section", "text": {"type": "mrkdwn", "text": "Why?"}},
        {
            "type": "input",
            "block_id": "reason",
            "label": {"type": "plain_text", "text": "Reason"},
            "element": {
                "type": "plain_text_input",
                "action_id": "reason_input",
                "multiline": True,
                "min_length": 10,
            },
        },
        {
            "type": "input",
            "block_id": "note",
            "optional": True,
            "label": {"type": "plain_text", "text": "Note"},
            "element": {"type": "plain_text_input", "action_id": "note_input"},
        },
    ],
}


# ---------------------------------------------------------------------- fixtures


@pytest.fixture
def emu() -> Iterator[SlackEmulator]:
    with SlackEmulator(bot_token=TOKEN, signing_secret=SECRET, trigger_ttl=0.5) as emulator:
        yield emulator


@pytest.fixture
def client(emu: SlackEmulator) -> WebClient:
    return WebClient(token=TOKEN, base_url=emu.api_url)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def payload(self) -> dict[str, Any]:
        form = parse_qs(self.body.decode())
        result: dict[str, Any] = json.loads(form["payload"][0])
        return result


@dataclass
class Receiver:
    """A stand-in listener on loopback that records what Slack (the emulator) sends."""

    url: str
    requests: list[Received] = field(default_factory=list)
    reply_body: bytes = b""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    box: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            rec = box["r"]
            rec.requests.append(Received(self.path, dict(self.headers.items()), body))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(rec.reply_body)))
            self.end_headers()
            self.wfile.write(rec.reply_body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    box["r"] = Receiver(url=f"http://127.0.0.1:{server.server_address[1]}/slack/events")
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield box["r"]
    server.shutdown()
    server.server_close()


def _post_decision(client: WebClient, user: str = USER) -> tuple[str, str]:
    channel = client.conversations_open(users=user)["channel"]["id"]
    resp = client.chat_postMessage(channel=channel, text="Approve Pilot X?", blocks=DECISION_BLOCKS)
    return channel, str(resp["ts"])


# ---------------------------------------------------------------------- Web API shapes


def test_auth_test_shape(client: WebClient, emu: SlackEmulator) -> None:
    data = client.auth_test().data
    assert isinstance(data, dict)
    assert data["ok"] is True
    assert {"url", "team", "user", "team_id", "user_id", "bot_id"} <= set(data)
    assert data["user_id"] == emu.bot_user_id and data["bot_id"] == emu.bot_id
    assert emu.api_url.endswith("/api/")


def test_conversations_open_is_stable_per_user(client: WebClient, emu: SlackEmulator) -> None:
    first = client.conversations_open(users=USER)
    second = client.conversations_open(users=USER)
    other = client.conversations_open(users="U0BOB0001")
    assert first["channel"]["id"] == second["channel"]["id"] == emu.dm_channel_for(USER)
    assert first["channel"]["id"].startswith("D")
    assert other["channel"]["id"] != first["channel"]["id"]
    assert second["already_open"] is True
    with pytest.raises(SlackApiError) as err:
        client.conversations_open(users="not-a-user")
    assert err.value.response["error"] == "user_not_found"


def test_post_message_and_update_keep_versions(client: WebClient, emu: SlackEmulator) -> None:
    channel, ts = _post_decision(client)
    resp = client.chat_postMessage(channel=channel, text="second", thread_ts=ts)
    assert resp["channel"] == channel
    assert resp["message"]["thread_ts"] == ts
    assert resp["message"]["bot_id"] == emu.bot_id
    seconds, micros = resp["ts"].split(".")
    assert len(micros) == 6 and seconds.isdigit()
    assert float(resp["ts"]) > float(ts)

    updated = client.chat_update(
        channel=channel,
        ts=ts,
        text="Approved",
        blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "Approved"}}],
    )
    assert updated["ts"] == ts and updated["message"]["edited"]["user"] == emu.bot_user_id

    record = emu.find_message(channel, ts)
    assert record is not None
    assert record.text == "Approved" and record.update_count == 1
    assert [v.text for v in record.versions] == ["Approve Pilot X?", "Approved"]
    assert record.versions[0].blocks is not None and len(record.versions[0].blocks) == 3
    assert [m.ts for m in emu.messages_in(channel)] == [ts, resp["ts"]]
    assert emu.messages_in(USER) == emu.messages_in(channel)

    with pytest.raises(SlackApiError) as err:
        client.chat_update(channel=channel, ts="1.000001", text="nope")
    assert err.value.response["error"] == "message_not_found"


def test_blocks_without_block_id_get_one_like_slack(client: WebClient, emu: SlackEmulator) -> None:
    resp = client.chat_postMessage(channel="C0GENERAL", text="t", blocks=[{"type": "divider"}])
    block_id = resp["message"]["blocks"][0]["block_id"]
    assert isinstance(block_id, str) and block_id


def test_post_ephemeral(client: WebClient, emu: SlackEmulator) -> None:
    resp = client.chat_postEphemeral(channel="C0GENERAL", user=USER, text="only you")
    assert resp["ok"] and "." in resp["message_ts"]
    [eph] = emu.ephemerals_for(USER)
    assert eph.ephemeral and eph.user == USER and eph.ts == resp["message_ts"]
    assert emu.messages_in("C0GENERAL") == []
    assert len(emu.messages_in("C0GENERAL", include_ephemeral=True)) == 1


def test_form_encoded_call_with_token_param(emu: SlackEmulator) -> None:
    blocks = json.dumps([{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}])
    resp = httpx.post(
        emu.api_url + "chat.postMessage",
        data={"token": TOKEN, "channel": "C0GENERAL", "blocks": blocks},
    )
    assert resp.status_code == 200 and resp.json()["ok"] is True
    assert emu.messages[0].blocks is not None
    assert emu.messages[0].blocks[0]["text"]["text"] == "hi"
    assert "token" not in emu.calls[0].params


def test_auth_errors(emu: SlackEmulator) -> None:
    with pytest.raises(SlackApiError) as err:
        WebClient(token="xoxb-wrong", base_url=emu.api_url).chat_postMessage(
            channel="C0GENERAL", text="x"
        )
    assert err.value.response.status_code == 200
    assert err.value.response["error"] == "invalid_auth"
    missing = httpx.post(emu.api_url + "auth.test")
    assert missing.status_code == 200 and missing.json() == {"ok": False, "error": "not_authed"}
    assert emu.messages == []


def test_argument_errors(client: WebClient) -> None:
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("chat.postMessage", {"channel": "C0GENERAL"}, "no_text"),
        ("chat.postMessage", {"channel": "nowhere", "text": "x"}, "channel_not_found"),
        ("chat.postMessage", {"text": "x"}, "channel_not_found"),
        ("chat.postEphemeral", {"channel": "C0GENERAL", "text": "x"}, "invalid_arguments"),
        ("chat.frobnicate", {}, "unknown_method"),
        ("views.open", {"view": REJECT_MODAL}, "invalid_arguments"),
    ]
    for method, args, error in cases:
        with pytest.raises(SlackApiError) as err:
            client.api_call(method, json=args)
        assert err.value.response["error"] == error, method


@pytest.mark.parametrize(
    ("blocks", "why"),
    [
        ({"type": "divider"}, "not a list"),
        ('[{"type": "divider"', "not JSON"),
        ([{"text": {"type": "mrkdwn", "text": "x"}}], "missing type"),
        ([{"type": "sektion", "text": {"type": "mrkdwn", "text": "x"}}], "unknown type"),
        ([{"type": "divider"}] * 51, "over 50 blocks"),
        (
            [
                {
                    "type": "actions",
                    "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Go"}}],
                }
            ],
            "button without action_id",
        ),
        (
            [
                {
                    "type": "actions",
                    "elements": [
                        {
                            "type": "button",
                            "action_id": "a",
                            "text": {"type": "plain_text", "text": "x" * 76},
                        }
                    ],
                }
            ],
            "button text too long",
        ),
        (
            [{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}],
            "header too long",
        ),
        ([{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}], "section too long"),
        ([{"type": "section", "text": "bare string"}], "text not an object"),
        ([{"type": "section", "text": {"type": "mrkdwn", "text": ""}}], "empty text"),
        ([{"type": "section"}], "section without text or fields"),
        (
            [{"type": "section", "text": {"type": "mrkdwn", "text": "x"}, "colour": "red"}],
            "unknown property",
        ),
        (
            [{"type": "actions", "elements": [{"type": "buton", "action_id": "a"}]}],
            "unknown element type",
        ),
        (
            [{"type": "divider", "block_id": "x"}, {"type": "divider", "block_id": "x"}],
            "duplicate block_id",
        ),
    ],
)
def test_invalid_blocks_rejected(
    client: WebClient, emu: SlackEmulator, blocks: Any, why: str
) -> None:
    with pytest.raises(SlackApiError) as err:
        client.api_call(
            "chat.postMessage", json={"channel": "C0GENERAL", "text": "t", "blocks": blocks}
        )
    assert err.value.response["error"] == "invalid_blocks", why
    assert err.value.response["errors"], why
    assert emu.messages == []


def test_valid_blocks_of_every_common_kind_accepted() -> None:
    blocks: list[dict[str, Any]] = [
        *DECISION_BLOCKS,
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": "*a*"},
                {"type": "plain_text", "text": "b", "emoji": True},
            ],
        },
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "x"},
            "accessory": {
                "type": "button",
                "action_id": "more",
                "url": "https://example.test",
                "text": {"type": "plain_text", "text": "More"},
            },
        },
        {"type": "divider"},
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": "ctx"},
                {"type": "image", "image_url": "https://example.test/a.png", "alt_text": "a"},
            ],
        },
        {
            "type": "actions",
            "elements": [
                {
                    "type": "static_select",
                    "action_id": "pick",
                    "placeholder": {"type": "plain_text", "text": "Pick"},
                    "options": [{"text": {"type": "plain_text", "text": "A"}, "value": "a"}],
                },
                {
                    "type": "button",
                    "action_id": "sure",
                    "text": {"type": "plain_text", "text": "?"},
                    "confirm": {
                        "title": {"type": "plain_text", "text": "Sure?"},
                        "text": {"type": "mrkdwn", "text": "Really"},
                        "confirm": {"type": "plain_text", "text": "Yes"},
                        "deny": {"type": "plain_text", "text": "No"},
                    },
                },
            ],
        },
        {
            "type": "rich_text",
            "elements": [
                {
                    "type": "rich_text_section",
                    "elements": [{"type": "text", "text": "bold", "style": {"bold": True}}],
                }
            ],
        },
    ]
    assert validate_blocks(blocks) == blocks


# ---------------------------------------------------------------------- faults


def test_rate_limit_then_success_with_retry_handler(emu: SlackEmulator) -> None:
    client = WebClient(
        token=TOKEN,
        base_url=emu.api_url,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)],
    )
    emu.fail(status=429, count=1, retry_after=0, methods=["chat.postMessage"])
    raw = httpx.post(emu.api_url + "auth.test", headers={"Authorization": f"Bearer {TOKEN}"})
    assert raw.status_code == 200  # fault limited to chat.postMessage

    resp = client.chat_postMessage(channel="C0GENERAL", text="once")
    assert resp["ok"]
    assert [c.status for c in emu.calls_to("chat.postMessage")] == [429, 200]
    assert [m.text for m in emu.messages] == ["once"]  # delivered once, never twice


def test_rate_limit_wire_format(emu: SlackEmulator) -> None:
    emu.fail(status=429, count=2, retry_after=7)
    for _ in range(2):
        resp = httpx.post(
            emu.api_url + "chat.postMessage",
            json={"channel": "C1", "text": "x"},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        assert resp.status_code == 429 and resp.headers["Retry-After"] == "7"
        assert resp.json() == {"ok": False, "error": "ratelimited"}
    assert emu.messages == []


@pytest.mark.parametrize("status", [500, 503])
def test_server_error_then_success_with_retry_handler(emu: SlackEmulator, status: int) -> None:
    plain = WebClient(token=TOKEN, base_url=emu.api_url)
    emu.fail(status=status, count=1)
    with pytest.raises(SlackApiError) as err:
        plain.chat_postMessage(channel="C0GENERAL", text="lost")
    assert err.value.response.status_code == status
    assert emu.messages == []

    retrying = WebClient(
        token=TOKEN,
        base_url=emu.api_url,
        retry_handlers=[
            ServerErrorRetryHandler(
                max_retry_count=2, interval_calculator=FixedValueRetryIntervalCalculator(0.01)
            )
        ],
    )
    emu.fail(status=status, count=2)
    assert retrying.chat_postMessage(channel="C0GENERAL", text="kept")["ok"]
    assert [m.text for m in emu.messages] == ["kept"]
    assert [c.status for c in emu.calls] == [status, status, status, 200]


def test_outage_until_recover(client: WebClient, emu: SlackEmulator) -> None:
    emu.outage(status=503)
    for _ in range(3):
        with pytest.raises(SlackApiError):
            client.chat_postMessage(channel="C0GENERAL", text="x")
    emu.recover()
    assert client.chat_postMessage(channel="C0GENERAL", text="x")["ok"]
    assert len(emu.messages) == 1


# ---------------------------------------------------------------------- clicks and modals


def test_click_payload_is_signed_and_slack_shaped(
    client: WebClient, emu: SlackEmulator, receiver: Receiver
) -> None:
    channel, ts = _post_decision(client)
    resp = emu.click(receiver.url, USER, channel, ts, "approve")
    assert resp.status_code == 200
    [req] = receiver.requests
    assert req.path == "/slack/events"
    assert req.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert SignatureVerifier(SECRET).is_valid_request(req.body, req.headers)
    assert not SignatureVerifier("other-secret").is_valid_request(req.body, req.headers)

    p = req.payload
    assert p["type"] == "block_actions"
    assert p["team"] == {"id": emu.team_id, "domain": emu.team_domain}
    assert p["user"]["id"] == USER and p["user"]["team_id"] == emu.team_id
    assert {"username", "name"} <= set(p["user"])
    assert p["api_app_id"] == emu.app_id and p["token"]
    assert p["container"] == {
        "type": "message",
        "message_ts": ts,
        "channel_id": channel,
        "is_ephemeral": False,
    }
    assert p["channel"] == {"id": channel, "name": "directmessage"}
    assert p["message"]["ts"] == ts and p["message"]["bot_id"] == emu.bot_id
    # the stored blocks, with block_ids generated (as Slack does) where the app gave none
    assert p["message"]["blocks"][2] == DECISION_BLOCKS[2]
    assert all(b["block_id"] for b in p["message"]["blocks"])
    assert [
        {k: v for k, v in b.items() if k != "block_id"} for b in p["message"]["blocks"][:2]
    ] == DECISION_BLOCKS[:2]
    assert p["response_url"].startswith(emu.base_url)
    [action] = p["actions"]
    assert action["action_id"] == "approve" and action["block_id"] == "decision"
    assert action["value"] == "req-42" and action["type"] == "button"
    assert action["text"] == {"type": "plain_text", "text": "Approve"}
    assert "." in action["action_ts"]
    # the trigger_id is one views.open accepts
    opened = client.views_open(trigger_id=p["trigger_id"], view=REJECT_MODAL)
    assert opened["view"]["id"].startswith("V")


def test_click_overrides_and_forgeries(
    client: WebClient, emu: SlackEmulator, receiver: Receiver
) -> None:
    channel, ts = _post_decision(client)
    verifier = SignatureVerifier(SECRET)
    emu.click(receiver.url, USER, channel, ts, "reject", timestamp=int(time.time()) - 600)
    emu.click(receiver.url, USER, channel, ts, "reject", secret="wrong", value="forged")
    stale, wrong = receiver.requests
    assert not verifier.is_valid_request(stale.body, stale.headers)
    assert not verifier.is_valid_request(wrong.body, wrong.headers)
    assert wrong.payload["actions"][0]["value"] == "forged"

    body = "payload=%7B%7D"
    emu.send_raw(receiver.url, body, 12345, "v0=deadbeef")
    raw = receiver.requests[-1]
    assert raw.body == body.encode()
    assert raw.headers["X-Slack-Request-Timestamp"] == "12345"
    assert raw.headers["X-Slack-Signature"] == "v0=deadbeef"
    assert [i.kind for i in emu.interactions] == ["block_actions", "block_actions", "raw"]


def test_click_errors(client: WebClient, emu: SlackEmulator, receiver: Receiver) -> None:
    channel, ts = _post_decision(client)
    with pytest.raises(NotFoundError, match="approve"):
        emu.click(receiver.url, USER, channel, ts, "aprove")
    with pytest.raises(NotFoundError, match="no message"):
        emu.click(receiver.url, USER, channel, "1.000001", "approve")
    client.chat_update(
        channel=channel,
        ts=ts,
        text="done",
        blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "done"}}],
    )
    with pytest.raises(NotFoundError):  # the latest version no longer has the button
        emu.click(receiver.url, USER, channel, ts, "approve")
    assert receiver.requests == []


def test_click_on_ephemeral_message(
    client: WebClient, emu: SlackEmulator, receiver: Receiver
) -> None:
    ts = client.chat_postEphemeral(
        channel="C0GENERAL", user=USER, text="t", blocks=DECISION_BLOCKS
    )["message_ts"]
    emu.click(receiver.url, USER, "C0GENERAL", ts, "approve")
    p = receiver.requests[0].payload
    assert p["container"]["is_ephemeral"] is True
    assert "message" not in p  # Slack does not echo ephemeral messages back
    assert p["channel"]["id"] == "C0GENERAL"


def test_trigger_id_rules(client: WebClient, emu: SlackEmulator) -> None:
    emu.trigger_ttl = 0.2
    trigger = emu.issue_trigger_id(USER)
    assert client.views_open(trigger_id=trigger, view=REJECT_MODAL)["ok"]
    for trigger_id, error in [
        (trigger, "exchanged_trigger_id"),
        ("123.456.abc", "invalid_trigger_id"),
    ]:
        with pytest.raises(SlackApiError) as err:
            client.views_open(trigger_id=trigger_id, view=REJECT_MODAL)
        assert err.value.response["error"] == error
    stale = emu.issue_trigger_id(USER)
    time.sleep(emu.trigger_ttl + 0.05)
    with pytest.raises(SlackApiError) as err:
        client.views_open(trigger_id=stale, view=REJECT_MODAL)
    assert err.value.response["error"] == "expired_trigger_id"
    assert len(emu.views) == 1


def test_views_open_validates_and_update(client: WebClient, emu: SlackEmulator) -> None:
    bad = {**REJECT_MODAL, "title": {"type": "plain_text", "text": "x" * 25}}
    with pytest.raises(SlackApiError) as err:
        client.views_open(trigger_id=emu.issue_trigger_id(USER), view=bad)
    assert err.value.response["error"] == "invalid_arguments"
    opened = client.views_open(trigger_id=emu.issue_trigger_id(USER), view=REJECT_MODAL)
    view = opened["view"]
    assert view["callback_id"] == "reject_modal" and view["private_metadata"] == "req-42"
    assert view["state"] == {"values": {}} and view["hash"]
    with pytest.raises(SlackApiError) as err:
        client.views_update(view_id=view["id"], hash="stale", view=REJECT_MODAL)
    assert err.value.response["error"] == "hash_conflict"
    new = {**REJECT_MODAL, "title": {"type": "plain_text", "text": "Reject (2)"}}
    updated = client.views_update(view_id=view["id"], hash=view["hash"], view=new)
    assert updated["view"]["title"]["text"] == "Reject (2)"
    latest = emu.latest_view_for(USER)
    assert latest is not None and len(latest.versions) == 2


def test_submit_view_state_values(
    client: WebClient, emu: SlackEmulator, receiver: Receiver
) -> None:
    view_id = client.views_open(trigger_id=emu.issue_trigger_id(USER), view=REJECT_MODAL)["view"][
        "id"
    ]
    with pytest.raises(NotFoundError, match="reason_inptu"):
        emu.submit_view(receiver.url, USER, view_id, {"reason_inptu": "x"})
    with pytest.raises(ClientValidationError):  # required input left empty
        emu.submit_view(receiver.url, USER, view_id, {"note_input": "x"})
    with pytest.raises(ClientValidationError):  # below min_length
        emu.submit_view(receiver.url, USER, view_id, {"reason_input": "short"})

    resp = emu.submit_view(receiver.url, USER, view_id, {"reason_input": "not ready for prod"})
    assert resp.status_code == 200
    [req] = receiver.requests
    assert SignatureVerifier(SECRET).is_valid_request(req.body, req.headers)
    p = req.payload
    assert p["type"] == "view_submission" and p["user"]["id"] == USER
    assert p["team"]["id"] == emu.team_id and p["api_app_id"] == emu.app_id
    assert p["trigger_id"] and p["token"]
    v = p["view"]
    assert v["id"] == view_id and v["type"] == "modal" and v["callback_id"] == "reject_modal"
    assert v["private_metadata"] == "req-42" and v["hash"] and v["title"]["text"] == "Reject"
    assert v["state"]["values"] == {
        "reason": {"reason_input": {"type": "plain_text_input", "value": "not ready for prod"}},
        "note": {"note_input": {"type": "plain_text_input", "value": None}},
    }
    record = emu.get_view(view_id)
    assert record is not None and record.status == "closed"  # empty ack closes the modal
    with pytest.raises(NotFoundError):
        emu.submit_view(receiver.url, USER, view_id, {"reason_input": "again and again"})


def test_submit_view_errors_keep_modal_open(
    client: WebClient, emu: SlackEmulator, receiver: Receiver
) -> None:
    client.views_open(trigger_id=emu.issue_trigger_id(USER), view=REJECT_MODAL)
    receiver.reply_body = json.dumps(
        {"response_action": "errors", "errors": {"reason": "too vague"}}
    ).encode()
    emu.submit_view(receiver.url, USER, None, {"reason_input": "because reasons"})
    view = emu.latest_view_for(USER)
    assert view is not None and view.status == "open"
    assert view.submissions[0]["response"]["errors"] == {"reason": "too vague"}


def test_response_url_replaces_original(
    client: WebClient, emu: SlackEmulator, receiver: Receiver
) -> None:
    channel, ts = _post_decision(client)
    emu.click(receiver.url, USER, channel, ts, "approve")
    response_url = receiver.requests[0].payload["response_url"]
    resp = httpx.post(response_url, json={"replace_original": True, "text": "Approved by Alice"})
    assert resp.status_code == 200
    record = emu.find_message(channel, ts)
    assert record is not None and record.text == "Approved by Alice"
    assert record.versions[-1].source == "response_url"


# ---------------------------------------------------------------------- with a real slack-bolt app


def test_real_bolt_app_round_trip(emu: SlackEmulator) -> None:
    app = App(client=WebClient(token=TOKEN, base_url=emu.api_url), signing_secret=SECRET)
    decisions: list[str] = []

    @app.action("reject")
    def on_reject(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        view = {
            **REJECT_MODAL,
            "private_metadata": json.dumps(
                [body["channel"]["id"], body["message"]["ts"], body["actions"][0]["value"]]
            ),
        }
        client.views_open(trigger_id=body["trigger_id"], view=view)

    @app.view("reject_modal")
    def on_submit(ack: Ack, view: dict[str, Any], client: WebClient) -> None:
        ack()
        channel, ts, request_id = json.loads(view["private_metadata"])
        reason = view["state"]["values"]["reason"]["reason_input"]["value"]
        decisions.append(f"{request_id}:{reason}")
        client.chat_update(channel=channel, ts=ts, text=f"Rejected: {reason}")

    class Listener(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            result = app.dispatch(BoltRequest(body=raw, headers=dict(self.headers.items())))
            data = result.body.encode()
            self.send_response(result.status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Listener)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/slack/events"
    try:
        channel, ts = _post_decision(WebClient(token=TOKEN, base_url=emu.api_url))
        forged = emu.click(url, USER, channel, ts, "reject", secret="not-the-secret")
        assert forged.status_code == 401  # bolt's real signature check rejects it
        assert emu.click(url, USER, channel, ts, "reject").status_code == 200
        view = emu.wait_until(lambda e: e.latest_view_for(USER), timeout=5)
        assert view.view["callback_id"] == "reject_modal"
        assert emu.submit_view(url, USER, view.id, {"reason_input": "metrics not met"}).is_success
        emu.wait_until(lambda e: (m := e.find_message(channel, ts)) and m.update_count == 1)
        assert decisions == ["req-42:metrics not met"]
        record = emu.find_message(channel, ts)
        assert record is not None and record.text == "Rejected: metrics not met"
    finally:
        server.shutdown()
        server.server_close()


# ---------------------------------------------------------------------- control API and CLI


def test_http_control_api(client: WebClient, emu: SlackEmulator, receiver: Receiver) -> None:
    base = emu.base_url + "/_emu"
    http = httpx.Client()  # one client: creating one per call costs ~50 ms of TLS setup
    channel, ts = _post_decision(client)
    messages = http.get(f"{base}/messages", params={"channel": channel}).json()["messages"]
    assert [m["ts"] for m in messages] == [ts]
    assert http.get(f"{base}/calls", params={"method": "chat.postMessage"}).json()["calls"]

    clicked = http.post(
        f"{base}/click",
        json={
            "listener_url": receiver.url,
            "user_id": USER,
            "channel": channel,
            "ts": ts,
            "action_id": "reject",
        },
    ).json()
    assert clicked["ok"] and clicked["status"] == 200
    assert clicked["payload"]["actions"][0]["action_id"] == "reject"
    trigger = clicked["payload"]["trigger_id"]
    client.views_open(trigger_id=trigger, view=REJECT_MODAL)
    submitted = http.post(
        f"{base}/submit",
        json={
            "listener_url": receiver.url,
            "user_id": USER,
            "values": {"reason_input": "ten characters at least"},
        },
    ).json()
    assert submitted["ok"] and submitted["payload"]["type"] == "view_submission"
    bad = http.post(
        f"{base}/click",
        json={
            "listener_url": receiver.url,
            "user_id": USER,
            "channel": channel,
            "ts": ts,
            "action_id": "nope",
        },
    )
    assert bad.status_code == 400 and bad.json()["error"] == "NotFoundError"

    assert http.post(f"{base}/fail", json={"status": 503, "count": 1}).json()["ok"]
    with pytest.raises(SlackApiError):
        client.auth_test()
    assert client.auth_test()["ok"]
    http.close()


def test_cli_standalone() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    helped = subprocess.run(
        [sys.executable, "-m", "slackemu", "--help"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    for flag in ("--port", "--signing-secret", "--bot-token", "--listener-url"):
        assert flag in helped.stdout
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "slackemu",
            "--port",
            "0",
            "--bot-token",
            "xoxb-cli",
            "--signing-secret",
            "S",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        api_url = proc.stdout.readline().strip()
        assert api_url.startswith("http://127.0.0.1:") and api_url.endswith("/api/")
        cli = WebClient(token="xoxb-cli", base_url=api_url)
        assert cli.chat_postMessage(channel="C0GENERAL", text="from cli")["ok"]
        control = api_url.replace("/api/", "/_emu/messages")
        assert [m["text"] for m in httpx.get(control).json()["messages"]] == ["from cli"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert proc.returncode == 0
