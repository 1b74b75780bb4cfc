"""The bolt App with pilotgate's listeners.

With `process_before_response=True` the HTTP answer goes back to Slack only after the listener
returned, so a decision is committed before Slack hears "200", and a database error propagates
as a 500 (Slack shows the user an error; nothing was accepted).

Security: bolt's RequestVerification checks the v0 HMAC signature against the signing secret
and refuses timestamps more than five minutes away from now with 401 (slack_sdk's
SignatureVerifier: `abs(now - timestamp) > 300`); slack_in.server answers 401 itself for a
timestamp that is not a number (bolt would fail on `int()` with a 500). Authorization is a
static `authorize` function that hands bolt the bot token: bolt's default single-team
authorization would call `auth.test` on the first request, i.e. a Slack call inside the ack
path, and a Slack outage would then refuse decisions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from slack_bolt import App
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_sdk import WebClient

from config.clock import utcnow
from slack_in import (
    approve,
    command,
    home,
    propose_submit,
    reject_button,
    reject_submit,
    review_answer,
    terminate_submit,
    workspace,
)
from slack_in.deps import ListenerDeps, deps_for
from tasks.runtime import Runtime

#: views.open runs inside Slack's 3-second window: fail fast rather than retry.
VIEWS_OPEN_TIMEOUT = 2


class ListenerNotConfigured(RuntimeError):
    pass


def build_app(
    runtime: Runtime,
    *,
    on_wake: Callable[[], None] | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> App:
    """The bolt App with pilotgate's listeners; no Slack call is made to build it."""
    settings = runtime.settings
    if settings.slack_bot_token is None or settings.slack_signing_secret is None:
        raise ListenerNotConfigured(
            "SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET must be set to receive Slack clicks"
        )
    bot_token = settings.slack_bot_token.get_secret_value()
    # The App's client carries no token: `authorize` gives each request's client the bot token.
    # (Given a token, bolt would authorize with a lazy auth.test on the first click.)
    client = WebClient(base_url=settings.slack_api_url, timeout=VIEWS_OPEN_TIMEOUT)

    def authorize(enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
        return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_token=bot_token)

    app = App(
        name="pilotgate",
        signing_secret=settings.slack_signing_secret.get_secret_value(),
        client=client,
        authorize=authorize,
        process_before_response=True,
        token_verification_enabled=False,
        logger=_bolt_logger(),
    )
    workspace.register(app, team_id=settings.slack_team_id, app_id=settings.slack_app_id)
    register(app, deps_for(runtime.db, clock=clock, on_wake=on_wake))
    return app


def register(app: App, deps: ListenerDeps) -> None:
    """Wire every listener module to `app`."""
    for listener in (
        approve,
        reject_button,
        reject_submit,
        home,
        command,
        terminate_submit,
        propose_submit,
        review_answer,
    ):
        listener.register(app, deps)


class _TokenFromClientNotice(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN from the environment by itself and warns that it is unused
    next to `client`; that is intended here (the token reaches requests via `authorize`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != warning_client_prioritized_and_token_skipped()


def _bolt_logger() -> logging.Logger:
    logger = logging.getLogger("pilotgate.bolt")
    if not any(isinstance(f, _TokenFromClientNotice) for f in logger.filters):
        logger.addFilter(_TokenFromClientNotice())
    return logger
