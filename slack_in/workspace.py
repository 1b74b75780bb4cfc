"""Only our workspace and app count, on every transport: a bolt global middleware.

Over HTTP `slack_in.gatekeeper` refuses a payload that claims another team, enterprise or app
before bolt reads it. Socket Mode has no HTTP request to screen (the websocket is authenticated
by the app-level token, and bolt skips signature checks there), yet an app token can be shared
by an org-wide install or a sibling app's config: the same claims must be checked. This
middleware runs inside bolt for both transports, so neither path depends on the other. A refused
payload is not acked (Slack shows the user nothing happened and nothing is recorded) and is
logged once, without its body.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse

from slack_in.gatekeeper import not_ours

log = logging.getLogger("pilotgate.listener")

Middleware = Callable[[BoltRequest, BoltResponse, Callable[[], BoltResponse]], BoltResponse]


def guard(team_id: str | None, app_id: str | None) -> Middleware:
    """The middleware comparing a payload's team / enterprise / app to SLACK_TEAM_ID and
    SLACK_APP_ID (either unset: that claim is not checked)."""

    def only_our_workspace(
        req: BoltRequest,
        resp: BoltResponse,
        next: Callable[[], BoltResponse],  # noqa: A002
    ) -> BoltResponse:
        body: Any = req.body
        if (team_id is not None or app_id is not None) and isinstance(body, dict):
            why = not_ours(body, team_id=team_id, app_id=app_id)
            if why is not None:
                log.info("refused a %s request: %s (not acked)", req.mode, why)
                return BoltResponse(status=403, body="")
        return next()

    return only_our_workspace


def register(app: App, *, team_id: str | None, app_id: str | None) -> None:
    """Install the guard first, before any listener sees a payload."""
    app.middleware(guard(team_id, app_id))
