"""Socket Mode: ``apps.connections.open`` and a real WebSocket carrying Slack's envelopes.

With Socket Mode the app opens the connection: it calls ``apps.connections.open`` with its
app-level token (``xapp-...``), gets a ``wss://`` URL (here ``ws://`` on loopback) and connects.
Slack greets it with ``hello`` and then sends every interaction, event and slash command as an
envelope ``{"envelope_id", "type": "interactive" | "events_api" | "slash_commands", "payload",
"accepts_response_payload", "retry_attempt", "retry_reason"}``; the app acknowledges each with
``{"envelope_id", "payload"?}`` (the payload is what an HTTP listener would have answered:
modal errors, a slash command's message). Nothing is signed: the token authenticated the
connection. The server is the ``websockets`` library's, so the app's real client (slack_sdk's
own WebSocket implementation) does the handshake, framing and ping/pong for real.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

from .commands import CommandAnswer, SlashCommands
from .errors import ApiError, EmulatorError
from .state import EmulatorState
from .wire import Params

__all__ = ["SocketModeApi", "SocketModeUsers"]

#: how long a delivery waits for the app's ack (Slack retries after about 3 s).
ACK_TIMEOUT = 5.0


class _SocketState:
    """The WebSocket server, its connections and the acks received, under the emulator's lock."""

    def __init__(self) -> None:
        self.server: Server | None = None
        self.thread: threading.Thread | None = None
        self.port = 0
        self.tickets: set[str] = set()
        self.connections: list[ServerConnection] = []
        self.send_lock = threading.Lock()
        self.acks: dict[str, dict[str, Any]] = {}
        self.app_tokens: set[str] = set()
        self.opened = 0


class SocketModeApi(EmulatorState):
    """``apps.connections.open`` and the WebSocket server it hands out."""

    def _socket(self) -> _SocketState:
        state: _SocketState = self.__dict__.setdefault("_socket_state", _SocketState())
        return state

    def allow_app_token(self, token: str) -> None:
        """Accept ``token`` (an ``xapp-`` app-level token) in ``apps.connections.open``."""
        if not token.startswith("xapp-"):
            raise EmulatorError("an app-level token starts with xapp-")
        with self._lock:
            self._socket().app_tokens.add(token)

    def _apps_connections_open(self, params: Params) -> dict[str, Any]:
        token = params.pop("_token", None)
        state = self._socket()
        if not isinstance(token, str) or not token.startswith("xapp-"):
            raise ApiError("not_allowed_token_type")  # a bot token cannot open a socket
        if token not in state.app_tokens:
            raise ApiError("invalid_auth")
        self._start_socket_server()
        ticket = secrets.token_hex(16)
        state.tickets.add(ticket)
        return {"url": f"ws://{self.host}:{state.port}/link/?ticket={ticket}&app_id={self.app_id}"}

    # ------------------------------------------------------------------ the server

    def _start_socket_server(self) -> None:
        state = self._socket()
        if state.server is not None:
            return
        server = serve(self._socket_session, self.host, 0, compression=None, ping_interval=None)
        state.server = server
        state.port = int(server.socket.getsockname()[1])
        state.thread = threading.Thread(
            target=server.serve_forever, name=f"slackemu-socket:{state.port}", daemon=True
        )
        state.thread.start()

    def stop_socket_mode(self) -> None:
        """Close every connection and the WebSocket server (the emulator's stop() calls it)."""
        with self._lock:
            state = self._socket()
            server, state.server = state.server, None
            connections, state.connections = list(state.connections), []
        for conn in connections:
            conn.close()
        if server is not None:
            server.shutdown()
        if state.thread is not None:
            state.thread.join(timeout=5)
            state.thread = None

    def _socket_session(self, conn: ServerConnection) -> None:
        request = conn.request
        query = parse_qs(urlsplit(request.path if request else "").query)
        ticket = (query.get("ticket") or [""])[0]
        with self._lock:
            state = self._socket()
            if ticket not in state.tickets:
                conn.close(code=1008, reason="invalid ticket")
                return
            state.tickets.discard(ticket)  # a ticket opens one connection
            state.connections.append(conn)
            state.opened += 1
            self._changed.notify_all()
        hello = {
            "type": "hello",
            "num_connections": len(state.connections),
            "debug_info": {"host": "slackemu", "approximate_connection_time": 18060},
            "connection_info": {"app_id": self.app_id},
        }
        try:
            with state.send_lock:
                conn.send(json.dumps(hello))
            for message in conn:
                try:
                    data = json.loads(message)
                except ValueError:
                    continue
                if isinstance(data, dict) and isinstance(data.get("envelope_id"), str):
                    with self._lock:
                        state.acks[data["envelope_id"]] = data
                        self._changed.notify_all()
        except ConnectionClosed:
            pass
        finally:
            with self._lock:
                if conn in state.connections:
                    state.connections.remove(conn)
                self._changed.notify_all()

    # ------------------------------------------------------------------ recordings

    @property
    def socket_connections(self) -> int:
        """How many Socket Mode connections are open now."""
        with self._lock:
            return len(self._socket().connections)

    def send_envelope(
        self,
        kind: str,
        payload: Mapping[str, Any],
        *,
        accepts_response_payload: bool = False,
        timeout: float = ACK_TIMEOUT,
    ) -> dict[str, Any]:
        """Send one envelope on the newest connection and wait for its ack; returns the ack
        (``{"envelope_id", "payload"?}``). Raises EmulatorError if none is connected or no ack
        comes within ``timeout`` (Slack would retry it)."""
        envelope_id = str(uuid.uuid4())
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": dict(payload),
            "accepts_response_payload": accepts_response_payload,
            "retry_attempt": 0,
            "retry_reason": "",
        }
        with self._lock:
            state = self._socket()
            if not state.connections:
                raise EmulatorError("no Socket Mode connection is open")
            conn = state.connections[-1]
        with state.send_lock:
            conn.send(json.dumps(envelope))
        deadline = time.monotonic() + timeout
        with self._lock:
            while envelope_id not in state.acks:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise EmulatorError(f"no ack for envelope {envelope_id} within {timeout} s")
                self._changed.wait(left)
            return state.acks.pop(envelope_id)


