"""The ``/_emu/`` control API: the emulator's Python API, over HTTP, as JSON.

Lets another process (a demo script, a test driving a standalone
``python -m slackemu``) inspect recordings, inject faults and act as a user,
with the same semantics as calling the methods directly.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

import httpx

from .errors import EmulatorError
from .faults import FaultInjection
from .openid import OpenIdApi
from .recordings import Recordings
from .socket_mode import SocketModeUsers
from .wire import Reply

__all__ = ["ControlApi"]


class ControlApi(SocketModeUsers, OpenIdApi, FaultInjection, Recordings):
    """Serve ``/_emu/<path>`` requests (called by the HTTP handler)."""

    def handle_control(self, verb: str, path: str, query: str, body: bytes) -> Reply:
        """The ``/_emu/`` control API; JSON in, JSON out."""
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
                return 200, {}, {"ok": True, "api_url": self.api_url}
            if route == ("GET", "messages"):
                messages = self.messages
                if "channel" in q:
                    messages = [m for m in messages if m.channel == q["channel"]]
                if "user" in q:
                    messages = [m for m in messages if m.user == q["user"]]
                if "ephemeral" in q:
                    wanted = q["ephemeral"].lower() in ("1", "true", "yes")
                    messages = [m for m in messages if m.ephemeral == wanted]
                return 200, {}, {"ok": True, "messages": [m.to_dict() for m in messages]}
            if route == ("GET", "calls"):
                calls = self.calls
                if "method" in q:
                    calls = [c for c in calls if c.method == q["method"]]
                return 200, {}, {"ok": True, "calls": [c.to_dict() for c in calls]}
            if route == ("GET", "views"):
                views = self.views
                if "user" in q:
                    views = [v for v in views if v.user_id == q["user"]]
                return 200, {}, {"ok": True, "views": [v.to_dict() for v in views]}
            if route == ("GET", "interactions"):
                return (
                    200,
                    {},
                    {"ok": True, "interactions": [i.to_dict() for i in self.interactions]},
                )
            if route == ("GET", "dm"):
                return 200, {}, {"ok": True, "channel": self.dm_channel_for(q["user"])}
            if route == ("POST", "fail"):
                self.fail(
                    status=int(args.get("status", 429)),
                    count=int(args.get("count", 1)),
                    retry_after=_opt_int(args.get("retry_after", 1)),
                    methods=args.get("methods"),
                )
                return 200, {}, {"ok": True}
            if route == ("POST", "outage"):
                self.outage(
                    status=int(args.get("status", 503)),
                    methods=args.get("methods"),
                    retry_after=_opt_int(args.get("retry_after")),
                )
                return 200, {}, {"ok": True}
            if route == ("POST", "recover"):
                self.recover()
                return 200, {}, {"ok": True}
            if route == ("POST", "reset"):
                self.reset()
                return 200, {}, {"ok": True}
            if route == ("POST", "signin"):
                self.sign_in_as(args.get("user_id"))
                return 200, {}, {"ok": True, "authorize_url": self.openid_authorize_url}
            if route == ("POST", "trigger"):
                return 200, {}, {"ok": True, "trigger_id": self.issue_trigger_id(args["user_id"])}
            if route == ("POST", "click"):
                response = self.click(
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
                response = self.submit_view(
                    args.get("listener_url"),
                    args["user_id"],
                    args.get("view_id"),
                    args.get("values") or {},
                    timestamp=args.get("timestamp"),
                    secret=args.get("secret"),
                )
                return 200, {}, _delivery(response)
            if route == ("GET", "home"):
                home = self.home_for(q["user"])
                return 200, {}, {"ok": True, "home": home.to_dict() if home else None}
            if route == ("POST", "home/open"):
                response = self.open_home(
                    args.get("listener_url"), args["user_id"], tab=args.get("tab", "home")
                )
                return 200, {}, {"ok": True, "status": response.status_code, "body": response.text}
            if route == ("POST", "home/click"):
                response = self.click_home(
                    args.get("listener_url"),
                    args["user_id"],
                    args["action_id"],
                    value=args.get("value"),
                )
                return 200, {}, _delivery(response)
            if route == ("POST", "command"):
                answer = self.slash_command(
                    args.get("listener_url"),
                    args["user_id"],
                    args["command"],
                    args.get("text", ""),
                    channel=args.get("channel"),
                )
                shown = answer.message.to_dict() if answer.message else None
                return 200, {}, {
                    "ok": True,
                    "status": answer.response.status_code,
                    "message": shown,
                }
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
