"""The Reject button: a rejection needs a reason, so the approver gets a modal asking for it.

The one Slack call on the ack path (`views.open`), because a `trigger_id` lives three seconds;
it is made after the screening transaction, with no database connection held. Someone who may
not decide gets an ephemeral refusal instead, through the outbox.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from slack_in import payload
from slack_in.decide import tell
from slack_in.deps import ListenerDeps
from slack_out import messages
from slack_out.render import render_view
from store.read_models import pilot_title
from tasks.answers import ALREADY_ANSWERED, screen

log = logging.getLogger("pilotgate.listener")

REJECT_ACTION = "pilotgate_reject"


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
        refused = refused or (ALREADY_ANSWERED if target.answered else None)
        if refused is not None:
            tell(session, payload.channel(body), user_id, refused, now)
            return
        title = pilot_title(session, target.pilot_id)
    view = render_view(
        "reject_modal.json.j2",
        request_id=request_id,
        title=title,
        stage_label=messages.label(target.stage),
    )
    client.views_open(trigger_id=trigger_id, view=view)


def register(app: App, deps: ListenerDeps) -> None:
    @app.action(REJECT_ACTION)
    def on_reject(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        open_reject_modal(ack, body, client, deps)
