"""The Slack emulator: one object that plays Slack on loopback for tests and the demo.

pilotgate talks to Slack through the real ``slack_sdk.WebClient`` and receives
button clicks through a real slack-bolt listener.  No real Slack is reachable
in development or CI, so :class:`SlackEmulator` plays Slack on loopback: it
answers the Web API methods pilotgate uses in Slack's wire format (HTTP 200 +
``{"ok": false, "error": ...}`` for API errors, 429 + ``Retry-After`` for rate
limits), records everything for assertions, and can act as a human clicking a
button or submitting a modal by sending signed interaction payloads to the
app's listener.  The production code only notices the different base URL.

This module assembles the emulator from its parts and owns its lifecycle
(binding the port, serving in a thread); each part is a mixin in its own
module: the shared state (:mod:`.state`), recordings (:mod:`.recordings`),
fault injection and Slack's documented refusals (dead tokens, scopes, membership,
the Messages tab, rate-limit tiers: :mod:`.faults`; length limits: :mod:`.limits`),
the Web API front door (:mod:`.webapi`) and
method families (:mod:`.auth`, :mod:`.conversations`, :mod:`.chat`,
:mod:`.views`, :mod:`.users`, :mod:`.response_urls`, Sign in with Slack in
:mod:`.openid`), simulated users
(:mod:`.simulated_users`), the interaction sender (:mod:`.sender`), the App Home
(:mod:`.home`), slash commands (:mod:`.commands`), Socket Mode over a real
WebSocket (:mod:`.socket_mode`) and the ``/_emu/`` control API (:mod:`.control`).
The HTTP server is :mod:`._server`.
"""

from __future__ import annotations

import threading

from ._server import EmulatorHTTPServer
from .control import ControlApi
from .errors import ClientValidationError, EmulatorError, NotFoundError
from .webapi import WebApi

__all__ = [
    "ClientValidationError",
    "EmulatorError",
    "NotFoundError",
    "SlackEmulator",
]


class SlackEmulator(ControlApi, WebApi):
    """A Slack Web API emulator served over HTTP on loopback.

    Use as a context manager, or call :meth:`start` / :meth:`stop`.  Point the
    code under test at :attr:`api_url` (``WebClient(base_url=emu.api_url)``).
    """

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> SlackEmulator:
        """Bind the port and serve in a daemon thread. Returns self."""
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
        self.stop_socket_mode()
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
