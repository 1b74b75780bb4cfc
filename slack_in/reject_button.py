"""The Reject button: a rejection needs a reason, so the approver gets a modal asking for it
(slack_in.note_form: screened first; if the form cannot open, the approver is told to click
Reject again or reject on the pilot's page, which has the same form, and nothing is recorded).
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from config.links import pilot_url
from slack_in.deps import ListenerDeps
from slack_in.note_form import NoteForm, open_note_form
from slack_out import messages
from slack_out.render import Mrkdwn, mrkdwn_escape, render_view
from store.read_models import ClickTarget

REJECT_ACTION = "pilotgate_reject"
#: what the approver is told when the reason form cannot open (mrkdwn; the link is ours).
FORM_FAILED = (
    "The form for your reason could not be opened ({error}), so nothing was recorded. Click "
    "*Reject* again, or reject on <{url}|the pilot's page>."
)


def _view(request_id: int, title: str, target: ClickTarget) -> dict[str, Any]:
    return render_view(
        "reject_modal.json.j2",
        request_id=request_id,
        title=title,
        stage_label=messages.label(target.stage),
    )


def _failed(error: str, pilot_id: str) -> Mrkdwn:
    return Mrkdwn(FORM_FAILED.format(error=mrkdwn_escape(error), url=pilot_url(pilot_id)))


REJECT_FORM = NoteForm(name="reject", view=_view, failed=_failed)


def register(app: App, deps: ListenerDeps) -> None:
    @app.action(REJECT_ACTION)
    def on_reject(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        open_note_form(ack, body, client, deps, REJECT_FORM)
