"""The emulator says no as Slack does (issue 18, item 7): every refusal checked through the
real slack_sdk client over loopback, in Slack's wire shapes."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from slackemu import SlackEmulator

TOKEN = "xoxb-says-no"


@pytest.fixture
def emu() -> Iterator[SlackEmulator]:
    with SlackEmulator(bot_token=TOKEN) as emulator:
        yield emulator


@pytest.fixture
def client(emu: SlackEmulator) -> WebClient:
    client = WebClient(token=TOKEN, base_url=emu.api_url)
    client.retry_handlers = []  # see every answer as Slack gives it
    return client


def _error(call: object) -> SlackApiError:
    with pytest.raises(SlackApiError) as caught:
        call()  # type: ignore[operator]
    return caught.value


def test_membership_not_in_channel_and_conversations_info(
    emu: SlackEmulator, client: WebClient
) -> None:
    emu.add_channel("C0DIGEST1", "portfolio")
    assert client.conversations_info(channel="C0DIGEST1")["channel"]["is_member"] is True
    emu.remove_bot_from("C0DIGEST1")
    assert client.conversations_info(channel="C0DIGEST1")["channel"]["is_member"] is False
    err = _error(lambda: client.chat_postMessage(channel="C0DIGEST1", text="digest"))
    assert err.response["error"] == "not_in_channel" and err.response.status_code == 200
    emu.invite_bot("C0DIGEST1")
    assert client.chat_postMessage(channel="C0DIGEST1", text="digest")["ok"]


def test_the_messages_tab_switched_off(emu: SlackEmulator, client: WebClient) -> None:
    emu.set_messages_tab(False)
    channel = client.conversations_open(users="U0PMO0001")["channel"]["id"]
    err = _error(lambda: client.chat_postMessage(channel=channel, text="hi"))
    assert err.response["error"] == "messages_tab_disabled"
    assert client.chat_postMessage(channel="C0TEAM001", text="channels still work")["ok"]


@pytest.mark.parametrize("error", ["token_revoked", "invalid_auth", "account_inactive"])
def test_revoked_and_invalid_tokens(emu: SlackEmulator, client: WebClient, error: str) -> None:
    emu.revoke_token(error)
    assert _error(client.auth_test).response["error"] == error
    emu.set_bot_token("xoxb-reinstalled")
    assert _error(client.auth_test).response["error"] == error  # the old token stays dead
    assert WebClient(token="xoxb-reinstalled", base_url=emu.api_url).auth_test()["ok"]
    assert (
        _error(WebClient(token="xoxb-guess", base_url=emu.api_url).auth_test).response["error"]
        == "invalid_auth"
    )


def test_missing_scopes_name_what_is_needed(emu: SlackEmulator, client: WebClient) -> None:
    emu.remove_scope("im:write")
    err = _error(lambda: client.conversations_open(users="U0PMO0001"))
    assert err.response["error"] == "missing_scope"
    assert err.response["needed"] == "im:write" and "im:write" not in err.response["provided"]
    assert "chat:write" in client.auth_test().headers.get("X-OAuth-Scopes", "")
    emu.remove_scope("channels:read")
    assert (
        _error(lambda: client.conversations_info(channel="C0TEAM001")).response["needed"]
        == "channels:read"
    )


def test_rate_limit_tiers_answer_429_with_an_integer_retry_after(
    emu: SlackEmulator, client: WebClient
) -> None:
    emu.enforce_rate_limits()
    assert client.chat_postMessage(channel="C0ONE0001", text="1")["ok"]
    assert client.chat_postMessage(channel="C0TWO0001", text="other channel")["ok"]
    err = _error(lambda: client.chat_postMessage(channel="C0ONE0001", text="2"))
    assert err.response.status_code == 429 and err.response["error"] == "ratelimited"
    assert err.response.headers["Retry-After"] == "1"
    for _ in range(50):  # conversations.open is Tier 3: 50 a minute
        client.conversations_open(users="U0PMO0001")
    err = _error(lambda: client.conversations_open(users="U0PMO0001"))
    assert err.response.status_code == 429 and 1 <= int(err.response.headers["Retry-After"]) <= 60
    time.sleep(1.05)
    assert client.chat_postMessage(channel="C0ONE0001", text="2")["ok"]


def test_length_limits_per_method_and_field(emu: SlackEmulator, client: WebClient) -> None:
    posted = client.chat_postMessage(channel="C0TEAM001", text="x" * 4001)  # 40,000 here
    err = _error(lambda: client.chat_update(channel="C0TEAM001", ts=posted["ts"], text="x" * 4001))
    assert err.response["error"] == "msg_too_long"
    section = [{"type": "section", "text": {"type": "mrkdwn", "text": "y" * 3001}}]
    err = _error(lambda: client.chat_postMessage(channel="C0TEAM001", text="t", blocks=section))
    assert err.response["error"] == "invalid_blocks"
    assert "must be less than 3001 characters" in str(err.response["response_metadata"])
    header = [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}]
    err = _error(lambda: client.chat_postMessage(channel="C0TEAM001", text="t", blocks=header))
    assert err.response["error"] == "invalid_blocks"


def test_chat_update_needs_the_dm_channel_id_not_the_user_id(
    emu: SlackEmulator, client: WebClient
) -> None:
    posted = client.chat_postMessage(channel="U0PMO0001", text="to a user id")
    assert posted["channel"].startswith("D")
    err = _error(lambda: client.chat_update(channel="U0PMO0001", ts=posted["ts"], text="edit"))
    assert err.response["error"] == "channel_not_found"
    assert client.chat_update(channel=posted["channel"], ts=posted["ts"], text="edit")["ok"]


def test_trigger_ids_expire_after_three_seconds_and_are_single_use(
    emu: SlackEmulator, client: WebClient
) -> None:
    view = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Reason"},
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "why"}}],
    }
    assert emu.trigger_ttl == 3.0
    trigger = emu.issue_trigger_id("U0PMO0001")
    assert client.views_open(trigger_id=trigger, view=view)["ok"]
    assert (
        _error(lambda: client.views_open(trigger_id=trigger, view=view)).response["error"]
        == "exchanged_trigger_id"
    )
    emu.trigger_ttl = 0.01
    late = emu.issue_trigger_id("U0PMO0001")
    time.sleep(0.05)
    assert (
        _error(lambda: client.views_open(trigger_id=late, view=view)).response["error"]
        == "expired_trigger_id"
    )


def test_an_outage_can_answer_with_an_html_page(emu: SlackEmulator) -> None:
    emu.fail(503, count=1, retry_after=None, html=True)
    answer = httpx.post(
        emu.api_url + "chat.postMessage",
        headers={"Authorization": f"Bearer {TOKEN}"},
        json={"channel": "C0TEAM001", "text": "hi"},
    )
    assert answer.status_code == 503
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.text.startswith("<!DOCTYPE html>")
    assert not emu.messages  # a faulted call changes nothing


def test_warning_fields_on_accepted_calls(emu: SlackEmulator, client: WebClient) -> None:
    emu.warn("missing_charset", methods=["chat.postMessage"])
    posted = client.chat_postMessage(channel="C0TEAM001", text="hi")
    assert posted["ok"] and posted["warning"] == "missing_charset"
    assert posted["response_metadata"]["warnings"] == ["missing_charset"]
    assert "warning" not in client.auth_test().data


def test_scheduled_refusals_per_method_and_channel(emu: SlackEmulator, client: WebClient) -> None:
    emu.refuse("restricted_action", methods=["chat.postMessage"], channel="C0ANNOUNCE")
    err = _error(lambda: client.chat_postMessage(channel="C0ANNOUNCE", text="hi"))
    assert err.response["error"] == "restricted_action"
    assert client.chat_postMessage(channel="C0ANNOUNCE", text="hi")["ok"]  # count=1


def test_enterprise_grid_shapes(emu: SlackEmulator, client: WebClient) -> None:
    emu.set_enterprise("E0GRID001")
    assert client.auth_test()["enterprise_id"] == "E0GRID001"
    posted = client.chat_postMessage(
        channel="W0GRIDUSER",
        text="hi",
        blocks=[
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "go",
                        "text": {"type": "plain_text", "text": "Go"},
                    }
                ],
            }
        ],
    )
    assert posted["channel"].startswith("D")  # W... ids are users too
    payload = emu.build_block_actions("W0GRIDUSER", posted["channel"], posted["ts"], "go")
    assert payload["team"]["enterprise_id"] == "E0GRID001"
    assert payload["enterprise"]["id"] == "E0GRID001"
    assert payload["user"]["id"] == "W0GRIDUSER"
