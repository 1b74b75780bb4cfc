"""The signed-in session and the sign-in's anti-forgery state, as itsdangerous-signed cookies.

Nothing is stored on the server: a cookie holds who signed in (Slack user id, team, name) and
the CSRF token of their forms, signed with a timestamp; a cookie that was altered, signed with
another key or is older than the session's lifetime is no session at all.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from itsdangerous import BadData, URLSafeTimedSerializer

from config.settings import Settings

SESSION_COOKIE = "pilotgate_session"
SIGNIN_COOKIE = "pilotgate_signin"
#: how long a sign-in may take between /signin and the callback.
SIGNIN_SECONDS = 600
HKDF_SALT = b"pilotgate-web-session"
HKDF_INFO = b"pilotgate web session cookie v1"


def hkdf_sha256(key: bytes, *, salt: bytes, info: bytes, length: int = 32) -> bytes:
    """HKDF (RFC 5869) with SHA-256: extract, then expand to `length` bytes."""
    prk = hmac.new(salt, key, hashlib.sha256).digest()
    okm, block, counter = b"", b"", 1
    while len(okm) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        okm += block
        counter += 1
    return okm[:length]


def session_key(settings: Settings) -> bytes | None:
    """PILOTGATE_SESSION_SECRET, else a key derived from SLACK_SIGNING_SECRET, else None."""
    if settings.session_secret is not None and settings.session_secret.get_secret_value():
        return settings.session_secret.get_secret_value().encode()
    if settings.slack_signing_secret is not None:
        signing = settings.slack_signing_secret.get_secret_value().encode()
        if signing:
            return hkdf_sha256(signing, salt=HKDF_SALT, info=HKDF_INFO)
    return None


@dataclass(frozen=True)
class SignedIn:
    user_id: str
    team_id: str
    name: str
    csrf: str

    def dump(self) -> dict[str, str]:
        return {"u": self.user_id, "t": self.team_id, "n": self.name, "c": self.csrf}

    @classmethod
    def load(cls, data: Any) -> SignedIn | None:
        if not isinstance(data, dict):
            return None
        user, team, name, csrf = (data.get(k) for k in ("u", "t", "n", "c"))
        if not (
            isinstance(user, str)
            and isinstance(team, str)
            and isinstance(name, str)
            and isinstance(csrf, str)
        ):
            return None
        if not user or not csrf:
            return None
        return cls(user, team, name, csrf)


@dataclass(frozen=True)
class Pending:
    """A sign-in under way: what the callback must see again, and where to go after."""

    state: str
    nonce: str
    next: str


def safe_next(value: str | None) -> str:
    """A local path to return to after signing in (anything else: the portfolio)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    return value


class Sessions:
    """Makes and reads the two cookies with one key (two salts: one never passes as the other)."""

    def __init__(self, key: bytes, *, max_age: float, secure: bool) -> None:
        self._session = URLSafeTimedSerializer(key, salt="pilotgate.web.session")
        self._signin = URLSafeTimedSerializer(key, salt="pilotgate.web.signin")
        self.max_age = int(max_age)
        self.secure = secure

    def new_session(self, user_id: str, team_id: str, name: str) -> tuple[SignedIn, str]:
        who = SignedIn(user_id, team_id, name, secrets.token_urlsafe(32))
        return who, self._session.dumps(who.dump())

    def read_session(self, cookie: str | None) -> SignedIn | None:
        if not cookie:
            return None
        try:
            data = self._session.loads(cookie, max_age=self.max_age)
        except BadData:
            return None
        return SignedIn.load(data)

    def new_signin(self, next_path: str) -> tuple[Pending, str]:
        pending = Pending(secrets.token_urlsafe(32), secrets.token_urlsafe(16), next_path)
        value = self._signin.dumps({"s": pending.state, "n": pending.nonce, "x": pending.next})
        return pending, value

    def read_signin(self, cookie: str | None) -> Pending | None:
        if not cookie:
            return None
        try:
            data = self._signin.loads(cookie, max_age=SIGNIN_SECONDS)
        except BadData:
            return None
        if not isinstance(data, dict):
            return None
        state, nonce, nxt = data.get("s"), data.get("n"), data.get("x")
        if not (isinstance(state, str) and isinstance(nonce, str) and isinstance(nxt, str)):
            return None
        return Pending(state, nonce, safe_next(nxt))


def same(a: str | None, b: str | None) -> bool:
    """Constant-time equality of two tokens; a missing one is never equal."""
    if not a or not b:
        return False
    return hmac.compare_digest(a.encode(), b.encode())
