"""`users.info` on the emulator, through the real slack_sdk WebClient over HTTP: Slack's shape for
a known user, `deleted` for a deactivated one, `user_not_found` for anyone else, and the bot
token required."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from slackemu import SlackEmulator

TOKEN = "xoxb-users-test"


@pytest.fixture
def emu() -> Iterator[SlackEmulator]:
    with SlackEmulator(bot_token=TOKEN) as emulator:
        emulator.add_user("U0ARC0001", "sam", real_name="Sam Okafor", email="sam@example.com")
        emulator.add_user("U0SEC0001", "chris", real_name="Chris Vaughn", display_name="Chris V")
        yield emulator


def client(emu: SlackEmulator, token: str = TOKEN) -> WebClient:
    return WebClient(token=token, base_url=emu.api_url)


def test_a_known_user_in_slacks_shape(emu: SlackEmulator) -> None:
    user = client(emu).users_info(user="U0ARC0001")["user"]
    assert (user["id"], user["name"], user["real_name"], user["deleted"]) == (
        "U0ARC0001", "sam", "Sam Okafor", False)
    assert user["team_id"] == emu.team_id
    assert user["profile"]["real_name"] == "Sam Okafor"
    assert user["profile"]["display_name"] == ""  # Slack's default: never set
    assert user["profile"]["email"] == "sam@example.com"
    chris = client(emu).users_info(user="U0SEC0001")["user"]
    assert chris["profile"]["display_name"] == "Chris V"
    assert [c.method for c in emu.calls if c.method == "users.info"] == ["users.info"] * 2


def test_a_deactivated_user_is_answered_as_deleted(emu: SlackEmulator) -> None:
    emu.deactivate_user("U0ARC0001")
    assert client(emu).users_info(user="U0ARC0001")["user"]["deleted"] is True


@pytest.mark.parametrize("user", ["U0NOBODY1", "not-an-id", ""])
def test_anyone_else_is_user_not_found(emu: SlackEmulator, user: str) -> None:
    with pytest.raises(SlackApiError) as exc:
        client(emu).users_info(user=user)
    assert exc.value.response["error"] == "user_not_found"


def test_the_bot_token_is_required(emu: SlackEmulator) -> None:
    with pytest.raises(SlackApiError) as exc:
        client(emu, "xoxb-wrong").users_info(user="U0ARC0001")
    assert exc.value.response["error"] == "invalid_auth"
