"""The terminate dialog's submission: the reason is checked, then the terminate flow is queued
with the programme manager as its actor, exactly as `pilotgate terminate --reason` runs it.

A reason under 5 characters (the CLI's minimum), someone no longer in the programme office, or a
pilot that ended meanwhile keeps the dialog open with the error and changes nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App

from config.names import TERMINATE, Keys
from lifecycle.stages import ACTIVE, Stage
from slack_in import payload
from slack_in.command import flow_in_flight
from slack_in.decide import wake
from slack_in.deps import ListenerDeps
from slack_out import command as words
from slack_out import messages
from store import audit, flow_queue, read_pages
from tasks import home

log = logging.getLogger("pilotgate.listener")

REASON_ERROR = (
    f"Give a reason of at least {words.MIN_TERMINATE_REASON} characters; it goes on record"
)


def _reason(view: dict[str, Any]) -> str:
    try:
        value = view["state"]["values"][words.TERMINATE_BLOCK][words.TERMINATE_INPUT]["value"]
    except (KeyError, TypeError):
        return ""
    return value.strip() if isinstance(value, str) else ""


def submit_terminate(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], deps: ListenerDeps
) -> None:
    reason = _reason(view)
    user_id = payload.user_id(body)
    pilot_id = view.get("private_metadata")
    if len(reason) < words.MIN_TERMINATE_REASON:
        ack(response_action="errors", errors={words.TERMINATE_BLOCK: REASON_ERROR})
        return
    if user_id is None or not isinstance(pilot_id, str) or not pilot_id:
        ack()
        log.info("terminate submission without a usable pilot or user; nothing queued")
        return
    refused = _queue(deps, user_id, pilot_id, reason)
    if refused is not None:
        ack(response_action="errors", errors={words.TERMINATE_BLOCK: refused})
        return
    ack()
    log.info("/pilotgate terminate %s by %s: terminate flow queued", pilot_id, user_id)
    wake(deps)


def _queue(deps: ListenerDeps, user_id: str, pilot_id: str, reason: str) -> str | None:
    """Queue the terminate flow, audited and confirmed to the user; or why not."""
    if not home.is_programme_office(user_id):
        return "Only the programme office may terminate a pilot. Nothing changed."
    now = deps.clock()
    with deps.transaction() as session:
        pilot = read_pages.pilot(session, pilot_id)
        if pilot is None:
            return f"There is no pilot {pilot_id}. Nothing changed."
        if Stage(pilot.stage) not in ACTIVE:
            return f"Pilot {pilot.id} is already {pilot.stage}. Nothing changed."
        if flow_in_flight(session, pilot.id):
            return f"A flow for {pilot.id} is already queued or running; try again shortly."
        # Two quick submissions (a double click, two programme managers) may both pass the
        # in-flight check before either commits: the key makes the second queue nothing. It
        # counts the pilot's earlier terminate requests, so a failed run can be asked again.
        earlier = sum(1 for r in flow_queue.flow_requests(session, pilot.id) if r.flow == TERMINATE)
        request_id = flow_queue.request_flow(
            session,
            TERMINATE,
            {"pilot_id": pilot.id, "reason": reason, "actor": user_id},
            now=now,
            pilot_id=pilot.id,
            dedupe_key=Keys.terminate_flow(pilot.id, earlier),
        )
        if request_id is None:
            log.info(
                "terminate of %s by %s: already queued by another submission", pilot.id, user_id
            )
            return None
        audit.append(
            session,
            actor=user_id,
            action="slack.terminate",
            pilot_id=pilot.id,
            data={"reason": reason, "flow_request": request_id},
            now=now,
        )
        # notify() escapes what it is given: plain words here.
        messages.notify(
            session,
            user_id,
            f"Terminating {pilot.title} ({pilot.id}), as you asked.",
            reason,
            now,
            pilot_id=pilot.id,
        )
    return None


def register(app: App, deps: ListenerDeps) -> None:
    @app.view(words.TERMINATE_MODAL)
    def on_terminate_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        submit_terminate(ack, body, view, deps)
