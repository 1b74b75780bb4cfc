"""The Slack emulator: Web API state machine, fault injection and simulated users.

pilotgate talks to Slack through the real ``slack_sdk.WebClient`` and receives
button clicks through a real slack-bolt listener.  No real Slack is reachable
in development or CI, so this module plays Slack on loopback: it answers the
Web API methods pilotgate uses in Slack's wire format (HTTP 200 +
``{"ok": false, "error": ...}`` for API errors, 429 + ``Retry-After`` for rate
limits), records everything for assertions, and can act as a human clicking a
button or submitting a modal by sending signed interaction payloads to the
app's listener.  The production code only notices the different base URL.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import re
import secrets
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode

import httpx

from .blocks import MAX_VIEW_BLOCKS, BlocksInvalid, validate_blocks
from .records import CallRecord, InteractionRecord, MessageRecord, MessageVersion, ViewRecord
from .signing import sign

__all__ = [
    "ClientValidationError",
    "EmulatorError",
    "NotFoundError",
    "SlackEmulator",
]

T = TypeVar("T")
Params = dict[str, Any]
Headers = dict[str, str]
# (HTTP status, extra response headers, JSON body)
Reply = tuple[int, Headers, dict[str, Any]]

_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,}$")
_MAX_TEXT = 40_000
_VIEW_KEYS = {
    "type",
    "title",
    "blocks",
    "close",
    "submit",
    "private_metadata",
    "callback_id",
    "clear_on_close",
    "notify_on_close",
    "external_id",
    "submit_disabled",
}
_FAULT_ERRORS = {429: "ratelimited", 500: "internal_error", 503: "service_unavailable"}
_SLACKBOT_UA = "Slackbot 1.0 (+https://api.slack.com/robots)"


class EmulatorError(Exception):
    """Base class for errors raised by the emulator's Python API (not Slack API errors)."""


class NotFoundError(EmulatorError, LookupError):
    """The message, button, view or input a simulated user acts on does not exist."""


class ClientValidationError(EmulatorError, ValueError):
    """Slack's client would refuse this action (e.g. a required modal input left empty)."""


class _ApiError(Exception):
    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


@dataclass
class _Trigger:
    user_id: str
    issued: float  # time.monotonic()
    used: bool = False


@dataclass
class _Fault:
    status: int
    remaining: int | None  # None: until recover()
    retry_after: int | None
    methods: frozenset[str] | None

    def matches(self, method: str) -> bool:
        if self.methods is None:
            return method != "response_url"
        return method in self.methods


@dataclass
class _ResponseUrl:
    channel: str
    ts: str
    ephemeral: bool
    user_id: str


