"""Fault injection: make Web API calls fail the way Slack does under load or in an outage.

Retry and back-off code is only trustworthy if it has met real 429s (with
``Retry-After``) and 5xx answers; these let a test schedule them per method,
for a number of calls or until :meth:`FaultInjection.recover`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from typing import Any

from .state import EmulatorState, Fault, Refusal
from .wire import Headers, Params, Reply

__all__ = ["FAULT_ERRORS", "RATE_TIERS", "FaultInjection", "SlackSaysNo"]

# the "error" field Slack puts in the JSON body of a faulted answer
FAULT_ERRORS = {429: "ratelimited", 500: "internal_error", 503: "service_unavailable"}


class FaultInjection(EmulatorState):
    """Pending faults and outages; consulted before every Web API and response_url call."""

    def fail(
        self,
        status: int = 429,
        count: int = 1,
        retry_after: int | None = 1,
        methods: Iterable[str] | None = None,
        *,
        html: bool = False,
        channel: str | None = None,
    ) -> None:
        """Answer the next ``count`` matching Web API calls with HTTP ``status``.

        429 carries ``Retry-After: retry_after`` and ``{"ok": false, "error":
        "ratelimited"}``; 5xx carry a JSON error body, or with ``html`` the HTML page
        Slack's edge answers in an outage.  ``methods`` limits the
        fault to those API methods (default: all), ``channel`` to calls naming that
        channel.  Faulted calls change nothing.
        """
        if status < 400:
            raise ValueError("status must be an HTTP error status (>= 400)")
        if count < 1:
            raise ValueError("count must be >= 1")
        with self._lock:
            self._faults.append(Fault(status, count, retry_after, _methods(methods), html, channel))

    def outage(
        self,
        status: int = 503,
        methods: Iterable[str] | None = None,
        retry_after: int | None = None,
        *,
        html: bool = False,
    ) -> None:
        """Answer every matching Web API call with HTTP ``status`` until :meth:`recover`."""
        if status < 400:
            raise ValueError("status must be an HTTP error status (>= 400)")
        with self._lock:
            self._faults.append(Fault(status, None, retry_after, _methods(methods), html))

    def recover(self) -> None:
        """Clear all pending faults and outages."""
        with self._lock:
            self._faults.clear()

    def _take_fault(self, method: str, params: Params | None = None) -> Fault | None:
        for fault in self._faults:
            if fault.matches(method, params):
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                return fault
        return None


def _methods(methods: Iterable[str] | None) -> frozenset[str] | None:
    if methods is None:
        return None
    if isinstance(methods, str):
        return frozenset({methods})
    return frozenset(methods)


#: The scope each Web API method needs of a bot token (Slack's method pages).
METHOD_SCOPES: dict[str, str] = {
    "chat.postMessage": "chat:write",
    "chat.postEphemeral": "chat:write",
    "chat.update": "chat:write",
    "chat.delete": "chat:write",
    "conversations.open": "im:write",
    "users.info": "users:read",
}
#: conversations.info needs the read scope of the conversation's type.
INFO_SCOPES = {"C": "channels:read", "G": "groups:read", "D": "im:read"}
ALL_SCOPES = frozenset({*METHOD_SCOPES.values(), *INFO_SCOPES.values()})

#: Slack's per-method rate-limit tiers, calls per minute per workspace
#: (https://api.slack.com/apis/rate-limits); chat.postMessage is "special": about one message
#: per second per channel.
RATE_TIERS: dict[str, int] = {
    "chat.postEphemeral": 100,
    "chat.update": 50,
    "chat.delete": 50,
    "conversations.open": 50,
    "conversations.info": 50,
    "users.info": 100,
    "auth.test": 100,
    "views.open": 100,
    "views.update": 100,
    "views.publish": 100,
}
PER_CHANNEL_SECONDS = {"chat.postMessage": 1.0}

_HTML_5XX = (
    "<!DOCTYPE html><html><head><title>Slack is having trouble</title></head><body>"
    "<h1>{status}</h1><p>Something went wrong. Please try again.</p></body></html>"
)


class SlackSaysNo(FaultInjection):
    """The documented refusals of a real workspace: dead tokens, missing scopes, a bot that is
    not in the channel, the Messages tab switched off, per-method rate-limit tiers, warnings.
    Everything is off until a test turns it on, so the happy path stays Slack's happy path."""

    # ------------------------------------------------------------------ the installation

    def revoke_token(self, error: str = "token_revoked") -> None:
        """The bot token stops working: every call answers ``error`` (``token_revoked``,
        ``invalid_auth``, ``account_inactive``, ``token_expired``)."""
        with self._lock:
            self._no.dead_tokens[self.bot_token] = error

    def set_bot_token(self, token: str) -> None:
        """A reinstall: the app's bot token is now ``token`` (the old one stops working)."""
        with self._lock:
            self._no.dead_tokens.setdefault(self.bot_token, "invalid_auth")
            self._no.dead_tokens.pop(token, None)
            self.bot_token = token

    def set_scopes(self, scopes: Iterable[str] | None) -> None:
        """The bot token's scopes (None: all pilotgate needs)."""
        with self._lock:
            self._no.scopes = None if scopes is None else set(scopes)

    def remove_scope(self, scope: str) -> None:
        with self._lock:
            current = set(ALL_SCOPES) if self._no.scopes is None else self._no.scopes
            current.discard(scope)
            self._no.scopes = current

    def set_messages_tab(self, enabled: bool) -> None:
        """App Home's Messages tab: off, every DM from the app is ``messages_tab_disabled``."""
        with self._lock:
            self._no.messages_tab = enabled

    def remove_bot_from(self, channel: str) -> None:
        """The bot is not a member of ``channel``: posting there is ``not_in_channel``."""
        with self._lock:
            self._no.outside.add(channel)

    def invite_bot(self, channel: str) -> None:
        with self._lock:
            self._no.outside.discard(channel)

    def set_enterprise(self, enterprise_id: str | None) -> None:
        """Make the workspace part of an Enterprise Grid org (``E...``): auth.test and
        payloads carry ``enterprise_id``."""
        with self._lock:
            self._no.enterprise_id = enterprise_id

    # ------------------------------------------------------------------ per call

    def refuse(
        self,
        error: str,
        *,
        methods: Iterable[str] | None = None,
        count: int | None = 1,
        channel: str | None = None,
        **extra: Any,
    ) -> None:
        """Answer the next ``count`` matching calls (None: until :meth:`recover`) with HTTP 200
        ``{"ok": false, "error": error, **extra}``; ``channel`` limits it to calls naming that
        channel."""
        with self._lock:
            self._no.refusals.append(Refusal(error, count, _methods(methods), channel, extra))

    def warn(self, warning: str, methods: Iterable[str] | None = None) -> None:
        """Add Slack's ``warning`` (and ``response_metadata.warnings``) to accepted answers."""
        with self._lock:
            self._no.warnings.append((warning, _methods(methods)))

    def enforce_rate_limits(self, enabled: bool = True) -> None:
        """Answer calls beyond each method's tier (and chat.postMessage beyond one a second
        per channel) with 429 and an integer ``Retry-After``, as Slack does."""
        with self._lock:
            self._no.rate_limits = enabled
            self._no.recent.clear()

    def recover(self) -> None:
        """Clear all pending faults, outages and scheduled refusals."""
        super().recover()
        with self._lock:
            self._no.refusals.clear()

    # ------------------------------------------------------------------ lock held

    def _refusal_for(self, method: str, token: str | None, params: Params) -> Reply | None:
        """What Slack answers instead of running the method, or None (lock held)."""
        no = self._no
        if token is not None and token in no.dead_tokens:
            return 200, {}, {"ok": False, "error": no.dead_tokens[token]}
        needed = self._scope_needed(method, params)
        if needed is not None:
            provided = ",".join(sorted(ALL_SCOPES if no.scopes is None else no.scopes))
            return (
                200,
                {"X-OAuth-Scopes": provided},
                {"ok": False, "error": "missing_scope", "needed": needed, "provided": provided},
            )
        limited = self._rate_limited(method, params)
        if limited is not None:
            return 429, {"Retry-After": str(limited)}, {"ok": False, "error": "ratelimited"}
        for refusal in no.refusals:
            if refusal.matches(method, params):
                if refusal.remaining is not None:
                    refusal.remaining -= 1
                    if refusal.remaining <= 0:
                        no.refusals.remove(refusal)
                return 200, {}, {"ok": False, "error": refusal.error, **refusal.extra}
        return None

    def _scope_needed(self, method: str, params: Params) -> str | None:
        scopes = self._no.scopes
        if scopes is None:
            return None
        needed = METHOD_SCOPES.get(method)
        if method == "conversations.info":
            needed = INFO_SCOPES.get(str(params.get("channel") or "C")[:1], "channels:read")
        return needed if needed is not None and needed not in scopes else None

    def _rate_limited(self, method: str, params: Params) -> int | None:
        """Seconds to wait (Slack's integer Retry-After) if this call is over its tier."""
        if not self._no.rate_limits:
            return None
        now = time.monotonic()
        per_channel = PER_CHANNEL_SECONDS.get(method)
        if per_channel is not None:
            key: Any = (method, str(params.get("channel")))
            window, allowed = per_channel, 1
        elif method in RATE_TIERS:
            key, window, allowed = method, 60.0, RATE_TIERS[method]
        else:
            return None
        recent = [t for t in self._no.recent.get(key, []) if now - t < window]
        if len(recent) >= allowed:
            self._no.recent[key] = recent
            return max(1, math.ceil(recent[0] + window - now))
        recent.append(now)
        self._no.recent[key] = recent
        return None

    def _warnings_for(self, method: str) -> list[str]:
        return [w for w, methods in self._no.warnings if methods is None or method in methods]

    def _fault_reply(self, fault: Fault, method: str) -> Reply:
        error = FAULT_ERRORS.get(fault.status, "fatal_error")
        extra: Headers = {}
        if fault.retry_after is not None and (fault.status == 429 or fault.status >= 500):
            extra["Retry-After"] = str(fault.retry_after)
        if fault.html:
            extra["Content-Type"] = "text/html; charset=utf-8"
            return fault.status, extra, {"html": _HTML_5XX.format(status=fault.status)}
        return fault.status, extra, {"ok": False, "error": error}
