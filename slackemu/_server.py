"""HTTP plumbing for the Slack emulator (stdlib ``http.server``, no extra deps).

Routes ``/api/<method>`` to the Web API emulation, ``/actions/...`` to
response_url handling, and ``/_emu/...`` to the control API that lets another
process (a demo script, a test driving a standalone emulator) inspect
recordings, inject faults and act as a user.
"""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import httpx

if TYPE_CHECKING:
    from .emulator import SlackEmulator

__all__ = ["EmulatorHTTPServer"]

Reply = tuple[int, dict[str, str], Any]


class EmulatorHTTPServer(ThreadingHTTPServer):
    """A threading server bound to one :class:`SlackEmulator`."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], emulator: SlackEmulator) -> None:
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
            elif url.path.startswith("/_emu/"):
                reply = _control(emu, verb, url.path[len("/_emu/") :], url.query, body)
            else:
                reply = (404, {}, {"ok": False, "error": "not_found"})
        except Exception as exc:  # a bug in the emulator must not hang the client
            reply = (500, {}, {"ok": False, "error": "emulator_exception", "detail": repr(exc)})
        self._send(*reply)

    def _send(self, status: int, headers: dict[str, str], payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)


def _control(emu: SlackEmulator, verb: str, path: str, query: str, body: bytes) -> Reply:
    """The ``/_emu/`` control API; JSON in, JSON out."""
    from .emulator import EmulatorError

    q = {k: v[-1] for k, v in parse_qs(query).items()}
    try:
        args: dict[str, Any] = json.loads(body) if body.strip() else {}
    except ValueError:
        return 400, {}, {"ok": False, "error": "invalid_json"}
    if not isinstance(args, dict):
        return 400, {}, {"ok": False, "error": "invalid_json"}
    route = (verb, path.rstrip("/"))
    try:
        if route == ("GET", "health"):
            return 200, {}, {"ok": True, "api_url": emu.api_url}
        if route == ("GET", "messages"):
            messages = emu.messages
            if "channel" in q:
                messages = [m for m in messages if m.channel == q["channel"]]
            if "user" in q:
                messages = [m for m in messages if m.user == q["user"]]
            if "ephemeral" in q:
                wanted = q["ephemeral"].lower() in ("1", "true", "yes")
                messages = [m for m in messages if m.ephemeral == wanted]
            return 200, {}, {"ok": True, "messages": [m.to_dict() for m in messages]}
        if route == ("GET", "calls"):
            calls = emu.calls
            if "method" in q:
                calls = [c for c in calls if c.method == q["method"]]
            return 200, {}, {"ok": True, "calls": [c.to_dict() for c in calls]}
        if route == ("GET", "views"):
            views = emu.views
            if "user" in q:
                views = [v for v in views if v.user_id == q["user"]]
            return 200, {}, {"ok": True, "views": [v.to_dict() for v in views]}
        if route == ("GET", "interactions"):
            return 200, {}, {"ok": True, "interactions": [i.to_dict() for i in emu.interactions]}
        if route == ("GET", "dm"):
            return 200, {}, {"ok": True, "channel": emu.dm_channel_for(q["user"])}
        if route == ("POST", "fail"):
            emu.fail(
                status=int(args.get("status", 429)),
                count=int(args.get("count", 1)),
                retry_after=_opt_int(args.get("retry_after", 1)),
                methods=args.get("methods"),
            )
            return 200, {}, {"ok": True}
        if route == ("POST", "outage"):
            emu.outage(
                status=int(args.get("status", 503)),
                methods=args.get("methods"),
                retry_after=_opt_int(args.get("retry_after")),
            )
            return 200, {}, {"ok": True}
        if route == ("POST", "recover"):
            emu.recover()
            return 200, {}, {"ok": True}
        if route == ("POST", "reset"):
            emu.reset()
            return 200, {}, {"ok": True}
        if route == ("POST", "trigger"):
            return 200, {}, {"ok": True, "trigger_id": emu.issue_trigger_id(args["user_id"])}
        if route == ("POST", "click"):
            response = emu.click(
                args.get("listener_url"),
                args["user_id"],
                args["channel"],
                args["ts"],
                args["action_id"],
                value=args.get("value"),
                timestamp=args.get("timestamp"),
                secret=args.get("secret"),
            )
            return 200, {}, _delivery(response)
        if route == ("POST", "submit"):
            response = emu.submit_view(
                args.get("listener_url"),
                args["user_id"],
                args.get("view_id"),
                args.get("values") or {},
                timestamp=args.get("timestamp"),
                secret=args.get("secret"),
            )
            return 200, {}, _delivery(response)
    except KeyError as exc:
        return 400, {}, {"ok": False, "error": "missing_argument", "detail": str(exc)}
    except (EmulatorError, ValueError) as exc:
        return 400, {}, {"ok": False, "error": type(exc).__name__, "detail": str(exc)}
    return 404, {}, {"ok": False, "error": "unknown_control_endpoint", "path": path}


def _delivery(response: httpx.Response) -> dict[str, Any]:
    """Report what was delivered (decoded from the request itself) and the answer."""
    sent = parse_qs(response.request.content.decode())
    payload = json.loads(sent["payload"][0]) if "payload" in sent else None
    return {"ok": True, "status": response.status_code, "body": response.text, "payload": payload}


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)