class SlackEmulator:
    """A Slack Web API emulator served over HTTP on loopback.

    Use as a context manager, or call :meth:`start` / :meth:`stop`.  Point the
    code under test at :attr:`api_url` (``WebClient(base_url=emu.api_url)``).
    """

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

        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._messages: list[MessageRecord] = []
        self._calls: list[CallRecord] = []
        self._views: dict[str, ViewRecord] = {}
        self._interactions: list[InteractionRecord] = []
        self._triggers: dict[str, _Trigger] = {}
        self._faults: list[_Fault] = []
        self._dm_channels: dict[str, str] = {}
        self._channel_names: dict[str, str] = {}
        self._user_names: dict[str, str] = {}
        self._disabled_users: set[str] = set()
        self._response_urls: dict[str, _ResponseUrl] = {}
        self._last_ts_us = 0
        self._server: Any = None  # _server.EmulatorHTTPServer, imported lazily
        self._thread: threading.Thread | None = None
        self._http: httpx.Client | None = None  # shared, for deliveries to listeners
        self._methods: dict[str, Callable[[Params], dict[str, Any]]] = {
            "api.test": self._api_test,
            "auth.test": self._auth_test,
            "conversations.open": self._conversations_open,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "views.open": self._views_open,
            "views.update": self._views_update,
        }

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> SlackEmulator:
        """Bind the port and serve in a daemon thread. Returns self."""
        from ._server import EmulatorHTTPServer

        if self._server is not None:
            return self
        server = EmulatorHTTPServer((self.host, self.port), self)
        self._server = server
        self.port = int(server.server_address[1])
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"slackemu:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        with self._lock:
            http, self._http = self._http, None
        if http is not None:
            http.close()

    def __enter__(self) -> SlackEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

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

    def add_user(self, user_id: str, name: str) -> None:
        """Set the user name that appears in interaction payloads (default: lower-cased id)."""
        with self._lock:
            self._user_names[user_id] = name

    def deactivate_user(self, user_id: str) -> None:
        """Make ``user_id`` a deactivated account: ``conversations.open`` with them answers
        ``user_disabled`` (and posting to them ``account_inactive``), as Slack does."""
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

    # ------------------------------------------------------------------ recordings

    @property
    def messages(self) -> list[MessageRecord]:
        """Every message posted (ordinary and ephemeral), oldest first; copies."""
        with self._lock:
            return copy.deepcopy(self._messages)

    @property
    def calls(self) -> list[CallRecord]:
        """Every Web API call received, including faulted ones; copies."""
        with self._lock:
            return copy.deepcopy(self._calls)

    @property
    def views(self) -> list[ViewRecord]:
        """Every modal opened, oldest first; copies."""
        with self._lock:
            return copy.deepcopy(list(self._views.values()))

    @property
    def interactions(self) -> list[InteractionRecord]:
        """Every payload delivered to a listener (clicks, submissions, raw); copies."""
        with self._lock:
            return copy.deepcopy(self._interactions)

    def calls_to(self, method: str) -> list[CallRecord]:
        with self._lock:
            return copy.deepcopy([c for c in self._calls if c.method == method])

    def messages_in(self, channel: str, *, include_ephemeral: bool = False) -> list[MessageRecord]:
        """Messages in a channel (a ``U...`` id means that user's DM), oldest first."""
        with self._lock:
            if _USER_ID.match(channel):
                channel = self.dm_channel_for(channel)
            return copy.deepcopy(
                [
                    m
                    for m in self._messages
                    if m.channel == channel
                    and not m.deleted
                    and (include_ephemeral or not m.ephemeral)
                ]
            )

    def find_message(self, channel: str, ts: str) -> MessageRecord | None:
        with self._lock:
            record = self._lookup_message(channel, ts)
            return copy.deepcopy(record)

    def ephemerals_for(self, user_id: str) -> list[MessageRecord]:
        with self._lock:
            return copy.deepcopy(
                [m for m in self._messages if m.ephemeral and m.user == user_id and not m.deleted]
            )

    def get_view(self, view_id: str) -> ViewRecord | None:
        with self._lock:
            return copy.deepcopy(self._views.get(view_id))

    def latest_view_for(self, user_id: str) -> ViewRecord | None:
        """The most recently opened modal of a user (open or closed), or None."""
        with self._lock:
            mine = [v for v in self._views.values() if v.user_id == user_id]
            return copy.deepcopy(mine[-1]) if mine else None

    def wait_until(self, condition: Callable[[SlackEmulator], T | None], timeout: float = 5.0) -> T:
        """Block until ``condition(emu)`` returns something truthy; return it.

        For production code that posts from a background thread.  Raises
        ``TimeoutError`` after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                result = condition(self)
                if result:
                    return result
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"condition not met within {timeout}s")
                self._changed.wait(min(remaining, 0.1))

    def reset(self) -> None:
        """Forget messages, calls, views, interactions, triggers and faults."""
        with self._lock:
            self._messages.clear()
            self._calls.clear()
            self._views.clear()
            self._interactions.clear()
            self._triggers.clear()
            self._faults.clear()
            self._response_urls.clear()
            self._changed.notify_all()

    # ------------------------------------------------------------------ faults

    def fail(
        self,
        status: int = 429,
        count: int = 1,
        retry_after: int | None = 1,
        methods: Iterable[str] | None = None,
    ) -> None:
        """Answer the next ``count`` matching Web API calls with HTTP ``status``.

        429 carries ``Retry-After: retry_after`` and ``{"ok": false, "error":
        "ratelimited"}``; 5xx carry a JSON error body.  ``methods`` limits the
        fault to those API methods (default: all).  Faulted calls change nothing.
        """
        if status < 400:
            raise ValueError("status must be an HTTP error status (>= 400)")
        if count < 1:
            raise ValueError("count must be >= 1")
        with self._lock:
            self._faults.append(_Fault(status, count, retry_after, _methods(methods)))

    def outage(
        self,
        status: int = 503,
        methods: Iterable[str] | None = None,
        retry_after: int | None = None,
    ) -> None:
        """Answer every matching Web API call with HTTP ``status`` until :meth:`recover`."""
        if status < 400:
            raise ValueError("status must be an HTTP error status (>= 400)")
        with self._lock:
            self._faults.append(_Fault(status, None, retry_after, _methods(methods)))

    def recover(self) -> None:
        """Clear all pending faults and outages."""
        with self._lock:
            self._faults.clear()

    # ------------------------------------------------------------------ simulated users

    def issue_trigger_id(self, user_id: str) -> str:
        """A fresh trigger_id for ``user_id``, valid in ``views.open`` for ``trigger_ttl`` s."""
        trigger_id = (
            f"{secrets.randbelow(10**13)}.{secrets.randbelow(10**13)}.{secrets.token_hex(16)}"
        )
        with self._lock:
            self._triggers[trigger_id] = _Trigger(user_id, time.monotonic())
        return trigger_id

    def click(
        self,
        listener_url: str | None,
        user_id: str,
        channel: str,
        ts: str,
        action_id: str,
        *,
        value: str | None = None,
        timestamp: int | str | None = None,
        secret: str | None = None,
    ) -> httpx.Response:
        """Click the button ``action_id`` in message ``(channel, ts)`` as ``user_id``.

        Sends a signed ``block_actions`` payload built from the stored (latest)
        message to ``listener_url`` (None: the emulator's default).  ``value``
        overrides the button's value; ``timestamp``/``secret`` override signing
        (stale or forged requests).  Raises :class:`NotFoundError` if the
        message or button does not exist.
        """
        url = self._listener(listener_url)
        payload = self.build_block_actions(user_id, channel, ts, action_id, value=value)
        return self._deliver("block_actions", url, payload, timestamp, secret)

    def build_block_actions(
        self, user_id: str, channel: str, ts: str, action_id: str, *, value: str | None = None
    ) -> dict[str, Any]:
        """The ``block_actions`` payload :meth:`click` would send (issues a trigger_id)."""
        with self._lock:
            if _USER_ID.match(channel):
                channel = self.dm_channel_for(channel)
            record = self._lookup_message(channel, ts)
            if record is None:
                known = [m.ts for m in self._messages if m.channel == channel and not m.deleted]
                raise NotFoundError(
                    f"no message ts={ts} in channel {channel} (messages there: {known})"
                )
            button, block_id = _find_button(record.blocks or [], action_id)
            trigger_id = self.issue_trigger_id(user_id)
            response_url = self._issue_response_url(record, user_id)
            action: dict[str, Any] = {
                "action_id": action_id,
                "block_id": block_id,
                "text": copy.deepcopy(button.get("text")),
                "type": "button",
                "action_ts": _now_ts(),
            }
            if value is not None:
                action["value"] = value
            elif "value" in button:
                action["value"] = button["value"]
            if "style" in button:
                action["style"] = button["style"]
            container: dict[str, Any] = {
                "type": "message",
                "message_ts": record.ts,
                "channel_id": record.channel,
                "is_ephemeral": record.ephemeral,
            }
            if record.thread_ts:
                container["thread_ts"] = record.thread_ts
            payload: dict[str, Any] = {
                "type": "block_actions",
                "user": self._user_obj(user_id),
                "api_app_id": self.app_id,
                "token": self.verification_token,
                "container": container,
                "trigger_id": trigger_id,
                "team": {"id": self.team_id, "domain": self.team_domain},
                "enterprise": None,
                "is_enterprise_install": False,
                "channel": {"id": record.channel, "name": self._channel_name(record.channel)},
                "state": {"values": {}},
                "response_url": response_url,
                "actions": [action],
            }
            if not record.ephemeral:  # Slack omits the message for ephemeral sources
                payload["message"] = self._message_obj(record)
            return payload

    def submit_view(
        self,
        listener_url: str | None,
        user_id: str,
        view_id: str | None,
        values: Mapping[str, str | None],
        *,
        timestamp: int | str | None = None,
        secret: str | None = None,
    ) -> httpx.Response:
        """Submit modal ``view_id`` (None: the user's latest) as ``user_id``.

        ``values`` maps an input element's ``action_id`` to what the user typed
        (or the chosen option's value for selects/radios).  Block and action ids
        come from the stored view.  The view is closed, updated or kept open
        according to the listener's ``response_action``, as Slack would.
        """
        url = self._listener(listener_url)
        payload = self.build_view_submission(user_id, view_id, values)
        response = self._deliver("view_submission", url, payload, timestamp, secret)
        self._apply_submission_response(payload, response)
        return response

    def build_view_submission(
        self, user_id: str, view_id: str | None, values: Mapping[str, str | None]
    ) -> dict[str, Any]:
        """The ``view_submission`` payload :meth:`submit_view` would send."""
        with self._lock:
            if view_id is None:
                mine = [v for v in self._views.values() if v.user_id == user_id]
                if not mine:
                    raise NotFoundError(f"user {user_id} has no open view")
                record = mine[-1]
            else:
                found = self._views.get(view_id)
                if found is None:
                    raise NotFoundError(f"no view {view_id} (views: {list(self._views)})")
                record = found
            if record.user_id != user_id:
                raise NotFoundError(f"view {record.id} belongs to {record.user_id}, not {user_id}")
            if record.status != "open":
                raise NotFoundError(f"view {record.id} is {record.status}")
            view = copy.deepcopy(record.view)
            view["state"] = {"values": _build_state(view.get("blocks") or [], values)}
            return {
                "type": "view_submission",
                "team": {"id": self.team_id, "domain": self.team_domain},
                "user": self._user_obj(user_id),
                "api_app_id": self.app_id,
                "token": self.verification_token,
                "trigger_id": self.issue_trigger_id(user_id),
                "view": view,
                "response_urls": [],
                "enterprise": None,
                "is_enterprise_install": False,
            }

    def send_raw(
        self,
        listener_url: str | None,
        body: str | bytes,
        timestamp: int | str,
        signature: str,
        *,
        content_type: str = "application/x-www-form-urlencoded",
    ) -> httpx.Response:
        """POST an arbitrary (e.g. forged) body with the given Slack signature headers."""
        url = self._listener(listener_url)
        raw = body.encode() if isinstance(body, str) else body
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": str(timestamp),
            "X-Slack-Signature": signature,
            "User-Agent": _SLACKBOT_UA,
        }
        return self._post(url, raw, headers, "raw", None)

    def sign(self, body: str | bytes, timestamp: int | str, secret: str | None = None) -> str:
        """``X-Slack-Signature`` for ``body`` with this emulator's (or the given) secret."""
        return sign(self.signing_secret if secret is None else secret, timestamp, body)

    # ------------------------------------------------------------------ HTTP entry points

    def handle_api(self, method: str, query: str, headers: Mapping[str, str], body: bytes) -> Reply:
        """Serve one Web API request (called by the HTTP handler)."""
        try:
            params = _parse_params(query, headers, body)
        except _ApiError as exc:
            return 200, {}, {"ok": False, "error": exc.error}
        token = _bearer(headers) or params.pop("token", None)
        params.pop("token", None)
        with self._lock:
            fault = self._take_fault(method)
            if fault is not None:
                error = _FAULT_ERRORS.get(fault.status, "fatal_error")
                extra: Headers = {}
                if fault.retry_after is not None and (fault.status == 429 or fault.status >= 500):
                    extra["Retry-After"] = str(fault.retry_after)
                self._record_call(method, params, fault.status, False, error)
                return fault.status, extra, {"ok": False, "error": error}
            handler = self._methods.get(method)
            if handler is None:
                reply: dict[str, Any] = {
                    "ok": False,
                    "error": "unknown_method",
                    "req_method": method,
                }
            elif method != "api.test" and not token:  # api.test needs no auth, as in Slack
                reply = {"ok": False, "error": "not_authed"}
            elif method != "api.test" and token != self.bot_token:
                reply = {"ok": False, "error": "invalid_auth"}
            else:
                try:
                    reply = {"ok": True, **handler(params)}
                except _ApiError as exc:
                    reply = {"ok": False, "error": exc.error, **exc.extra}
            self._record_call(method, params, 200, bool(reply["ok"]), reply.get("error"))
            return 200, {}, reply

    def handle_response_url(self, path: str, headers: Mapping[str, str], body: bytes) -> Reply:
        """Serve a POST to a ``response_url`` handed out in a click payload."""
        try:
            params = _parse_params("", headers, body)
        except _ApiError as exc:
            return 400, {}, {"ok": False, "error": exc.error}
        with self._lock:
            fault = self._take_fault("response_url")
            if fault is not None:
                self._record_call("response_url", params, fault.status, False, "fault")
                return fault.status, {}, {"ok": False, "error": "fault"}
            target = self._response_urls.get(path)
            if target is None:
                self._record_call("response_url", params, 404, False, "expired_url")
                return 404, {}, {"ok": False, "error": "expired_url"}
            try:
                self._respond(target, params)
            except _ApiError as exc:
                self._record_call("response_url", params, 400, False, exc.error)
                return 400, {}, {"ok": False, "error": exc.error, **exc.extra}
            self._record_call("response_url", params, 200, True, None)
            return 200, {}, {"ok": True}

    # ------------------------------------------------------------------ Web API methods
    # Called with self._lock held; raise _ApiError for {"ok": false, "error": ...}.

    def _api_test(self, params: Params) -> dict[str, Any]:
        return {"args": params} if params else {}

    def _auth_test(self, params: Params) -> dict[str, Any]:
        return {
            "url": f"https://{self.team_domain}.slack.com/",
            "team": self.team_name,
            "user": self.bot_name,
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _conversations_open(self, params: Params) -> dict[str, Any]:
        channel = params.get("channel")
        users_raw = params.get("users")
        if channel and not users_raw:
            return {"channel": {"id": self._resolve_channel(channel)}}
        if not users_raw:
            raise _ApiError("users_list_not_supplied")
        users = users_raw if isinstance(users_raw, list) else str(users_raw).split(",")
        users = [u.strip() for u in users if str(u).strip()]
        if not users:
            raise _ApiError("users_list_not_supplied")
        if len(users) > 8:
            raise _ApiError("too_many_users")
        for user in users:
            if not _USER_ID.match(user):
                raise _ApiError("user_not_found")
            if user in self._disabled_users:
                raise _ApiError("user_disabled")
        if len(users) > 1:
            digest = hashlib.sha1(",".join(sorted(users)).encode()).hexdigest()
            return {"channel": {"id": "G" + digest[:10].upper()}}
        user = users[0]
        already_open = user in self._dm_channels
        channel_id = self.dm_channel_for(user)
        obj: dict[str, Any] = {"id": channel_id}
        if _truthy(params.get("return_im")):
            obj.update(
                {
                    "created": int(time.time()),
                    "is_im": True,
                    "is_org_shared": False,
                    "user": user,
                    "is_user_deleted": False,
                    "priority": 0,
                }
            )
        reply: dict[str, Any] = {"channel": obj}
        if already_open:
            reply.update({"no_op": True, "already_open": True})
        return reply

    def _chat_post_message(self, params: Params) -> dict[str, Any]:
        channel = self._resolve_channel(params.get("channel"))
        text, blocks, attachments = self._content(params, required=True)
        thread_ts = _opt_str(params.get("thread_ts"))
        record = self._store_message(
            channel,
            text,
            blocks,
            attachments,
            thread_ts,
            metadata=_coerce_json(params.get("metadata")),
        )
        return {"channel": channel, "ts": record.ts, "message": self._message_obj(record)}

    def _chat_post_ephemeral(self, params: Params) -> dict[str, Any]:
        channel = self._resolve_channel(params.get("channel"))
        user = params.get("user")
        if not isinstance(user, str) or not user:
            raise _ApiError(
                "invalid_arguments",
                response_metadata={"messages": ["[ERROR] missing required field: user"]},
            )
        if not _USER_ID.match(user):
            raise _ApiError("user_not_found")
        text, blocks, attachments = self._content(params, required=True)
        record = self._store_message(
            channel,
            text,
            blocks,
            attachments,
            _opt_str(params.get("thread_ts")),
            ephemeral_for=user,
            source="chat.postEphemeral",
        )
        return {"message_ts": record.ts}

    def _chat_update(self, params: Params) -> dict[str, Any]:
        channel = self._resolve_channel(params.get("channel"))
        ts = params.get("ts")
        record = self._lookup_message(channel, ts) if isinstance(ts, str) else None
        if record is None or record.ephemeral:
            raise _ApiError("message_not_found")
        text, blocks, attachments = self._content(params, required=False)
        if text is None and blocks is None and attachments is None:
            raise _ApiError("no_text")
        self._edit_message(record, params, text, blocks, attachments, "chat.update")
        return {
            "channel": channel,
            "ts": record.ts,
            "text": record.text or "",
            "message": self._message_obj(record),
        }

    def _chat_delete(self, params: Params) -> dict[str, Any]:
        channel = self._resolve_channel(params.get("channel"))
        ts = params.get("ts")
        record = self._lookup_message(channel, ts) if isinstance(ts, str) else None
        if record is None or record.ephemeral:
            raise _ApiError("message_not_found")
        record.deleted = True
        self._changed.notify_all()
        return {"channel": channel, "ts": record.ts}

    def _views_open(self, params: Params) -> dict[str, Any]:
        trigger_id = params.get("trigger_id")
        if not isinstance(trigger_id, str) or not trigger_id:
            raise _ApiError(
                "invalid_arguments",
                response_metadata={"messages": ["[ERROR] missing required field: trigger_id"]},
            )
        trigger = self._triggers.get(trigger_id)
        if trigger is None:
            raise _ApiError("invalid_trigger_id")
        if trigger.used:
            raise _ApiError("exchanged_trigger_id")
        if time.monotonic() - trigger.issued > self.trigger_ttl:
            raise _ApiError("expired_trigger_id")
        spec = self._check_view(params.get("view"))
        external_id = spec.get("external_id")
        if external_id and any(
            v.view.get("external_id") == external_id for v in self._views.values()
        ):
            raise _ApiError("duplicate_external_id")
        trigger.used = True
        view_id = "V" + _random_id(10)
        view = self._render_view(view_id, spec)
        record = ViewRecord(
            id=view_id,
            user_id=trigger.user_id,
            trigger_id=trigger_id,
            view=view,
            versions=[copy.deepcopy(view)],
            opened_at=time.time(),
        )
        self._views[view_id] = record
        self._changed.notify_all()
        return {"view": copy.deepcopy(view)}

    def _views_update(self, params: Params) -> dict[str, Any]:
        view_id = params.get("view_id")
        external_id = params.get("external_id")
        if not view_id and not external_id:
            raise _ApiError(
                "invalid_arguments",
                response_metadata={"messages": ["[ERROR] view_id or external_id is required"]},
            )
        record: ViewRecord | None = None
        if view_id:
            record = self._views.get(str(view_id))
        else:
            for candidate in self._views.values():
                if candidate.view.get("external_id") == external_id:
                    record = candidate
        if record is None:
            raise _ApiError("not_found")
        expected_hash = params.get("hash")
        if expected_hash and expected_hash != record.view["hash"]:
            raise _ApiError("hash_conflict")
        spec = self._check_view(params.get("view"))
        self._replace_view(record, spec)
        return {"view": copy.deepcopy(record.view)}

    # ------------------------------------------------------------------ internals (lock held)

    def _take_fault(self, method: str) -> _Fault | None:
        for fault in self._faults:
            if fault.matches(method):
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                return fault
        return None

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
            raise _ApiError("channel_not_found")
        if _USER_ID.match(channel):
            return self.dm_channel_for(channel)
        if channel.startswith("#"):
            for cid, name in self._channel_names.items():
                if name == channel[1:]:
                    return cid
            raise _ApiError("channel_not_found")
        if _CHANNEL_ID.match(channel):
            return channel
        if channel in self._dm_channels.values():
            return channel
        raise _ApiError("channel_not_found")

    def _content(
        self, params: Params, *, required: bool
    ) -> tuple[str | None, list[dict[str, Any]] | None, list[dict[str, Any]] | None]:
        text = params.get("text")
        if text is not None and not isinstance(text, str):
            text = str(text)
        if text is not None and len(text) > _MAX_TEXT:
            raise _ApiError("msg_too_long")
        blocks: list[dict[str, Any]] | None = None
        if params.get("blocks") is not None:
            try:
                blocks = validate_blocks(params["blocks"])
            except BlocksInvalid as exc:
                raise _ApiError(
                    "invalid_blocks",
                    errors=exc.errors,
                    response_metadata={"messages": [f"[ERROR] {e}" for e in exc.errors]},
                ) from exc
        attachments: list[dict[str, Any]] | None = None
        if params.get("attachments") is not None:
            raw = _coerce_json(params["attachments"])
            if not isinstance(raw, list) or not all(isinstance(a, dict) for a in raw):
                raise _ApiError("invalid_attachments")
            attachments = raw
        if required and not text and not blocks and not attachments:
            raise _ApiError("no_text")
        return text, blocks, attachments

    def _store_message(
        self,
        channel: str,
        text: str | None,
        blocks: list[dict[str, Any]] | None,
        attachments: list[dict[str, Any]] | None,
        thread_ts: str | None,
        *,
        metadata: Any = None,
        ephemeral_for: str | None = None,
        source: str = "chat.postMessage",
    ) -> MessageRecord:
        ts = self._next_ts()
        blocks = _fill_block_ids(blocks, ts)
        record = MessageRecord(
            channel=channel,
            ts=ts,
            text=text,
            blocks=blocks,
            thread_ts=thread_ts,
            ephemeral=ephemeral_for is not None,
            user=ephemeral_for,
            attachments=attachments,
            metadata=metadata if isinstance(metadata, dict) else None,
            bot_user_id=self.bot_user_id,
            bot_id=self.bot_id,
            versions=[
                MessageVersion(
                    text, copy.deepcopy(blocks), copy.deepcopy(attachments), None, source
                )
            ],
        )
        self._messages.append(record)
        self._changed.notify_all()
        return record

    def _edit_message(
        self,
        record: MessageRecord,
        params: Params,
        text: str | None,
        blocks: list[dict[str, Any]] | None,
        attachments: list[dict[str, Any]] | None,
        source: str,
    ) -> None:
        # Slack keeps fields the update does not mention (documented for blocks).
        edited_ts = self._next_ts()
        if "text" in params:
            record.text = text
        if "blocks" in params:
            record.blocks = _fill_block_ids(blocks, edited_ts)
        if "attachments" in params:
            record.attachments = attachments
        record.versions.append(
            MessageVersion(
                record.text,
                copy.deepcopy(record.blocks),
                copy.deepcopy(record.attachments),
                edited_ts,
                source,
            )
        )
        self._changed.notify_all()

    def _lookup_message(self, channel: str, ts: Any) -> MessageRecord | None:
        for record in self._messages:
            if record.channel == channel and record.ts == ts and not record.deleted:
                return record
        return None

    def _message_obj(self, record: MessageRecord) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "text": record.text or "",
            "ts": record.ts,
            "team": self.team_id,
            "bot_profile": {
                "id": self.bot_id,
                "app_id": self.app_id,
                "name": self.bot_name,
                "team_id": self.team_id,
                "deleted": False,
            },
        }
        if record.blocks:
            obj["blocks"] = copy.deepcopy(record.blocks)
        if record.attachments:
            obj["attachments"] = copy.deepcopy(record.attachments)
        if record.thread_ts:
            obj["thread_ts"] = record.thread_ts
        if record.metadata:
            obj["metadata"] = copy.deepcopy(record.metadata)
        last = record.versions[-1] if record.versions else None
        if last is not None and last.edited_ts is not None:
            obj["edited"] = {"user": self.bot_user_id, "ts": last.edited_ts}
        return obj

    def _user_obj(self, user_id: str) -> dict[str, Any]:
        name = self._user_names.get(user_id, user_id.lower())
        return {"id": user_id, "username": name, "name": name, "team_id": self.team_id}

    def _channel_name(self, channel: str) -> str:
        if channel in self._dm_channels.values():
            return "directmessage"
        return self._channel_names.get(channel, channel.lower())

    def _issue_response_url(self, record: MessageRecord, user_id: str) -> str:
        path = f"/actions/{self.team_id}/{secrets.randbelow(10**13)}/{secrets.token_hex(12)}"
        self._response_urls[path] = _ResponseUrl(
            record.channel, record.ts, record.ephemeral, user_id
        )
        return f"{self.base_url}{path}"

    def _respond(self, target: _ResponseUrl, params: Params) -> None:
        record = self._lookup_message(target.channel, target.ts)
        if _truthy(params.get("delete_original")):
            if record is not None:
                record.deleted = True
                self._changed.notify_all()
            return
        text, blocks, attachments = self._content(params, required=True)
        if _truthy(params.get("replace_original")):
            if record is None:
                raise _ApiError("message_not_found")
            self._edit_message(record, params, text, blocks, attachments, "response_url")
            return
        thread_ts = _opt_str(params.get("thread_ts"))
        if params.get("response_type") == "in_channel":
            self._store_message(
                target.channel, text, blocks, attachments, thread_ts, source="response_url"
            )
        else:
            self._store_message(
                target.channel,
                text,
                blocks,
                attachments,
                thread_ts,
                ephemeral_for=target.user_id,
                source="response_url",
            )

    def _check_view(self, raw: Any) -> dict[str, Any]:
        view = _coerce_json(raw)
        problems: list[str] = []
        if not isinstance(view, dict):
            raise _ApiError(
                "invalid_arguments",
                response_metadata={
                    "messages": ["[ERROR] view must be an object [json-pointer:/view]"]
                },
            )
        if view.get("type") != "modal":
            problems.append("view.type must be 'modal' [json-pointer:/view/type]")
        for key in sorted(set(view) - _VIEW_KEYS):
            problems.append(f"invalid additional property: {key} [json-pointer:/view]")
        for key, required in (("title", True), ("close", False), ("submit", False)):
            problems.extend(_check_view_text(view, key, required))
        for key, limit in (("callback_id", 255), ("private_metadata", 3000), ("external_id", 255)):
            value = view.get(key)
            if value is not None and (not isinstance(value, str) or len(value) > limit):
                problems.append(
                    f"{key} must be a string of at most {limit} characters "
                    f"[json-pointer:/view/{key}]"
                )
        blocks: list[dict[str, Any]] = []
        try:
            blocks = validate_blocks(view.get("blocks", []), max_blocks=MAX_VIEW_BLOCKS)
        except BlocksInvalid as exc:
            problems.extend(
                e.replace("json-pointer:/blocks", "json-pointer:/view/blocks") for e in exc.errors
            )
        if any(b.get("type") == "input" for b in blocks) and "submit" not in view:
            problems.append(
                "submit is required when a view has input blocks [json-pointer:/view/submit]"
            )
        if problems:
            raise _ApiError(
                "invalid_arguments",
                response_metadata={"messages": [f"[ERROR] {p}" for p in problems]},
            )
        spec = dict(view)
        spec["blocks"] = blocks
        return spec

    def _render_view(self, view_id: str, spec: dict[str, Any]) -> dict[str, Any]:
        blocks = _fill_block_ids(spec.get("blocks") or [], view_id) or []
        for block in blocks:
            element = block.get("element")
            if block.get("type") == "input" and isinstance(element, dict):
                element.setdefault("action_id", _short_id(f"{view_id}:{block['block_id']}"))
        return {
            "id": view_id,
            "team_id": self.team_id,
            "type": spec.get("type", "modal"),
            "blocks": blocks,
            "private_metadata": spec.get("private_metadata", ""),
            "callback_id": spec.get("callback_id", ""),
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{_random_id(8)}",
            "title": copy.deepcopy(spec.get("title")),
            "clear_on_close": bool(spec.get("clear_on_close", False)),
            "notify_on_close": bool(spec.get("notify_on_close", False)),
            "close": copy.deepcopy(spec.get("close")),
            "submit": copy.deepcopy(spec.get("submit")),
            "previous_view_id": None,
            "root_view_id": view_id,
            "app_id": self.app_id,
            "external_id": spec.get("external_id", ""),
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }

    def _replace_view(self, record: ViewRecord, spec: dict[str, Any]) -> None:
        view = self._render_view(record.id, spec)
        view["root_view_id"] = record.view.get("root_view_id", record.id)
        record.view = view
        record.versions.append(copy.deepcopy(view))
        self._changed.notify_all()

    def _apply_submission_response(self, payload: dict[str, Any], response: httpx.Response) -> None:
        view_id = str(payload["view"]["id"])
        try:
            answer: Any = response.json() if response.content.strip() else None
        except ValueError:
            answer = None
        action = answer.get("response_action") if isinstance(answer, dict) else None
        with self._lock:
            record = self._views.get(view_id)
            if record is None:
                return
            record.submissions.append(
                {
                    "values": copy.deepcopy(payload["view"]["state"]["values"]),
                    "status": response.status_code,
                    "response": answer,
                }
            )
            if response.status_code != 200:
                pass  # Slack shows the user an error and keeps the modal open
            elif action == "errors":
                pass
            elif action == "update" and isinstance(answer, dict):
                # an invalid view: Slack shows an error and keeps the current one
                with contextlib.suppress(_ApiError):
                    self._replace_view(record, self._check_view(answer.get("view")))
            elif action == "clear":
                for other in self._views.values():
                    if other.user_id == record.user_id:
                        other.status = "closed"
            elif action == "push" and isinstance(answer, dict):
                try:
                    spec = self._check_view(answer.get("view"))
                except _ApiError:
                    spec = None
                if spec is not None:
                    new_id = "V" + _random_id(10)
                    view = self._render_view(new_id, spec)
                    view["previous_view_id"] = record.id
                    view["root_view_id"] = record.view.get("root_view_id", record.id)
                    self._views[new_id] = ViewRecord(
                        id=new_id,
                        user_id=record.user_id,
                        trigger_id=str(payload["trigger_id"]),
                        view=view,
                        versions=[copy.deepcopy(view)],
                        opened_at=time.time(),
                    )
            else:
                record.status = "closed"
            self._changed.notify_all()

    # ------------------------------------------------------------------ delivery

    def _listener(self, listener_url: str | None) -> str:
        url = listener_url or self.listener_url
        if not url:
            raise EmulatorError("no listener_url given and no default configured")
        return url

    def _deliver(
        self,
        kind: str,
        url: str,
        payload: dict[str, Any],
        timestamp: int | str | None,
        secret: str | None,
    ) -> httpx.Response:
        body = urlencode({"payload": json.dumps(payload, separators=(",", ":"))})
        ts = str(int(time.time()) if timestamp is None else timestamp)
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": self.sign(body, ts, secret),
            "User-Agent": _SLACKBOT_UA,
        }
        return self._post(url, body.encode(), headers, kind, payload)

    def _post(
        self,
        url: str,
        body: bytes,
        headers: Headers,
        kind: str,
        payload: dict[str, Any] | None,
    ) -> httpx.Response:
        with self._lock:
            if self._http is None:
                self._http = httpx.Client(timeout=self.http_timeout)
            http = self._http
        response = http.post(url, content=body, headers=headers)
        with self._lock:
            self._interactions.append(
                InteractionRecord(
                    kind,
                    url,
                    copy.deepcopy(payload),
                    response.status_code,
                    response.text,
                    time.time(),
                )
            )
            self._changed.notify_all()
        return response


# ---------------------------------------------------------------------- helpers


def _methods(methods: Iterable[str] | None) -> frozenset[str] | None:
    if methods is None:
        return None
    if isinstance(methods, str):
        return frozenset({methods})
    return frozenset(methods)


def _bearer(headers: Mapping[str, str]) -> str | None:
    value = headers.get("Authorization") or headers.get("authorization")
    if value and value.lower().startswith("bearer "):
        return value[7:].strip()
    return None


def _parse_params(query: str, headers: Mapping[str, str], body: bytes) -> Params:
    params: Params = dict(parse_qsl(query, keep_blank_values=True))
    content_type = headers.get("Content-Type") or headers.get("content-type") or ""
    content_type = content_type.split(";")[0].strip().lower()
    if not body:
        return params
    if content_type == "application/json":
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise _ApiError("invalid_json") from exc
        if not isinstance(data, dict):
            raise _ApiError("invalid_json")
        params.update(data)
    elif content_type in ("application/x-www-form-urlencoded", ""):
        params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    else:
        raise _ApiError("invalid_form_data")
    return params


def _coerce_json(value: Any) -> Any:
    if isinstance(value, (str, bytes)):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _opt_str(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() in ("1", "true", "yes")
    return bool(value)


def _now_ts() -> str:
    now_us = time.time_ns() // 1000
    return f"{now_us // 1_000_000}.{now_us % 1_000_000:06d}"


_ALPHANUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def _random_id(length: int) -> str:
    return "".join(secrets.choice(_ALPHANUM) for _ in range(length))


def _short_id(seed: str) -> str:
    digest = hashlib.sha1(seed.encode()).digest()
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return "".join(letters[b % len(letters)] for b in digest[:5])


def _fill_block_ids(blocks: list[dict[str, Any]] | None, seed: str) -> list[dict[str, Any]] | None:
    """Give blocks without a block_id a generated one, as Slack does on storage."""
    if blocks is None:
        return None
    filled = copy.deepcopy(blocks)
    for index, block in enumerate(filled):
        if "block_id" not in block:
            block["block_id"] = _short_id(f"{seed}:{index}")
    return filled


def _check_view_text(view: dict[str, Any], key: str, required: bool) -> list[str]:
    value = view.get(key)
    if value is None:
        return [f"missing required field: {key} [json-pointer:/view/{key}]"] if required else []
    if not isinstance(value, dict) or value.get("type") != "plain_text":
        return [f"{key} must be a plain_text object [json-pointer:/view/{key}]"]
    text = value.get("text")
    if not isinstance(text, str) or not text or len(text) > 24:
        return [f"{key}.text must be 1-24 characters [json-pointer:/view/{key}/text]"]
    return []


def _find_button(blocks: list[dict[str, Any]], action_id: str) -> tuple[dict[str, Any], str]:
    available: list[str] = []
    for block in blocks:
        candidates: list[Any] = []
        if block.get("type") == "actions":
            candidates = list(block.get("elements") or [])
        elif block.get("type") == "section" and block.get("accessory") is not None:
            candidates = [block["accessory"]]
        for element in candidates:
            if not isinstance(element, dict) or "action_id" not in element:
                continue
            if element["action_id"] == action_id:
                if element.get("type") != "button":
                    raise NotFoundError(
                        f"action_id {action_id!r} is a {element.get('type')}, not a button"
                    )
                return element, str(block["block_id"])
            available.append(str(element["action_id"]))
    raise NotFoundError(f"no button with action_id {action_id!r} (buttons: {available})")


def _build_state(
    blocks: list[dict[str, Any]], values: Mapping[str, str | None]
) -> dict[str, dict[str, Any]]:
    """state.values for a view_submission, as Slack's client would assemble it."""
    inputs = [
        (block, block["element"])
        for block in blocks
        if block.get("type") == "input" and isinstance(block.get("element"), dict)
    ]
    known = {str(element.get("action_id")) for _, element in inputs}
    unknown = sorted(set(values) - known)
    if unknown:
        raise NotFoundError(
            f"no input with action_id {unknown} in the view (inputs: {sorted(known)})"
        )
    state: dict[str, dict[str, Any]] = {}
    for block, element in inputs:
        action_id = str(element.get("action_id"))
        value = values.get(action_id)
        if value in (None, "") and not block.get("optional", False):
            raise ClientValidationError(
                f"input {action_id!r} is required; Slack's client would not submit the view"
            )
        etype = str(element.get("type"))
        state[str(block["block_id"])] = {action_id: _element_state(element, etype, value)}
    return state


def _element_state(element: dict[str, Any], etype: str, value: str | None) -> dict[str, Any]:
    if etype in ("static_select", "radio_buttons"):
        option = None
        if value not in (None, ""):
            option = _find_option(element, str(value))
        return {"type": etype, "selected_option": option}
    if value not in (None, "") and etype == "plain_text_input":
        text = str(value)
        min_length = element.get("min_length")
        max_length = element.get("max_length")
        if isinstance(min_length, int) and len(text) < min_length:
            raise ClientValidationError(f"{element.get('action_id')!r} shorter than {min_length}")
        if isinstance(max_length, int) and len(text) > max_length:
            raise ClientValidationError(f"{element.get('action_id')!r} longer than {max_length}")
    return {"type": etype, "value": value if value != "" else None}


def _find_option(element: dict[str, Any], value: str) -> dict[str, Any]:
    options: list[dict[str, Any]] = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options.extend(group.get("options") or [])
    for option in options:
        if option.get("value") == value:
            return copy.deepcopy(option)
    raise NotFoundError(f"no option with value {value!r} in {element.get('action_id')!r}")
