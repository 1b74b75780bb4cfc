"""A button that needs a written note first (Reject; a value review's Adjust and Retire): the
click is screened, then a modal asks for the note.

The one Slack call on the ack path (`views.open`), because a `trigger_id` lives three seconds;
it is made after the screening transaction, with no database connection held. Someone who may
not answer gets an ephemeral refusal instead, through the outbox. `views.open` can fail after
the ack (the trigger expired or was already used, Slack timed out or rate limited the call):
left to bolt that is an HTTP 500 to Slack and an error in front of the approver; instead the
approver is told what to do, and nothing is recorded. Not a listener: `reject_button` and
`review_answer` register theirs and call `open_note_form`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from config.names import Keys
from slack_in import payload
from slack_in.decide import tell, wake
from slack_in.deps import ListenerDeps
from slack_out import messages
from slack_out.render import Mrkdwn
from store.read_models import ClickTarget, pilot_title
from tasks.answers import ALREADY_ANSWERED, screen

log = logging.getLogger("pilotgate.listener")


@dataclass(frozen=True)
class NoteForm:
    """What one note-first button differs in."""

    #: how the logs name the click and the form ("reject", "review note").
    name: str
    #: the modal: (request id, pilot title, the click's target) -> the view.
    view: Callable[[int, str, ClickTarget], dict[str, Any]]
    #: what the approver is told when the form cannot open: (Slack's error, pilot id) -> mrkdwn.
    failed: Callable[[str, str], Mrkdwn]
    #: a refusal of this button beyond the shared screening (e.g. Adjust on a stage gate).
    refuse: Callable[[ClickTarget], str | None] = lambda _target: None


def open_note_form(
    ack: Ack, body: dict[str, Any], client: WebClient, deps: ListenerDeps, form: NoteForm
) -> None:
    ack()
    request_id = payload.request_id(payload.button_value(body))
    user_id = payload.user_id(body)
    trigger_id = body.get("trigger_id")
    if request_id is None or user_id is None or not isinstance(trigger_id, str):
        log.info(
            "%s click without a usable request id, user or trigger; nothing recorded", form.name
        )
        return
    now = deps.clock()
    with deps.transaction() as session:
        target, refused = screen(session, request_id, user_id, now)
        if target is None:
            return
        # a click on the App Home has no channel: answer in the DM the ask went to
        channel = payload.channel(body) or target.channel
        refused = refused or (ALREADY_ANSWERED if target.answered else None)
        refused = refused or form.refuse(target)
        if refused is not None:
            tell(session, channel, user_id, refused, now)
            return
        title = pilot_title(session, target.pilot_id)
    try:
        client.views_open(trigger_id=trigger_id, view=form.view(request_id, title, target))
    except (SlackApiError, OSError, TimeoutError) as exc:
        error = slack_error(exc)
        log.warning(
            "%s form not opened request=%s user=%s error=%s; approver told, nothing recorded",
            form.name,
            request_id,
            user_id,
            error,
        )
        if channel is None:
            log.warning(
                "%s form not opened request=%s: nowhere to tell the approver", form.name, request_id
            )
            return
        with deps.transaction() as session:
            messages.ephemeral(
                session,
                channel,
                user_id,
                form.failed(error, target.pilot_id),
                deps.clock(),
                dedupe_key=Keys.form_failed(trigger_id),
            )
        wake(deps)


def slack_error(exc: Exception) -> str:
    """Slack's error code (`expired_trigger_id`, `ratelimited`), else the HTTP status (an HTML
    error page has no code), else the kind of network failure."""
    if not isinstance(exc, SlackApiError):
        return type(exc).__name__
    data = exc.response.data
    code = data.get("error") if isinstance(data, dict) else None
    if isinstance(code, str) and code.replace("_", "").isalnum() and code.islower():
        return code
    return f"HTTP {exc.response.status_code}"
