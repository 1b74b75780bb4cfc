"""The Web API front door: routing, authentication, faults and call recording.

One entry point per kind of request the HTTP server receives from the app:
``/api/<method>`` (answered in Slack's wire format: HTTP 200 with ``ok`` true
or false, or the status of an injected fault), POSTs to a response_url, and the
browser's ``GET /openid/connect/authorize`` (:mod:`.openid`).
The method handlers themselves live in one module per Slack method family.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .auth import AuthApi
from .chat import ChatApi
from .conversations import ConversationsApi
from .errors import ApiError
from .faults import ALL_SCOPES, SlackSaysNo
from .home import HomeApi
from .openid import OpenIdApi
from .response_urls import ResponseUrls
from .socket_mode import SocketModeApi
from .users import UsersApi
from .views import ViewsApi
from .wire import Headers, Params, Reply, basic, bearer, parse_params

__all__ = ["WebApi"]


class WebApi(
    AuthApi,
    ConversationsApi,
    ChatApi,
    ViewsApi,
    UsersApi,
    ResponseUrls,
    HomeApi,
    SocketModeApi,
    OpenIdApi,
    SlackSaysNo,
):
    """Serve Web API and response_url requests (called by the HTTP handler)."""

    def handle_api(self, method: str, query: str, headers: Mapping[str, str], body: bytes) -> Reply:
        """Serve one Web API request (called by the HTTP handler)."""
        try:
            params = parse_params(query, headers, body)
        except ApiError as exc:
            return 200, {}, {"ok": False, "error": exc.error}
        token = bearer(headers) or params.pop("token", None)
        params.pop("token", None)
        with self._lock:
            fault = self._take_fault(method, params)
            if fault is not None:
                status, extra, answer = self._fault_reply(fault, method)
                self._record_call(method, params, status, False, answer.get("error", "html"))
                return status, extra, answer
            handler = _API_METHODS.get(method)
            headers_out: Headers = {}
            auth = _METHOD_AUTH.get(method, "bot")
            if handler is None:
                reply: dict[str, Any] = {
                    "ok": False,
                    "error": "unknown_method",
                    "req_method": method,
                }
            elif auth in ("bot", "user", "app") and not token:
                reply = {"ok": False, "error": "not_authed"}
            elif (
                auth == "bot"
                and (token == self.bot_token or token in self._no.dead_tokens)
                and (refused := self._refusal_for(method, token, params))
            ):
                status, headers_out, reply = refused
                if status != 200:
                    self._record_call(method, params, status, False, reply.get("error"))
                    return refused
            elif (auth == "bot" and token != self.bot_token) or (
                auth == "user" and token not in self._user_tokens
            ):
                reply = {"ok": False, "error": "invalid_auth"}
            else:
                # Handed to the handler, which pops them before the call is recorded.
                if auth == "user":
                    params["_user_id"] = self._user_tokens[str(token)]
                elif auth == "client" and basic(headers) is not None:
                    params["_basic"] = basic(headers)
                elif auth == "app":  # the handler checks the app-level token itself
                    params["_token"] = token
                try:
                    reply = {"ok": True, **handler(self, params)}
                except ApiError as exc:
                    reply = {"ok": False, "error": exc.error, **exc.extra}
                if auth == "bot":
                    scopes = ALL_SCOPES if self._no.scopes is None else self._no.scopes
                    headers_out = {"X-OAuth-Scopes": ",".join(sorted(scopes))}
                warnings = self._warnings_for(method) if reply["ok"] else []
                if warnings:
                    reply["warning"] = ",".join(warnings)
                    reply.setdefault("response_metadata", {})["warnings"] = warnings
            self._record_call(method, params, 200, bool(reply["ok"]), reply.get("error"))
            return 200, headers_out, reply

    def handle_response_url(self, path: str, headers: Mapping[str, str], body: bytes) -> Reply:
        """Serve a POST to a ``response_url`` handed out in a click payload."""
        try:
            params = parse_params("", headers, body)
        except ApiError as exc:
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
            except ApiError as exc:
                self._record_call("response_url", params, 400, False, exc.error)
                return 400, {}, {"ok": False, "error": exc.error, **exc.extra}
            self._record_call("response_url", params, 200, True, None)
            return 200, {}, {"ok": True}


# Slack method name -> handler; handlers run with the lock held and raise
# ApiError for {"ok": false, "error": ...}.
_API_METHODS: dict[str, Callable[[WebApi, Params], dict[str, Any]]] = {
    "api.test": AuthApi._api_test,
    "auth.test": AuthApi._auth_test,
    "conversations.open": ConversationsApi._conversations_open,
    "conversations.info": ConversationsApi._conversations_info,
    "chat.postMessage": ChatApi._chat_post_message,
    "chat.update": ChatApi._chat_update,
    "chat.delete": ChatApi._chat_delete,
    "chat.postEphemeral": ChatApi._chat_post_ephemeral,
    "views.open": ViewsApi._views_open,
    "views.update": ViewsApi._views_update,
    "views.publish": HomeApi._views_publish,
    "apps.connections.open": SocketModeApi._apps_connections_open,
    "users.info": UsersApi._users_info,
    "openid.connect.token": OpenIdApi._openid_connect_token,
    "openid.connect.userInfo": OpenIdApi._openid_connect_user_info,
}

# How a method is authenticated: the bot token unless listed here. "none": nothing (api.test,
# as in Slack); "client": the app's client id and secret, checked by the handler; "user": a
# user token that openid.connect.token issued.
_METHOD_AUTH: dict[str, str] = {
    "api.test": "none",
    "openid.connect.token": "client",
    "openid.connect.userInfo": "user",
    "apps.connections.open": "app",
}
