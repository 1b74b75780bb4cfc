"""The Reject button: a rejection needs a reason, so the approver gets a modal asking for it.

The one Slack call on the ack path (`views.open`), because a `trigger_id` lives three seconds;
it is made after the screening transaction, with no database connection held. Someone who may
not decide gets an ephemeral refusal instead, through the outbox.

`views.open` can fail after the ack (the trigger expired or was already used, Slack timed out or
rate limited the call). Left to bolt that is an HTTP 500 to Slack and an error in front of the
approver; instead the approver gets an ephemeral saying what to do (click Reject again, or reject
on the pilot's page, which has the same form), and nothing is recorded.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from config.links import pilot_url
from config.names import Keys
from slack_in import payload
from slack_in.decide import tell, wake
from slack_in.deps import ListenerDeps
from slack_out import messages
from slack_out.render import Mrkdwn, mrkdwn_escape, render_view
from store.read_models import pilot_title
from tasks.answers import ALREADY_ANSWERED, screen

log = logging.getLogger("pilotgate.listener")

REJECT_ACTION = "pilotgate_reject"
#: what the approver is told when the reason form cannot open (mrkdwn; the link is ours).
FORM_FAILED = (
    "The form for your reason could not be opened ({error}), so nothing was recorded. Click "
    "*Reject* again, or reject on <{url}|the pilot's page>."
)


def open_reject_modal(
    ack: Ack, body: dict[str, Any], client: WebClient, deps: ListenerDeps
) -> None:
    ack()
    request_id = payload.request_id(payload.button_value(body))
    user_id = payload.user_id(body)
    trigger_id = body.get("trigger_id")
    if request_id is None or user_id is None or not isinstance(trigger_id, str):
        log.info("reject click without a usable request id, user or trigger; nothing recorded")
        return
    now = deps.clock()
    with deps.transaction() as session:
        target, refused = screen(session, request_id, user_id, now)
        if target is None:
            return
        # a click on the App Home has no channel: answer in the DM the ask went to
        channel = payload.channel(body) or target.channel
        refused = refused or (ALREADY_ANSWERED if target.answered else None)
        if refused is not None:
            tell(session, channel, user_id, refused, now)
            return
        title = pilot_title(session, target.pilot_id)
        pilot_id = target.pilot_id
    view = render_view(
        "reject_modal.json.j2",
        request_id=request_id,
        title=title,
        stage_label=messages.label(target.stage),
    )
    try:
        client.views_open(trigger_id=trigger_id, view=view)
    except (SlackApiError, OSError, TimeoutError) as exc:
        error = _why(exc)
        log.warning(
            "reject form not opened request=%s user=%s error=%s; approver told, nothing recorded",
            request_id,
            user_id,
            error,
        )
        text = Mrkdwn(FORM_FAILED.format(error=mrkdwn_escape(error), url=pilot_url(pilot_id)))
        if channel is None:
            log.warning(
                "reject form not opened request=%s: nowhere to tell the approver", request_id
            )
            return
        with deps.transaction() as session:
            messages.ephemeral(
                session,
                channel,
                user_id,
                text,
                deps.clock(),
                dedupe_key=Keys.form_failed(trigger_id),
            )
        wake(deps)


def _why(exc: Exception) -> str:
    """Slack's error code (`expired_trigger_id`, `ratelimited`), else the HTTP status (an HTML
    error page has no code), else the kind of network failure."""
    if not isinstance(exc, SlackApiError):
        return type(exc).__name__
    data = exc.response.data
    code = data.get("error") if isinstance(data, dict) else None
    if isinstance(code, str) and code.replace("_", "").isalnum() and code.islower():
        return code
    return f"HTTP {exc.response.status_code}"


def register(app: App, deps: ListenerDeps) -> None:
    @app.action(REJECT_ACTION)
    def on_reject(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        open_reject_modal(ack, body, client, deps)
