"""The Approve button: screen the click, record the approval, queue the replies."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App

from lifecycle.gates import Verdict
from slack_in import payload
from slack_in.decide import decide
from slack_in.deps import ListenerDeps

log = logging.getLogger("pilotgate.listener")

APPROVE_ACTION = "pilotgate_approve"


def approve(ack: Ack, body: dict[str, Any], deps: ListenerDeps) -> None:
    ack()
    request_id = payload.request_id(payload.button_value(body))
    user_id = payload.user_id(body)
    if request_id is None or user_id is None:
        log.info("approve click without a usable request id or user; nothing recorded")
        return
    decide(deps, request_id, user_id, Verdict.APPROVE, None, payload.channel(body))


def register(app: App, deps: ListenerDeps) -> None:
    @app.action(APPROVE_ACTION)
    def on_approve(ack: Ack, body: dict[str, Any]) -> None:
        approve(ack, body, deps)
