"""The reject modal's submission: the reason is checked, then the rejection is recorded like an
approval. A reason under 10 characters (after trimming) keeps the modal open with the error and
records nothing."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App

from lifecycle.gates import Verdict
from lifecycle.signoffs import MIN_REASON
from slack_in import payload
from slack_in.decide import decide
from slack_in.deps import ListenerDeps

log = logging.getLogger("pilotgate.listener")

REJECT_MODAL = "pilotgate_reject_modal"
REASON_ERROR = f"Give a reason of at least {MIN_REASON} characters"


def submit_reject(ack: Ack, body: dict[str, Any], view: dict[str, Any], deps: ListenerDeps) -> None:
    reason = payload.reason(view)
    if len(reason) < MIN_REASON:
        ack(response_action="errors", errors={payload.REASON_BLOCK: REASON_ERROR})
        return
    ack()
    request_id = payload.request_id(view.get("private_metadata"))
    user_id = payload.user_id(body)
    if request_id is None or user_id is None:
        log.info("reject submission without a usable request id or user; nothing recorded")
        return
    # A modal has no channel: refusals go to the approver's DM the request was posted in.
    decide(deps, request_id, user_id, Verdict.REJECT, reason, channel=None)


def register(app: App, deps: ListenerDeps) -> None:
    @app.view(REJECT_MODAL)
    def on_reject_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        submit_reject(ack, body, view, deps)
