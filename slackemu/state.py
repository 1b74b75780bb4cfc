"""The emulator's shared state: configuration, records, the lock, the workspace directory.

Every part of the emulator (the Web API method families, the simulated users,
the interaction sender, the control API) is a mixin over :class:`EmulatorState`,
so they all read and write one set of records under one lock, as one Slack
workspace would.  The few lock-held primitives several families need (call
recording, timestamps, channel resolution, message lookup) live here too.
"""

from __future__ import annotations

import copy
import hashlib
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from ._server import EmulatorHTTPServer
from .errors import ApiError, EmulatorError
from .records import CallRecord, InteractionRecord, MessageRecord, ViewRecord
from .wire import CHANNEL_ID, USER_ID, Params

__all__ = [
    "EmulatorState",
    "Fault",
    "OpenIdGrant",
    "Refusal",
    "ResponseUrl",
    "SlackNo",
    "Trigger",
]


@dataclass
class Trigger:
    """A trigger_id handed to a simulated user; ``views.open`` may use it once, briefly."""

    user_id: str
    issued: float  # time.monotonic()
    used: bool = False


@dataclass
class Fault:
    """A pending injected failure (see ``FaultInjection.fail`` / ``outage``)."""

    status: int
    remaining: int | None  # None: until recover()
    retry_after: int | None
    methods: frozenset[str] | None
    #: answer with an HTML page (as Slack's edge does in an outage), not JSON.
    html: bool = False
    #: only calls naming this channel (a rate limit is per method and channel).
    channel: str | None = None

    def matches(self, method: str, params: Params | None = None) -> bool:
        if self.channel is not None and (params or {}).get("channel") != self.channel:
            return False
        if self.methods is None:
            return method != "response_url"
        return method in self.methods


@dataclass
class Refusal:
    """A scheduled documented refusal: HTTP 200 ``{"ok": false, "error": error, **extra}``."""

    error: str
    remaining: int | None  # None: until recover()
    methods: frozenset[str] | None
    channel: str | None
    extra: dict[str, Any]

    def matches(self, method: str, params: Params) -> bool:
        if self.methods is not None and method not in self.methods:
            return False
        return self.channel is None or params.get("channel") == self.channel


@dataclass
class SlackNo:
    """The workspace and installation settings that make Slack say no (see ``faults``)."""

    #: tokens Slack no longer accepts, and the error it gives for each.
    dead_tokens: dict[str, str] = field(default_factory=dict)
    #: the bot token's scopes; None: every scope pilotgate could need.
    scopes: set[str] | None = None
    #: channels the bot is not a member of.
    outside: set[str] = field(default_factory=set)
    messages_tab: bool = True
    refusals: list[Refusal] = field(default_factory=list)
    #: (warning, methods or None) added to accepted answers.
    warnings: list[tuple[str, frozenset[str] | None]] = field(default_factory=list)
    #: per-method tiers enforced (see ``faults.RATE_TIERS``); off by default.
    rate_limits: bool = False
    #: method or (method, channel) -> monotonic times of accepted calls in the window.
    recent: dict[Any, list[float]] = field(default_factory=dict)
    #: Enterprise Grid: the org the workspace belongs to (payload shapes carry it).
    enterprise_id: str | None = None


@dataclass
class OpenIdGrant:
    """An authorization code handed out by ``/openid/connect/authorize``: whom it signs in, for
    which client and redirect URI, and the nonce its id_token must carry. Used once."""

    user_id: str
    client_id: str
    redirect_uri: str
    nonce: str | None
    issued: float  # time.monotonic()


@dataclass
class ResponseUrl:
    """The message and user a response_url handed out in a click payload is bound to."""

    channel: str
    ts: str
    ephemeral: bool
    user_id: str


