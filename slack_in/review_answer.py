"""A value review's Adjust and Retire buttons, and their note form.

Both need a written note (what must change; why it ends), so each click opens a modal, as
Reject does, after the same screening (named approver only, separation of duties, gate open,
deadline); the submission is recorded by the shared decide path as ADJUST (counts toward the
quorum like an approval) or REJECT (a retirement). Sustain is the Approve button's listener
(`slack_in.approve`): a sustain is an approval of a review. If the form cannot open, the
approver is told what to do, as for Reject, and nothing is recorded.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from config.links import pilot_url
from config.names import Keys
from lifecycle.gates import Verdict
from lifecycle.signoffs import MIN_REASON
from lifecycle.stages import LIVE, Stage
from slack_in import payload
from slack_in.decide import decide, tell, wake
from slack_in.deps import ListenerDeps
from slack_in.reject_button import _why
from slack_out import messages
from slack_out.render import Mrkdwn, mrkdwn_escape, render_view
from store.read_models import pilot_title
from tasks.answers import ALREADY_ANSWERED, screen

log = logging.getLogger("pilotgate.listener")

ADJUST_ACTION = "pilotgate_adjust"
RETIRE_ACTION = "pilotgate_retire"
NOTE_MODAL = "pilotgate_review_note"

NOTE_ERROR = f"Write at least {MIN_REASON} characters"
NOT_A_REVIEW = (
    "Adjust and Retire answer a value review of a pilot in production; this is a stage gate "
    "(Approve or Reject). Nothing was recorded."
)
FORM_FAILED = (
    "The form for your note could not be opened ({error}), so nothing was recorded. Click "
    "*{button}* again in a moment."
)


def open_note_modal(
    ack: Ack, body: dict[str, Any], client: WebClient, deps: ListenerDeps, verdict: Verdict
) -> None:
    ack()
    request_id = payload.request_id(payload.button_value(body))
    user_id = payload.user_id(body)
    trigger_id = body.get("trigger_id")
    if request_id is None or user_id is None or not isinstance(trigger_id, str):
        log.info("review click without a usable request id, user or trigger; nothing recorded")
        return
    now = deps.clock()
    with deps.transaction() as session:
        target, refused = screen(session, request_id, user_id, now)
        if target is None:
            return
        channel = payload.channel(body) or target.channel
        refused = refused or (ALREADY_ANSWERED if target.answered else None)
        if refused is None and Stage(target.stage) not in LIVE:
            refused = NOT_A_REVIEW
        if refused is not None:
            tell(session, channel, user_id, refused, now)
            return
        title = pilot_title(session, target.pilot_id)
        pilot_id = target.pilot_id
    view = render_view(
        "value_review_modal.json.j2", request_id=request_id, title=title, verdict=verdict.value
    )
    try:
        client.views_open(trigger_id=trigger_id, view=view)
    except (SlackApiError, OSError, TimeoutError) as exc:
        error = _why(exc)
        log.warning(
            "review note form not opened request=%s user=%s error=%s; nothing recorded",
            request_id,
            user_id,
            error,
        )
        if channel is None:
            return
        button = "Adjust" if verdict is Verdict.ADJUST else "Retire"
        text = Mrkdwn(
            FORM_FAILED.format(error=mrkdwn_escape(error), button=button)
            + f" (<{pilot_url(pilot_id)}|the pilot's page>)"
        )
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


def note_metadata(value: object) -> tuple[Verdict, int] | None:
    """`adjust:42` / `reject:42` from the modal's private_metadata; None if malformed."""
    if not isinstance(value, str) or ":" not in value:
        return None
    word, _, number = value.partition(":")
    request_id = payload.request_id(number)
    if word not in (Verdict.ADJUST.value, Verdict.REJECT.value) or request_id is None:
        return None
    return Verdict(word), request_id


def submit_note(ack: Ack, body: dict[str, Any], view: dict[str, Any], deps: ListenerDeps) -> None:
    note = payload.reason(view)
    if len(note) < MIN_REASON:
        ack(response_action="errors", errors={payload.REASON_BLOCK: NOTE_ERROR})
        return
    ack()
    meta = note_metadata(view.get("private_metadata"))
    user_id = payload.user_id(body)
    if meta is None or user_id is None:
        log.info("review note without a usable request id or user; nothing recorded")
        return
    verdict, request_id = meta
    decide(deps, request_id, user_id, verdict, note, channel=None)


def register(app: App, deps: ListenerDeps) -> None:
    @app.action(ADJUST_ACTION)
    def on_adjust(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        open_note_modal(ack, body, client, deps, Verdict.ADJUST)

    @app.action(RETIRE_ACTION)
    def on_retire(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        open_note_modal(ack, body, client, deps, Verdict.REJECT)

    @app.view(NOTE_MODAL)
    def on_note(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        submit_note(ack, body, view, deps)
