"""The web app: its routes, its security headers, and how another app mounts it.

`create_web_app(runtime, clock=..., on_wake=...)` is a Starlette app serving every page at its
own path; `create_routes(...)` is the same app as one `Mount("")`, to put after another app's
own routes (Starlette tries routes in order, so `/slack/events` and `/healthz` stay theirs).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from config.clock import utcnow
from tasks.runtime import Runtime
from web import export, pages, signin
from web.context import Web
from web.render import asset

#: nothing but this server: no scripts at all, styles and images from here, forms to here.
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


class SecurityHeaders:
    """Adds the headers above to every response of the pages (pure ASGI, no body buffering)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in HEADERS if k not in present]
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _asset(name: str, media_type: str) -> Callable[[Request], Response]:
    body = asset(name)

    def serve(request: Request) -> Response:
        return Response(body, media_type=media_type, headers={"Cache-Control": "max-age=3600"})

    return serve


def routes() -> list[BaseRoute]:
    return [
        Route("/", pages.portfolio, methods=["GET"]),
        Route("/pilots/{pilot_id}", pages.pilot, methods=["GET"]),
        Route("/me", pages.me, methods=["GET"]),
        Route(
            "/me/requests/{request_id:int}/{verdict:str}",
            pages.answer,
            methods=["POST"],
        ),
        Route("/export/{name}", export.export, methods=["GET"]),
        Route("/signin", signin.signin, methods=["GET"]),
        Route(signin.CALLBACK, signin.callback, methods=["GET"]),
        Route("/signout", signin.signout, methods=["POST"]),
        Route("/signed-out", signin.signed_out, methods=["GET"]),
        Route("/style.css", _asset("style.css", "text/css"), methods=["GET"]),
        Route("/favicon.svg", _asset("favicon.svg", "image/svg+xml"), methods=["GET"]),
        Route("/favicon.ico", _asset("favicon.svg", "image/svg+xml"), methods=["GET"]),
    ]


def create_web_app(
    runtime: Runtime,
    *,
    clock: Callable[[], datetime] = utcnow,
    on_wake: Callable[[], None] | None = None,
) -> Starlette:
    """The pages as an ASGI app; `on_wake` is called after an answer settled a gate (the
    dispatcher then starts resolve-gate at once rather than at its next tick)."""
    app = Starlette(routes=routes())
    app.state.web = Web.build(runtime, clock=clock, on_wake=on_wake)
    app.add_middleware(SecurityHeaders)
    return app


def create_routes(
    runtime: Runtime,
    *,
    clock: Callable[[], datetime] = utcnow,
    on_wake: Callable[[], None] | None = None,
) -> list[BaseRoute]:
    """The pages as one catch-all mount, to append to another Starlette app's routes."""
    return [Mount("", app=create_web_app(runtime, clock=clock, on_wake=on_wake))]
