"""HTTP plumbing for the Slack emulator (stdlib ``http.server``, no extra deps).

Routes ``/api/<method>`` to the Web API emulation, ``/actions/...`` to
response_url handling, ``GET /openid/connect/authorize`` to Sign in with Slack
(a browser redirect), and ``/_emu/...`` to the control API that lets another
process (a demo script, a test driving a standalone emulator) inspect
recordings, inject faults and act as a user.  It knows the emulator only
through the four entry points of :class:`EmulatorApp`, so it imports nothing
else of slackemu.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import urlsplit

from .wire import Reply

__all__ = ["EmulatorApp", "EmulatorHTTPServer"]


class EmulatorApp(Protocol):
    """What the server needs from the emulator (``SlackEmulator`` provides it)."""

    def handle_api(
        self, method: str, query: str, headers: Mapping[str, str], body: bytes
    ) -> Reply: ...

    def handle_response_url(self, path: str, headers: Mapping[str, str], body: bytes) -> Reply: ...

    def handle_control(self, verb: str, path: str, query: str, body: bytes) -> Reply: ...

    def handle_authorize(self, query: str) -> Reply: ...


class EmulatorHTTPServer(ThreadingHTTPServer):
    """A threading server bound to one emulator."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], emulator: EmulatorApp) -> None:
        self.emulator = emulator
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: EmulatorHTTPServer
    server_version = "slackemu/1.0"

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return  # recordings replace access logs; see SlackEmulator(verbose=True)

    def _dispatch(self, verb: str) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        headers = {k: v for k, v in self.headers.items()}
        emu = self.server.emulator
        try:
            if url.path.startswith("/api/"):
                reply: Reply = emu.handle_api(url.path[len("/api/") :], url.query, headers, body)
            elif url.path.startswith("/actions/") and verb == "POST":
                reply = emu.handle_response_url(url.path, headers, body)
            elif url.path == "/openid/connect/authorize" and verb == "GET":
                reply = emu.handle_authorize(url.query)
            elif url.path.startswith("/_emu/"):
                reply = emu.handle_control(verb, url.path[len("/_emu/") :], url.query, body)
            else:
                reply = (404, {}, {"ok": False, "error": "not_found"})
        except Exception as exc:  # a bug in the emulator must not hang the client
            reply = (500, {}, {"ok": False, "error": "emulator_exception", "detail": repr(exc)})
        self._send(*reply)

    def _send(self, status: int, headers: dict[str, str], payload: Any) -> None:
        headers = dict(headers)
        content_type = headers.pop("Content-Type", "application/json; charset=utf-8")
        if content_type.startswith("text/html"):  # an edge error page, as in a Slack outage
            data = str(payload.get("html", "")).encode()
        else:
            data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)
