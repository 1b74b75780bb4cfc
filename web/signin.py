"""Sign in with Slack (OpenID Connect, authorization-code flow) and sign out.

`/signin` sends the browser to Slack's authorize URL with a fresh `state` (anti-forgery) and
`nonce`, both kept in a signed cookie that lives ten minutes; `/signin/callback` checks the
state, exchanges the code (`openid.connect.token`, with the client id and secret, over the
back channel), checks the id token's audience, nonce and team, reads `openid.connect.userInfo`
with the user's token and sets the session. The id token comes straight from Slack's token
endpoint over TLS, so its signature is not checked here (OpenID Connect Core 3.1.3.7, 6.);
its claims are. Nothing of the code, the tokens or the client secret is logged or shown.

`/signin?next=/path` returns there afterwards (a local path only); `login_hint=U...` is passed
on to the authorize URL (the Slack emulator signs that user in; Slack itself ignores it).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from typing import Any
from urllib.parse import urlencode

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from web.context import Web, message, not_configured, read_form
from web.session import SESSION_COOKIE, SIGNIN_COOKIE, SIGNIN_SECONDS, Pending, safe_next, same

log = logging.getLogger("pilotgate.web")

SCOPES = "openid profile email"
CALLBACK = "/signin/callback"
SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,20}$")
USER_CLAIM = "https://slack.com/user_id"
TEAM_CLAIM = "https://slack.com/team_id"


class SignInRefused(Exception):
    """Why a sign-in did not happen, as the person is told (no secrets in it)."""


def _claims(id_token: Any) -> dict[str, Any]:
    """The claims of a JWT (its middle part), or SignInRefused."""
    if not isinstance(id_token, str) or id_token.count(".") != 2:
        raise SignInRefused("Slack sent no usable identity token.")
    payload = id_token.split(".")[1]
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise SignInRefused("Slack sent no usable identity token.") from exc
    if not isinstance(claims, dict):
        raise SignInRefused("Slack sent no usable identity token.")
    return claims


def _audience_ok(aud: Any, client_id: str) -> bool:
    return aud == client_id or (isinstance(aud, list) and client_id in aud)


def identify(web: Web, code: str, pending: Pending) -> tuple[str, str, str]:
    """Exchange the code and read who signed in: (user id, team id, name)."""
    settings = web.runtime.settings
    client_id = settings.slack_client_id or ""
    secret = settings.slack_client_secret.get_secret_value() if settings.slack_client_secret else ""
    client = WebClient(base_url=settings.slack_api_url, timeout=10)
    try:
        token = client.openid_connect_token(
            client_id=client_id,
            client_secret=secret,
            code=code,
            redirect_uri=web.base_url + CALLBACK,
        )
        claims = _claims(token.get("id_token"))
        if not _audience_ok(claims.get("aud"), client_id):
            raise SignInRefused("The identity token was not issued to this app.")
        if not same(claims.get("nonce"), pending.nonce):
            raise SignInRefused("The identity token does not belong to this sign-in.")
        access = token.get("access_token")
        if not isinstance(access, str) or not access:
            raise SignInRefused("Slack sent no access token.")
        info = WebClient(token=access, base_url=settings.slack_api_url, timeout=10)
        user = info.openid_connect_userInfo()
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response is not None else None
        log.warning("sign-in refused by Slack: %s", error or "unknown error")
        raise SignInRefused(f"Slack refused the sign-in ({error or 'unknown error'}).") from None
    except SlackClientError as exc:
        log.warning("sign-in: Slack unreachable (%s)", type(exc).__name__)
        raise SignInRefused("Slack could not be reached; try again.") from None
    user_id = user.get(USER_CLAIM) or user.get("sub")
    team_id = user.get(TEAM_CLAIM)
    if not isinstance(user_id, str) or not SLACK_USER_ID.match(user_id):
        raise SignInRefused("Slack did not say who you are.")
    if user_id != (claims.get(USER_CLAIM) or claims.get("sub")):
        raise SignInRefused("The identity token and the user information disagree.")
    if not isinstance(team_id, str) or team_id != claims.get(TEAM_CLAIM):
        raise SignInRefused("Slack did not say which workspace you belong to.")
    if settings.slack_team_id and team_id != settings.slack_team_id:
        log.warning("sign-in refused: %s is in workspace %s, not ours", user_id, team_id)
        raise SignInRefused("Only members of this organisation's Slack workspace may sign in.")
    name = user.get("name")
    return user_id, team_id, name if isinstance(name, str) and name.strip() else user_id


def _cookie(web: Web, response: Response, name: str, value: str, max_age: int, path: str) -> None:
    assert web.sessions is not None
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=path,
        httponly=True,
        samesite="lax",
        secure=web.sessions.secure,
    )


def _drop(web: Web, response: Response, name: str, path: str) -> None:
    response.delete_cookie(
        name,
        path=path,
        httponly=True,
        samesite="lax",
        secure=web.sessions.secure if web.sessions else False,
    )


async def signin(request: Request) -> Response:
    web: Web = request.app.state.web
    if web.sessions is None:
        return not_configured()
    settings = web.runtime.settings
    pending, cookie = web.sessions.new_signin(safe_next(request.query_params.get("next")))
    params = {
        "response_type": "code",
        "scope": SCOPES,
        "client_id": settings.slack_client_id or "",
        "state": pending.state,
        "nonce": pending.nonce,
        "redirect_uri": web.base_url + CALLBACK,
    }
    if settings.slack_team_id:
        params["team"] = settings.slack_team_id
    hint = request.query_params.get("login_hint")
    if hint and SLACK_USER_ID.match(hint):
        params["login_hint"] = hint
    response = RedirectResponse(
        f"{settings.slack_openid_authorize_url}?{urlencode(params)}", status_code=302
    )
    response.headers["Cache-Control"] = "no-store"
    _cookie(web, response, SIGNIN_COOKIE, cookie, SIGNIN_SECONDS, "/signin")
    return response


async def callback(request: Request) -> Response:
    web: Web = request.app.state.web
    if web.sessions is None:
        return not_configured()
    again = "/signin"
    error = request.query_params.get("error")
    if error:
        return message(
            400, "Not signed in", f"Slack did not sign you in ({error[:100]}).", back=again
        )
    pending = web.sessions.read_signin(request.cookies.get(SIGNIN_COOKIE))
    state = request.query_params.get("state")
    code = request.query_params.get("code")
    if pending is None or not same(state, pending.state):
        log.info("sign-in callback with a missing, expired or foreign state; refused")
        return message(
            400,
            "Not signed in",
            "This sign-in expired or did not start here. Start again.",
            back=again,
        )
    if not code:
        return message(400, "Not signed in", "Slack sent no authorization code.", back=again)
    try:
        user_id, team_id, name = await run_in_threadpool(identify, web, code, pending)
    except SignInRefused as exc:
        refused = message(403, "Not signed in", str(exc), back=again)
        _drop(web, refused, SIGNIN_COOKIE, "/signin")
        return refused
    _, session = web.sessions.new_session(user_id, team_id, name)
    log.info("signed in: %s (team %s)", user_id, team_id)
    response = RedirectResponse(pending.next, status_code=303)
    response.headers["Cache-Control"] = "no-store"
    _cookie(web, response, SESSION_COOKIE, session, web.sessions.max_age, "/")
    _drop(web, response, SIGNIN_COOKIE, "/signin")
    return response


async def signout(request: Request) -> Response:
    web: Web = request.app.state.web
    form = await read_form(request)
    who = web.signed_in(request)
    if who is not None and (form is None or not web.genuine_post(request, who, form)):
        return message(403, "Not signed out", "This form did not come from this page.", back="/")
    response = RedirectResponse("/signed-out", status_code=303)
    _drop(web, response, SESSION_COOKIE, "/")
    if who is not None:
        log.info("signed out: %s", who.user_id)
    return response


async def signed_out(request: Request) -> Response:
    return message(200, "Signed out", "You are signed out of pilotgate.", back="/signin")