class EmulatorState:
    """Configuration and recorded state of one emulated workspace (see ``SlackEmulator``)."""

    def __init__(
        self,
        bot_token: str = "xoxb-test-token",
        signing_secret: str = "emu-signing-secret",
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        listener_url: str | None = None,
        trigger_ttl: float = 3.0,
        team_id: str = "T0EMU0001",
        team_domain: str = "pilotgate-emu",
        team_name: str = "pilotgate emulated",
        bot_user_id: str = "U0EMUBOT1",
        bot_id: str = "B0EMUBOT1",
        bot_name: str = "pilotgate",
        app_id: str = "A0EMUAPP1",
        verification_token: str = "emu-verification-token",
        http_timeout: float = 10.0,
        verbose: bool = False,
        client_id: str = "emu-client-id",
        client_secret: str = "emu-client-secret",
        signin_user: str | None = None,
    ) -> None:
        self.bot_token = bot_token
        self.signing_secret = signing_secret
        self.host = host
        self.port = port
        self.listener_url = listener_url
        self.trigger_ttl = trigger_ttl
        self.team_id = team_id
        self.team_domain = team_domain
        self.team_name = team_name
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.bot_name = bot_name
        self.app_id = app_id
        self.verification_token = verification_token
        self.http_timeout = http_timeout
        self.verbose = verbose
        #: the Slack app's OAuth credentials (Sign in with Slack, openid.connect.token).
        self.client_id = client_id
        self.client_secret = client_secret

        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._messages: list[MessageRecord] = []
        self._calls: list[CallRecord] = []
        self._views: dict[str, ViewRecord] = {}
        self._interactions: list[InteractionRecord] = []
        self._triggers: dict[str, Trigger] = {}
        self._faults: list[Fault] = []
        self._no = SlackNo()
        self._dm_channels: dict[str, str] = {}
        self._channel_names: dict[str, str] = {}
        self._user_names: dict[str, str] = {}
        self._disabled_users: set[str] = set()
        self._response_urls: dict[str, ResponseUrl] = {}
        self._real_names: dict[str, str] = {}
        self._display_names: dict[str, str] = {}
        self._user_emails: dict[str, str] = {}
        #: whom ``/openid/connect/authorize`` signs in when the request names nobody.
        self._signin_user: str | None = signin_user
        self._openid_codes: dict[str, OpenIdGrant] = {}
        self._user_tokens: dict[str, str] = {}  # xoxp- token -> user id
        self._last_ts_us = 0
        self._server: EmulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._http: httpx.Client | None = None  # shared, for deliveries to listeners

    @property
    def base_url(self) -> str:
        """``http://host:port`` (no trailing slash)."""
        if self._server is None:
            raise EmulatorError("emulator is not started")
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        """Base URL for ``slack_sdk.WebClient(base_url=...)``; ends with ``/api/``."""
        return f"{self.base_url}/api/"

    # ------------------------------------------------------------------ directory

    def add_channel(self, channel_id: str, name: str) -> None:
        """Register a channel so it can be addressed as ``#name`` and gets that name in payloads."""
        with self._lock:
            self._channel_names[channel_id] = name

    def add_user(
        self,
        user_id: str,
        name: str,
        *,
        real_name: str | None = None,
        email: str | None = None,
        display_name: str | None = None,
    ) -> None:
        """Set the user name that appears in interaction payloads (default: lower-cased id) and,
        for Sign in with Slack and ``users.info``, the person's full name, email and display
        name (Slack's is empty until the person sets one)."""
        with self._lock:
            self._user_names[user_id] = name
            if display_name is not None:
                self._display_names[user_id] = display_name
            if real_name is not None:
                self._real_names[user_id] = real_name
            if email is not None:
                self._user_emails[user_id] = email

    def deactivate_user(self, user_id: str) -> None:
        """Make ``user_id`` a deactivated account: ``conversations.open`` with them answers
        ``user_disabled``, as Slack does (``account_inactive`` is about the token's own
        account: see ``revoke_token``)."""
        with self._lock:
            self._disabled_users.add(user_id)

    def dm_channel_for(self, user_id: str) -> str:
        """The stable DM channel id ``D...`` for a user (same as ``conversations.open``)."""
        with self._lock:
            channel = self._dm_channels.get(user_id)
            if channel is None:
                digest = hashlib.sha1(f"{self.team_id}:{user_id}".encode()).hexdigest()
                channel = "D" + digest[:10].upper()
                self._dm_channels[user_id] = channel
            return channel

    def reset(self) -> None:
        """Forget messages, calls, views, interactions, triggers, faults and sign-in codes and
        tokens."""
        with self._lock:
            self._openid_codes.clear()
            self._user_tokens.clear()
            self._messages.clear()
            self._calls.clear()
            self._views.clear()
            self._interactions.clear()
            self._triggers.clear()
            self._faults.clear()
            self._no.refusals.clear()
            self._no.recent.clear()
            self._response_urls.clear()
            self._changed.notify_all()

    # ------------------------------------------------------------------ internals (lock held)

    def _record_call(
        self, method: str, params: Params, status: int, ok: bool, error: str | None
    ) -> None:
        self._calls.append(
            CallRecord(method, copy.deepcopy(params), status, ok, error, time.time())
        )
        if self.verbose:
            outcome = "ok" if ok else error
            print(f"slackemu: {method} -> {status} {outcome}", file=sys.stderr, flush=True)
        self._changed.notify_all()

    def _next_ts(self) -> str:
        now_us = time.time_ns() // 1000
        self._last_ts_us = max(now_us, self._last_ts_us + 1)
        return f"{self._last_ts_us // 1_000_000}.{self._last_ts_us % 1_000_000:06d}"

    def _resolve_channel(self, channel: Any) -> str:
        if not isinstance(channel, str) or not channel:
            raise ApiError("channel_not_found")
        if USER_ID.match(channel):
            return self.dm_channel_for(channel)
        if channel.startswith("#"):
            for cid, name in self._channel_names.items():
                if name == channel[1:]:
                    return cid
            raise ApiError("channel_not_found")
        if CHANNEL_ID.match(channel):
            return channel
        if channel in self._dm_channels.values():
            return channel
        raise ApiError("channel_not_found")

    def _lookup_message(self, channel: str, ts: Any) -> MessageRecord | None:
        for record in self._messages:
            if record.channel == channel and record.ts == ts and not record.deleted:
                return record
        return None

    def _user_obj(self, user_id: str) -> dict[str, Any]:
        name = self._user_names.get(user_id, user_id.lower())
        return {"id": user_id, "username": name, "name": name, "team_id": self.team_id}

    def _team_obj(self) -> dict[str, Any]:
        """An interaction payload's ``team``; in an Enterprise Grid org it carries
        ``enterprise_id`` (and users have ``W...`` ids)."""
        team: dict[str, Any] = {"id": self.team_id, "domain": self.team_domain}
        if self._no.enterprise_id is not None:
            team["enterprise_id"] = self._no.enterprise_id
            team["enterprise_name"] = f"{self.team_name} org"
        return team

    def _enterprise_obj(self) -> dict[str, Any] | None:
        if self._no.enterprise_id is None:
            return None
        return {"id": self._no.enterprise_id, "name": f"{self.team_name} org"}

    def _channel_name(self, channel: str) -> str:
        if channel in self._dm_channels.values():
            return "directmessage"
        return self._channel_names.get(channel, channel.lower())
