"""Sign in with Slack on the emulator: the browser's authorize redirect, then the real slack_sdk
WebClient's `openid_connect_token` and `openid_connect_userInfo` over HTTP, in Slack's wire
format. A code is single use and bound to its client and redirect URI; the user token answers
userInfo and nothing else; the client secret never lands in the call records."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from slackemu import SlackEmulator

CLIENT_ID = "emu-client-id"
CLIENT_SECRET = "emu-client-secret"
REDIRECT = "http://127.0.0.1:9/signin/callback"
ALICE = "U0ALICE01"
BOB = "U0BOB0001"


@pytest.fixture
def emu() -> Iterator[SlackEmulator]:
    with SlackEmulator(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as emulator:
        emulator.add_user(ALICE, "alice", real_name="Alice Example", email="alice@example.com")
        yield emulator


def authorize(emu: SlackEmulator, **params: str) -> httpx.Response:
    query = {
        "response_type": "code",
        "scope": "openid profile email",
        "client_id": CLIENT_ID,
        "state": "st-123",
        "nonce": "n-456",
        "redirect_uri": REDIRECT,
        **params,
    }
    return httpx.get(f"{emu.openid_authorize_url}?{urlencode(query)}", follow_redirects=False)


def redirected(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    return {k: v[-1] for k, v in parse_qs(location.query).items()}


def claims(id_token: str) -> dict[str, Any]:
    body = id_token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))))


def client(emu: SlackEmulator, token: str | None = None) -> WebClient:
    return WebClient(token=token, base_url=emu.api_url)


def exchange(emu: SlackEmulator, code: str, **kwargs: Any) -> Any:
    args = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "redirect_uri": REDIRECT}
    args.update(kwargs)
    return client(emu).openid_connect_token(code=code, **args)


def test_login_hint_signs_in_and_the_code_buys_a_token_and_the_identity(
    emu: SlackEmulator,
) -> None:
    back = redirected(authorize(emu, login_hint=ALICE))
    assert back["state"] == "st-123" and back["code"]

    token = exchange(emu, back["code"])
    assert token["ok"] is True and token["token_type"] == "Bearer"
    assert token["access_token"].startswith("xoxp-")
    idt = claims(token["id_token"])
    assert idt["sub"] == ALICE and idt["aud"] == CLIENT_ID and idt["nonce"] == "n-456"
    assert idt["https://slack.com/user_id"] == ALICE
    assert idt["https://slack.com/team_id"] == emu.team_id

    info = client(emu, token["access_token"]).openid_connect_userInfo()
    assert info["ok"] is True
    assert info["sub"] == ALICE and info["https://slack.com/user_id"] == ALICE
    assert info["https://slack.com/team_id"] == emu.team_id
    assert info["name"] == "Alice Example" and info["email"] == "alice@example.com"


def test_without_a_hint_the_default_user_signs_in(emu: SlackEmulator) -> None:
    assert authorize(emu).status_code == 400  # nobody to sign in yet
    emu.sign_in_as(BOB)
    token = exchange(emu, redirected(authorize(emu))["code"])
    info = client(emu, token["access_token"]).openid_connect_userInfo()
    assert info["sub"] == BOB and info["name"] == BOB.lower()  # no name set: like payloads
    assert info["email"] == f"{BOB.lower()}@{emu.team_domain}.example"


def test_a_code_is_single_use(emu: SlackEmulator) -> None:
    code = redirected(authorize(emu, login_hint=ALICE))["code"]
    exchange(emu, code)
    with pytest.raises(SlackApiError) as err:
        exchange(emu, code)
    assert err.value.response["error"] == "invalid_code"


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"client_id": "someone-else"}, "invalid_client_id"),
        ({"client_secret": "wrong-secret"}, "bad_client_secret"),
        ({"redirect_uri": "http://127.0.0.1:9/elsewhere"}, "bad_redirect_uri"),
    ],
)
def test_the_exchange_checks_the_client_and_the_redirect_uri(
    emu: SlackEmulator, change: dict[str, str], error: str
) -> None:
    code = redirected(authorize(emu, login_hint=ALICE))["code"]
    with pytest.raises(SlackApiError) as err:
        exchange(emu, code, **change)
    assert err.value.response.status_code == 200 and err.value.response["error"] == error
    assert exchange(emu, code)["ok"] is True  # a refused attempt does not burn the code


def test_an_unknown_code_and_a_made_up_code_are_refused(emu: SlackEmulator) -> None:
    with pytest.raises(SlackApiError) as err:
        exchange(emu, "1.2.deadbeef")
    assert err.value.response["error"] == "invalid_code"


def test_user_info_needs_a_user_token(emu: SlackEmulator) -> None:
    with pytest.raises(SlackApiError) as err:
        client(emu).openid_connect_userInfo()
    assert err.value.response["error"] == "not_authed"
    for token in ("xoxp-made-up", emu.bot_token):
        with pytest.raises(SlackApiError) as err:
            client(emu, token).openid_connect_userInfo()
        assert err.value.response["error"] == "invalid_auth"


def test_the_user_token_is_not_a_bot_token(emu: SlackEmulator) -> None:
    token = exchange(emu, redirected(authorize(emu, login_hint=ALICE))["code"])["access_token"]
    with pytest.raises(SlackApiError) as err:
        client(emu, token).chat_postMessage(channel=ALICE, text="hello")
    assert err.value.response["error"] == "invalid_auth"


def test_the_authorize_step_refuses_what_slack_refuses(emu: SlackEmulator) -> None:
    assert authorize(emu, client_id="nope").status_code == 400
    assert authorize(emu, redirect_uri="javascript:alert(1)").status_code == 400
    assert redirected(authorize(emu, login_hint=ALICE, scope="profile"))["error"] == (
        "invalid_scope"
    )
    assert redirected(authorize(emu, login_hint=ALICE, team="T0OTHER01"))["error"] == (
        "access_denied"
    )
    emu.deactivate_user(ALICE)
    denied = redirected(authorize(emu, login_hint=ALICE))
    assert denied == {"error": "access_denied", "state": "st-123"}


def test_the_records_keep_no_secret_state_or_token(emu: SlackEmulator) -> None:
    token = exchange(emu, redirected(authorize(emu, login_hint=ALICE))["code"])
    client(emu, token["access_token"]).openid_connect_userInfo()
    calls = emu.calls
    assert [c.method for c in calls] == [
        "openid.connect.authorize",
        "openid.connect.token",
        "openid.connect.userInfo",
    ]
    recorded = json.dumps([c.to_dict() for c in calls])
    for secret in (CLIENT_SECRET, token["access_token"], "st-123", "n-456"):
        assert secret not in recorded


def test_the_control_api_sets_the_sign_in_user(emu: SlackEmulator) -> None:
    answer = httpx.post(f"{emu.base_url}/_emu/signin", json={"user_id": ALICE}).json()
    assert answer == {"ok": True, "authorize_url": emu.openid_authorize_url}
    token = exchange(emu, redirected(authorize(emu))["code"])
    assert claims(token["id_token"])["sub"] == ALICE
