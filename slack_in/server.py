"""Serving the listener: an ASGI app (starlette + uvicorn) for Slack's HTTP requests, or Socket
Mode for a workspace that cannot reach us.

HTTP: `POST /slack/events` turns the starlette request into a `BoltRequest` and runs bolt's
synchronous `App.dispatch` in a worker thread, so a handler waiting on the database never
blocks the event loop; at most `PILOTGATE_LISTENER_THREADS` at once, first come first served.
`GET /healthz` answers `{"ok": true}`. Point the Slack app's "Interactivity & Shortcuts"
request URL at `https://<host>/slack/events`.

Run by `pilotgate serve` (`serving=True`: a dispatcher in the same process drains the register's
flow requests), `/healthz` also says so and names the register by a fingerprint of its database
URL (a hash; never the URL or its password), so a `pilotgate advance` on the same register can
queue its flow for this process instead of starting Prefect itself; `POST /internal/wake`
(loopback only, nothing through a proxy) then wakes the dispatcher at once instead of at its
next tick. Waking is all it does: the request itself is a row in the database.

Socket Mode: `serve_socket_mode` connects out to Slack with an app-level token (`xapp-...`,
scope `connections:write`) and dispatches the same payloads to the same App and listeners.
Bolt skips signature verification there (the websocket is authenticated by the app token), so
the workspace and app check runs as a bolt middleware (`slack_in.workspace`) on both
transports. The test suite drives it end to end against the emulator's WebSocket
(tests/slack_in/test_socket_mode.py, test_socket_mode_workspace.py,
tests/cli/test_serve_socket_mode.py).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import uvicorn
from anyio import CapacityLimiter, to_thread
from pydantic import SecretStr
from slack_bolt import App, BoltResponse
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from config.clock import utcnow
from slack_in import gatekeeper
from slack_in.app import build_app
from store import installation
from store.db import register_fingerprint
from tasks.runtime import Runtime

log = logging.getLogger("pilotgate.listener")

EVENTS_PATH = "/slack/events"
WAKE_PATH = "/internal/wake"
#: how `/healthz` of `pilotgate serve` names the service (the CLI looks for exactly this).
SERVE_SERVICE = "pilotgate serve"
#: Slack's interaction payloads are a few kB; anything far larger is not from Slack.
MAX_BODY = 1 << 20


def health(runtime: Runtime, *, serving: bool) -> dict[str, Any]:
    """What `GET /healthz` answers. Only `pilotgate serve` (`serving`) says which register it
    serves and that its dispatcher takes flow requests."""
    if not serving:
        return {"ok": True}
    return {
        "ok": True,
        "service": SERVE_SERVICE,
        "register": register_fingerprint(runtime.db.url),
        "run_mode": runtime.settings.run_mode,
        "dispatcher": True,
        "wake": WAKE_PATH,
    }


def slack_health(runtime: Runtime) -> dict[str, Any]:
    """Whether Slack takes what `serve` sends: "ok", or "paused" with the installation-wide
    error (a revoked token, a missing scope) that stopped the relay, since when and the fix.
    Queued messages wait and are sent once it is fixed."""
    try:
        with runtime.db.session() as session:
            state = installation.current(session)
            if state is None:
                return {"state": "ok"}
            return {
                "state": "paused",
                "error": state.error,
                # what waits: "token" (everything), "dm" (DMs), "scope:<method>" (that method)
                "holds": state.kind,
                "since": state.since.isoformat(),
                "detail": state.detail,
            }
    except SQLAlchemyError:
        return {"state": "unknown"}


def is_loopback(host: str | None) -> bool:
    try:
        address = ipaddress.ip_address(host or "")
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return bool(address.is_loopback or (mapped is not None and mapped.is_loopback))


def create_asgi_app(
    runtime: Runtime,
    on_wake: Callable[[], None] | None = None,
    *,
    clock: Callable[[], datetime] = utcnow,
    app: App | None = None,
    serving: bool = False,
    routes: Sequence[BaseRoute] = (),
) -> Starlette:
    """The HTTP face of the listener; `app` defaults to `build_app(runtime, ...)`. `serving`:
    this is `pilotgate serve`, whose dispatcher `on_wake` wakes (see the module's docstring)."""
    bolt_app = app or build_app(runtime, on_wake=on_wake, clock=clock)
    # At most `PILOTGATE_LISTENER_THREADS` requests at once, first come first served (anyio's
    # CapacityLimiter is FIFO; the others wait on the event loop, which costs nothing). Without
    # it each request took one of anyio's 40 threads: on a small machine 40 decisions shared
    # the interpreter, a decision holding its gate's row lock waited for the interpreter while
    # the others waited for the lock, and the slowest clicks waited several times the median.
    turns = CapacityLimiter(runtime.settings.listener_threads)
    health_body = health(runtime, serving=serving)
    settings = runtime.settings
    secret = settings.slack_signing_secret
    signing_secret = secret.get_secret_value() if secret is not None else None

    async def slack_events(request: Request) -> Response:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
            return JSONResponse({"error": "request too large"}, status_code=413)
        body = await request.body()
        if len(body) > MAX_BODY:
            return JSONResponse({"error": "request too large"}, status_code=413)
        # Signature, age and workspace on the raw bytes, before bolt parses anything.
        if signing_secret is not None:
            refused = gatekeeper.check(
                body,
                request.headers,
                signing_secret=signing_secret,
                team_id=settings.slack_team_id,
                app_id=settings.slack_app_id,
            )
            if refused is not None:
                return JSONResponse({"error": "invalid request"}, status_code=refused.status)
        timestamp = request.headers.get("x-slack-request-timestamp", "")
        if not timestamp.isascii() or not timestamp.isdigit():
            return JSONResponse({"error": "invalid request"}, status_code=401)
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            return JSONResponse({"error": "invalid request"}, status_code=400)
        bolt_response: BoltResponse = await to_thread.run_sync(
            bolt_app.dispatch, to_bolt_request(request, body), limiter=turns
        )
        return to_starlette_response(bolt_response)

    async def healthz(request: Request) -> Response:
        if not serving:
            return JSONResponse(health_body)
        slack = await asyncio.to_thread(slack_health, runtime)
        return JSONResponse({**health_body, "slack": slack})

    async def wake(request: Request) -> Response:
        if not serving or on_wake is None:
            return JSONResponse({"error": "not found"}, status_code=404)
        client = request.client
        proxied = "x-forwarded-for" in request.headers or "forwarded" in request.headers
        if client is None or not is_loopback(client.host) or proxied:
            return JSONResponse({"error": "loopback only"}, status_code=403)
        on_wake()
        return JSONResponse({"ok": True}, status_code=202)

    return Starlette(
        routes=[
            Route(EVENTS_PATH, slack_events, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route(WAKE_PATH, wake, methods=["POST"]),
            # The web pages (web.app.create_routes), composed by the entry point: after ours,
            # because they mount at "" and take every other path.
            *routes,
        ]
    )


def serve_http(
    runtime: Runtime,
    host: str = "127.0.0.1",
    port: int = 3000,
    on_wake: Callable[[], None] | None = None,
    *,
    serving: bool = False,
    routes: Sequence[BaseRoute] = (),
) -> None:
    """Run the listener (and the `routes` given, e.g. the web pages) over HTTP until
    interrupted (blocking)."""
    uvicorn.run(
        create_asgi_app(runtime, on_wake, serving=serving, routes=routes),
        host=host,
        port=port,
        log_level="warning",
    )


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
        serving: bool = False,
        routes: Sequence[BaseRoute] = (),
        app: App | None = None,
    ) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.host, self.port = self._sock.getsockname()[:2]
        config = uvicorn.Config(
            create_asgi_app(runtime, on_wake, clock=clock, app=app, serving=serving, routes=routes),
            log_level="warning",
            lifespan="off",
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
    serving: bool = False,
    routes: Sequence[BaseRoute] = (),
) -> ListenerThread:
    """Start the listener on 127.0.0.1:`port` (0: any free port); `.url` is its events URL,
    `.stop()` shuts it down."""
    return ListenerThread(
        runtime, port=port, on_wake=on_wake, clock=clock, serving=serving, routes=routes
    ).start()