class SocketModeUsers(SlashCommands, SocketModeApi):
    """A user clicking, submitting, opening the Home and typing commands over Socket Mode."""

    def socket_click(
        self, user_id: str, channel: str, ts: str, action_id: str, *, value: str | None = None
    ) -> dict[str, Any]:
        payload = self.build_block_actions(user_id, channel, ts, action_id, value=value)
        return self.send_envelope("interactive", payload)

    def socket_submit_view(
        self, user_id: str, view_id: str | None, values: Mapping[str, str | None]
    ) -> dict[str, Any]:
        """Submit a modal; the ack's payload (errors, update, ...) is applied as Slack does."""
        payload = self.build_view_submission(user_id, view_id, values)
        ack = self.send_envelope("interactive", payload, accepts_response_payload=True)
        self._apply_submission_response(payload, httpx.Response(200, json=ack.get("payload")))
        return ack

    def socket_home_opened(self, user_id: str) -> dict[str, Any]:
        with self._lock:
            event: dict[str, Any] = {
                "type": "app_home_opened",
                "user": user_id,
                "channel": self.dm_channel_for(user_id),
                "tab": "home",
                "event_ts": f"{time.time():.6f}",
            }
        envelope = {
            "token": self.verification_token,
            "team_id": self.team_id,
            "api_app_id": self.app_id,
            "event": event,
            "type": "event_callback",
            "event_id": "Ev" + secrets.token_hex(5).upper(),
            "event_time": int(time.time()),
        }
        return self.send_envelope("events_api", envelope)

    def socket_command(self, user_id: str, command: str, text: str = "") -> CommandAnswer:
        with self._lock:
            where = self.dm_channel_for(user_id)
            payload = {
                "token": self.verification_token,
                "team_id": self.team_id,
                "team_domain": self.team_domain,
                "channel_id": where,
                "channel_name": self._channel_name(where),
                "user_id": user_id,
                "user_name": self._user_obj(user_id)["name"],
                "command": command,
                "text": text,
                "api_app_id": self.app_id,
                "is_enterprise_install": "false",
                "response_url": f"{self.base_url}/commands/{self.team_id}/{secrets.token_hex(6)}",
                "trigger_id": self.issue_trigger_id(user_id),
            }
        started = time.monotonic()
        ack = self.send_envelope("slash_commands", payload, accepts_response_payload=True)
        seconds = time.monotonic() - started
        response = httpx.Response(200, json=ack.get("payload") or {})
        return CommandAnswer(response, seconds, self._show_answer(where, user_id, response))
