"""What every page handler needs: the runtime, the clock, the wake-up, the session cookies, and
the few checks every request goes through (who is signed in, is a POST genuine)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from tasks.runtime import Runtime
from web.render import render
from web.session import SESSION_COOKIE, Sessions, SignedIn, same, session_key

log = logging.getLogger("pilotgate.web")

#: a page form is a few kB at most (a reason is at most 2,000 characters, as in Slack).
MAX_FORM = 64 * 1024
NO_STORE = {"Cache-Control": "no-store"}


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


@dataclass
class Web:
    runtime: Runtime
    clock: Callable[[], datetime]
    on_wake: Callable[[], None] | None
    #: None when sign-in is not configured (no session key or no Slack client credentials).
    sessions: Sessions | None

    @classmethod
    def build(
        cls,
        runtime: Runtime,
        *,
        clock: Callable[[], datetime],
        on_wake: Callable[[], None] | None,
    ) -> Web:
        settings = runtime.settings
        key = session_key(settings)
        configured = (
            key is not None
            and bool(settings.slack_client_id)
            and settings.slack_client_secret is not None
        )
        sessions = (
            Sessions(
                key,
                max_age=settings.session_hours * 3600,
                secure=settings.base_url.lower().startswith("https://"),
            )
            if configured and key is not None
            else None
        )
        if sessions is None:
            log.warning(
                "web sign-in is not configured (SLACK_CLIENT_ID, SLACK_CLIENT_SECRET and "
                "PILOTGATE_SESSION_SECRET or SLACK_SIGNING_SECRET): pages answer 503"
            )
        return cls(runtime, clock, on_wake, sessions)

    @property
    def base_url(self) -> str:
        return self.runtime.settings.base_url.rstrip("/")

    @property
    def origin(self) -> str:
        return origin_of(self.base_url)

    def signed_in(self, request: Request) -> SignedIn | None:
        if self.sessions is None:
            return None
        who = self.sessions.read_session(request.cookies.get(SESSION_COOKIE))
        team = self.runtime.settings.slack_team_id
        if who is not None and team and who.team_id != team:
            return None  # signed in to another workspace before SLACK_TEAM_ID was set
        return who

    def to_signin(self, request: Request) -> Response:
        if self.sessions is None:
            return not_configured()
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/signin?next={quote(path, safe='')}", status_code=302)

    def genuine_post(self, request: Request, who: SignedIn | None, form: Mapping[str, Any]) -> bool:
        """A POST from our own page in this session: the same origin (when the browser says)
        and the session's CSRF token."""
        sent_origin = request.headers.get("origin")
        if sent_origin and sent_origin.lower() != self.origin:
            return False
        if request.headers.get("sec-fetch-site") == "cross-site":
            return False
        token = form.get("csrf")
        return who is not None and isinstance(token, str) and same(token, who.csrf)


def page(
    template: str,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    context.setdefault("who", None)
    context.setdefault("member", False)
    return HTMLResponse(
        render(template, **context),
        status_code=status_code,
        headers={**NO_STORE, **(headers or {})},
    )


def message(
    status_code: int,
    title: str,
    text: str,
    *,
    who: SignedIn | None = None,
    member: bool = False,
    back: str | None = None,
) -> HTMLResponse:
    return page(
        "message.html.j2",
        status_code,
        title=title,
        text=text,
        who=who,
        member=member,
        back=back,
    )


def not_configured() -> HTMLResponse:
    return message(
        503,
        "Sign-in is not configured",
        "Set SLACK_CLIENT_ID, SLACK_CLIENT_SECRET and PILOTGATE_SESSION_SECRET (or "
        "SLACK_SIGNING_SECRET) for the pages to sign people in with Slack.",
    )


def forbidden(text: str, who: SignedIn | None = None, member: bool = False) -> HTMLResponse:
    return message(403, "Not allowed", text, who=who, member=member, back="/")


async def read_form(request: Request) -> dict[str, str] | None:
    """The POSTed form (`application/x-www-form-urlencoded`, what the pages' forms send) as
    text fields, or None if it is too large or not such a form. Parsed here with the standard
    library: Starlette's `request.form()` needs python-multipart, which pilotgate does not use."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        return None
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > MAX_FORM):
        return None
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            return None
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        return None
    form: dict[str, str] = {}
    for key, value in pairs:
        form.setdefault(key, value)  # the first of a repeated field
    return form
