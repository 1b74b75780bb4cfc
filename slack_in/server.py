"""Serving the listener: an ASGI app (starlette + uvicorn) for Slack's HTTP requests, or Socket
Mode for a workspace that cannot reach us.

HTTP: `POST /slack/events` turns the starlette request into a `BoltRequest` and runs bolt's
synchronous `App.dispatch` in the thread pool (`run_in_threadpool`), so a handler waiting on the
database never blocks the event loop; `GET /healthz` answers `{"ok": true}`. Point the Slack
app's "Interactivity & Shortcuts" request URL at `https://<host>/slack/events`.

Socket Mode: `serve_socket_mode` connects out to Slack with an app-level token (`xapp-...`,
scope `connections:write`) and dispatches the same payloads to the same App and listeners.
Bolt skips signature verification there (the websocket is authenticated by the app token). It
needs Slack itself and is not exercised by the test suite beyond construction.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime

import uvicorn
from pydantic import SecretStr
from slack_bolt import App, BoltResponse
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from config.clock import utcnow
from slack_in.app import build_app
from tasks.runtime import Runtime

log = logging.getLogger("pilotgate.listener")

EVENTS_PATH = "/slack/events"
#: Slack's interaction payloads are a few kB; anything far larger is not from Slack.
MAX_BODY = 1 << 20


def create_asgi_app(
    runtime: Runtime,
    on_wake: Callable[[], None] | None = None,
    *,
    clock: Callable[[], datetime] = utcnow,
    app: App | None = None,
) -> Starlette:
    """The HTTP face of the listener; `app` defaults to `build_app(runtime, ...)`."""
    bolt_app = app or build_app(runtime, on_wake=on_wake, clock=clock)

    async def slack_events(request: Request) -> Response:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
            return JSONResponse({"error": "request too large"}, status_code=413)
        body = await request.body()
        if len(body) > MAX_BODY:
            return JSONResponse({"error": "request too large"}, status_code=413)
        # slack_sdk's verifier calls int() on the timestamp; a non-number would surface as a 500.
        timestamp = request.headers.get("x-slack-request-timestamp", "")
        if not timestamp.isascii() or not timestamp.isdigit():
            return JSONResponse({"error": "invalid request"}, status_code=401)
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            return JSONResponse({"error": "invalid request"}, status_code=400)
        bolt_response: BoltResponse = await run_in_threadpool(
            bolt_app.dispatch, to_bolt_request(request, body)
        )
        return to_starlette_response(bolt_response)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True})

    return Starlette(
        routes=[
            Route(EVENTS_PATH, slack_events, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )


def serve_http(
    runtime: Runtime,
    host: str = "127.0.0.1",
    port: int = 3000,
    on_wake: Callable[[], None] | None = None,
) -> None:
    """Run the listener over HTTP until interrupted (blocking)."""
    uvicorn.run(create_asgi_app(runtime, on_wake), host=host, port=port, log_level="warning")


def socket_mode_handler(
    runtime: Runtime,
    app_token: str | SecretStr | None = None,
    on_wake: Callable[[], None] | None = None,
) -> SocketModeHandler:
    """A Socket Mode handler over the same App (not connected yet)."""
    token = app_token if app_token is not None else runtime.settings.slack_app_token
    if isinstance(token, SecretStr):
        token = token.get_secret_value()
    if not token:
        raise ValueError("Socket Mode needs an app-level token (SLACK_APP_TOKEN, xapp-...)")
    return SocketModeHandler(build_app(runtime, on_wake=on_wake), token)


def serve_socket_mode(
    runtime: Runtime,
    app_token: str | SecretStr | None = None,
    on_wake: Callable[[], None] | None = None,
) -> None:
    """Connect to Slack over Socket Mode and handle clicks until interrupted (blocking)."""
    socket_mode_handler(runtime, app_token, on_wake).start()


class ListenerThread:
    """The HTTP listener on loopback in a background thread (tests, demo, benchmark)."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        on_wake: Callable[[], None] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.host, self.port = self._sock.getsockname()[:2]
        config = uvicorn.Config(
            create_asgi_app(runtime, on_wake, clock=clock), log_level="warning", lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name=f"listener:{self.port}", daemon=True)
        self._error: BaseException | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """Where Slack (or the emulator) sends interaction payloads."""
        return self.base_url + EVENTS_PATH

    def _run(self) -> None:
        try:
            asyncio.run(self._server.serve(sockets=[self._sock]))
        except BaseException as exc:  # reported by start()
            self._error = exc
        finally:
            self._sock.close()

    def start(self, timeout: float = 10.0) -> ListenerThread:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if self._error is not None or not self._thread.is_alive():
                raise RuntimeError(f"listener failed to start: {self._error!r}")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"listener did not start within {timeout} s")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 10.0, *, wait: bool = True) -> None:
        """Shut down (uvicorn needs 0.1-0.2 s). `wait=False` returns at once and lets the
        thread finish on its own (tests that start a listener each)."""
        self._server.should_exit = True
        if not wait:
            return
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._sock.close()

    def __enter__(self) -> ListenerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_in_thread(
    runtime: Runtime,
    port: int = 0,
    *,
    on_wake: Callable[[], None] | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> ListenerThread:
    """Start the listener on 127.0.0.1:`port` (0: any free port); `.url` is its events URL,
    `.stop()` shuts it down."""
    return ListenerThread(runtime, port=port, on_wake=on_wake, clock=clock).start()
