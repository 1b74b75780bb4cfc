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
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from config.links import pilot_url
from lifecycle.gates import Verdict
from lifecycle.signoffs import MIN_REASON
from lifecycle.stages import LIVE, Stage
from slack_in import payload
from slack_in.decide import decide
from slack_in.deps import ListenerDeps
from slack_in.note_form import NoteForm, open_note_form
from slack_out.render import Mrkdwn, mrkdwn_escape, render_view
from store.read_models import ClickTarget

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


def _view(verdict: Verdict) -> Callable[[int, str, ClickTarget], dict[str, Any]]:
    def view(request_id: int, title: str, _target: ClickTarget) -> dict[str, Any]:
        return render_view(
            "value_review_modal.json.j2",
            request_id=request_id,
            title=title,
            verdict=verdict.value,
        )

    return view


def _failed(button: str) -> Callable[[str, str], Mrkdwn]:
    def failed(error: str, pilot_id: str) -> Mrkdwn:
        return Mrkdwn(
            FORM_FAILED.format(error=mrkdwn_escape(error), button=button)
            + f" (<{pilot_url(pilot_id)}|the pilot's page>)"
        )

    return failed


def _not_a_review(target: ClickTarget) -> str | None:
    return None if Stage(target.stage) in LIVE else NOT_A_REVIEW


#: Adjust and Retire: a note first, and only on a value review.
ADJUST_FORM = NoteForm(
    name="review note", view=_view(Verdict.ADJUST), failed=_failed("Adjust"), refuse=_not_a_review
)
RETIRE_FORM = NoteForm(
    name="review note", view=_view(Verdict.REJECT), failed=_failed("Retire"), refuse=_not_a_review
)


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
        open_note_form(ack, body, client, deps, ADJUST_FORM)

    @app.action(RETIRE_ACTION)
    def on_retire(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        open_note_form(ack, body, client, deps, RETIRE_FORM)

    @app.view(NOTE_MODAL)
    def on_note(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        submit_note(ack, body, view, deps)
