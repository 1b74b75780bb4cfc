"""Sign in with Slack (OpenID Connect): the browser's ``/openid/connect/authorize`` and the Web
API methods ``openid.connect.token`` and ``openid.connect.userInfo``.

Nobody types a password into an emulator, so ``authorize`` signs in at once: the user named by
the ``login_hint`` query parameter, else the emulator's default sign-in user
(:meth:`OpenIdApi.sign_in_as`, or ``signin_user=`` when it is built), and redirects the
browser to ``redirect_uri`` with a single-use ``code`` and the app's ``state``, as Slack does
after the person clicks "Allow". The app then exchanges the code with its client id and
secret (HTTP Basic, as slack_sdk sends them, or form fields) for a user token (``xoxp-``) and
an ``id_token`` (a JWT whose claims follow Slack's; the emulator signs it HS256 with the
client secret, where Slack signs RS256), and reads ``openid.connect.userInfo`` with that
token. Errors are Slack's: ``invalid_client_id``, ``bad_client_secret``, ``invalid_code``,
``bad_redirect_uri``, ``invalid_grant_type``; a denied sign-in (a deactivated user, another
workspace asked for) redirects with ``error=access_denied``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from .errors import ApiError
from .state import EmulatorState, OpenIdGrant
from .wire import USER_ID, Params, Reply

__all__ = ["CODE_TTL", "OpenIdApi"]

#: seconds an authorization code stays valid (Slack: ten minutes).
CODE_TTL = 600.0
USER_CLAIM = "https://slack.com/user_id"
TEAM_CLAIM = "https://slack.com/team_id"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _jwt(claims: dict[str, Any], key: str) -> str:
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "slackemu"}).encode())
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(key.encode(), f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{_b64(signature)}"


def _redirect(uri: str, **params: str) -> Reply:
    joiner = "&" if urlsplit(uri).query else "?"
    return 302, {"Location": f"{uri}{joiner}{urlencode(params)}"}, {"ok": True}


class OpenIdApi(EmulatorState):
    """Sign in with Slack (handlers called with the lock held; raise ApiError for API errors)."""

    @property
    def openid_authorize_url(self) -> str:
        """The value for the app's ``SLACK_OPENID_AUTHORIZE_URL``."""
        return f"{self.base_url}/openid/connect/authorize"

    def sign_in_as(self, user_id: str | None) -> None:
        """Whom ``authorize`` signs in when the request has no ``login_hint`` (None: nobody,
        and such a request is refused)."""
        if user_id is not None and not USER_ID.match(user_id):
            raise ValueError(f"{user_id!r} is not a Slack user id")
        with self._lock:
            self._signin_user = user_id

    # ------------------------------------------------------------------ the browser's part

    def handle_authorize(self, query: str) -> Reply:
        """``GET /openid/connect/authorize``: sign in at once and redirect with a code."""
        params: Params = dict(parse_qsl(query, keep_blank_values=True))
        with self._lock:
            reply = self._authorize(params)
            recorded = {k: v for k, v in params.items() if k not in ("state", "nonce")}
            error = reply[2].get("error") if reply[0] != 302 else None
            self._record_call("openid.connect.authorize", recorded, reply[0], error is None, error)
            return reply

    def _authorize(self, params: Params) -> Reply:
        if params.get("client_id") != self.client_id:
            return 400, {}, {"ok": False, "error": "invalid_client_id"}
        redirect_uri = params.get("redirect_uri") or ""
        if urlsplit(redirect_uri).scheme not in ("http", "https"):
            return 400, {}, {"ok": False, "error": "bad_redirect_uri"}
        state = str(params.get("state") or "")
        if params.get("response_type") != "code":
            return _redirect(redirect_uri, error="unsupported_response_type", state=state)
        if "openid" not in str(params.get("scope") or "").split():
            return _redirect(redirect_uri, error="invalid_scope", state=state)
        hint = params.get("login_hint")
        user_id = hint if isinstance(hint, str) and USER_ID.match(hint) else self._signin_user
        if user_id is None:
            return 400, {}, {"ok": False, "error": "no_user_to_sign_in"}
        team = params.get("team")
        if user_id in self._disabled_users or (team and team != self.team_id):
            return _redirect(redirect_uri, error="access_denied", state=state)
        code = f"{secrets.randbelow(10**12)}.{secrets.randbelow(10**12)}.{secrets.token_hex(16)}"
        nonce = params.get("nonce")
        self._openid_codes[code] = OpenIdGrant(
            user_id,
            self.client_id,
            redirect_uri,
            nonce if isinstance(nonce, str) and nonce else None,
            time.monotonic(),
        )
        return _redirect(redirect_uri, code=code, state=state)

    # ------------------------------------------------------------------ Web API methods

    def _openid_connect_token(self, params: Params) -> dict[str, Any]:
        basic = params.pop("_basic", None)
        secret = params.pop("client_secret", None)
        client_id = params.get("client_id")
        if isinstance(basic, tuple):
            client_id, secret = basic
        if client_id != self.client_id:
            raise ApiError("invalid_client_id")
        if not isinstance(secret, str) or not hmac.compare_digest(
            secret.encode(), self.client_secret.encode()
        ):
            raise ApiError("bad_client_secret")
        if params.get("grant_type", "authorization_code") != "authorization_code":
            raise ApiError("invalid_grant_type")
        code = params.get("code")
        grant = self._openid_codes.get(code) if isinstance(code, str) else None
        if grant is None or time.monotonic() - grant.issued > CODE_TTL:
            raise ApiError("invalid_code")
        if params.get("redirect_uri") != grant.redirect_uri:
            raise ApiError("bad_redirect_uri")
        del self._openid_codes[str(code)]  # single use
        token = f"xoxp-{secrets.randbelow(10**12)}-{secrets.token_hex(12)}"
        self._user_tokens[token] = grant.user_id
        now = int(time.time())
        claims = {
            "iss": "https://slack.com",
            "sub": grant.user_id,
            "aud": grant.client_id,
            "exp": now + 3600,
            "iat": now,
            "auth_time": now,
            **({"nonce": grant.nonce} if grant.nonce else {}),
            **self._identity(grant.user_id),
        }
        return {
            "access_token": token,
            "token_type": "Bearer",
            "id_token": _jwt(claims, self.client_secret),
        }

    def _openid_connect_user_info(self, params: Params) -> dict[str, Any]:
        user_id = params.pop("_user_id")
        return {"sub": user_id, **self._identity(user_id)}

    def _identity(self, user_id: str) -> dict[str, Any]:
        """The claims Slack gives about a signed-in person (id token and userInfo alike)."""
        username = self._user_names.get(user_id, user_id.lower())
        name = self._real_names.get(user_id, username)
        given, _, family = name.partition(" ")
        return {
            USER_CLAIM: user_id,
            TEAM_CLAIM: self.team_id,
            "email": self._user_emails.get(user_id, f"{username}@{self.team_domain}.example"),
            "email_verified": True,
            "date_email_verified": 1700000000,
            "name": name,
            "given_name": given,
            "family_name": family,
            "locale": "en-US",
            "https://slack.com/team_name": self.team_name,
            "https://slack.com/team_domain": self.team_domain,
        }
