"""The interaction sender: signs payloads as Slack does and POSTs them to the app's listener.

This is the emulator playing Slack towards the app: requests carry Slack's
headers (``X-Slack-Request-Timestamp``, a v0 ``X-Slack-Signature``, Slackbot's
User-Agent) so the app verifies them with its real slack-bolt code, and every
delivery is recorded with the listener's answer.  Forged or stale requests are
sent through the same path (:meth:`InteractionSender.send_raw`).
"""

from __future__ import annotations

import copy
import json
import time
from typing import Any
from urllib.parse import urlencode

import httpx

from .errors import EmulatorError
from .records import InteractionRecord
from .signing import sign
from .state import EmulatorState
from .wire import Headers

__all__ = ["InteractionSender"]

_SLACKBOT_UA = "Slackbot 1.0 (+https://api.slack.com/robots)"


class InteractionSender(EmulatorState):
    """Sign and deliver payloads to a listener URL, recording each delivery."""

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
