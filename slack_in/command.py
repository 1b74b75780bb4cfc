"""`/pilotgate`: status, list, waiting and help for everyone; propose for the people in a policy
role (a proposal counts toward its portfolio's cap); advance and terminate for the programme
office (the policy's `programme_office` role). `status` shows who answered and why a pilot ended
only to those the pilot pages are for (`store.people.is_member`); anyone else sees its stage.

The answer is the ack itself (an ephemeral message only the person who typed sees), so it is
built from short reads and sent within Slack's 3 seconds. `advance` and `terminate` do not do
the work here: like `pilotgate advance` / `terminate` handing over to `serve`, they queue the very
flow the CLI runs (the stage's flow, the terminate flow) as a flow request, with the Slack user
as its actor, audit who asked, and wake the dispatcher. The same refusals as the CLI's (a
finished pilot, a gate already open or just settled) come back before anything is queued.
`terminate` first opens a dialog asking why (slack_in.terminate_submit takes the answer);
`propose` opens a dialog with the proposal's fields (slack_in.propose_submit). A dialog Slack
will not open (an expired trigger, a 429, a timeout) is answered with what to do, not a 500.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.orm import Session

from config.names import STAGE_FLOWS
from lifecycle.stages import ACTIVE, Stage, next_stage
from lifecycle.statuses import FlowRequestStatus
from slack_in.decide import wake
from slack_in.deps import ListenerDeps
from slack_in.note_form import slack_error
from slack_out import command as words
from store import audit, flow_queue, gates, pilots, read_home, read_pages
from store import people as people_rule
from store.models import Pilot
from tasks import home

log = logging.getLogger("pilotgate.listener")

COMMAND = "/pilotgate"
EVERYONE = ("status", "list", "waiting", "help")
#: a proposal counts toward its portfolio's cap: only people in a policy role may propose.
POLICY_MEMBERS_ONLY = ("propose",)
PROGRAMME_OFFICE_ONLY = ("advance", "terminate")


def flow_in_flight(session: Session, pilot_id: str) -> bool:
    """Whether a flow request for this pilot is still queued or running."""
    return any(
        r.status in (FlowRequestStatus.PENDING, FlowRequestStatus.STARTED)
        for r in flow_queue.flow_requests(session, pilot_id)
    )


def why_not_advance(session: Session, pilot: Pilot) -> str | None:
    """The CLI's refusals of `pilotgate advance`, in its words."""
    stage = Stage(pilot.stage)
    if stage not in ACTIVE:
        return f"pilot {pilot.id} is {stage.value}: there is nothing to advance"
    settling = gates.settled_gate_awaiting_follow_up(session, pilot.id)
    if settling is not None:
        return (
            f"pilot {pilot.id}'s gate {settling.stage} -> {settling.target} was just "
            f"{settling.status} and its follow-up is still running; try again shortly"
        )
    gate = gates.open_gate_for(session, pilot.id)
    if gate is not None:
        return (
            f"pilot {pilot.id} already has an open gate ({gate.stage} -> {gate.target}, "
            f"deadline {gate.deadline:%Y-%m-%d %H:%M} UTC)"
        )
    return None


def status(session: Session, pilot: Pilot, now: datetime, user_id: str) -> dict[str, Any]:
    if not people_rule.is_member(session, home.policy(), user_id):
        # The pages' rule: verdicts and reasons are for the policy's people and the proposals'.
        return words.status_stage_only(pilot, people_rule.NOT_A_MEMBER)
    gate = gates.open_gate_for(session, pilot.id)
    requests = gates.requests_for(session, gate.id) if gate else []
    decisions = gates.decisions_for(session, gate.id) if gate else []
    waiting_on = read_home.blocked(session, [gate])[0].waiting_on if gate else ()
    return words.status_answer(pilot, gate, requests, decisions, waiting_on, now)


def in_progress(session: Session) -> dict[str, Any]:
    active = [p for p in pilots.list_pilots(session) if Stage(p.stage) in ACTIVE]
    return words.list_answer(active, read_home.open_gates_of(session, [p.id for p in active]))


def advance(deps: ListenerDeps, user_id: str, pilot_id: str, now: datetime) -> dict[str, Any]:
    with deps.transaction() as session:
        pilot = read_pages.pilot(session, pilot_id)
        if pilot is None:
            return words.say("no_pilot", pilot_id)
        why = why_not_advance(session, pilot)
        if why is not None:
            return words.say("cannot", why)
        if flow_in_flight(session, pilot.id):
            return words.say("busy", pilot.id)
        stage = Stage(pilot.stage)
        flow = STAGE_FLOWS[stage]
        request_id = flow_queue.request_flow(
            session, flow, {"pilot_id": pilot.id, "actor": user_id}, now=now, pilot_id=pilot.id
        )
        audit.append(
            session,
            actor=user_id,
            action="slack.advance",
            pilot_id=pilot.id,
            data={"flow": flow, "stage": stage.value, "flow_request": request_id},
            now=now,
        )
        said = words.say("advancing", pilot.id, pilot.title, stage, next_stage(stage))
    log.info("/pilotgate advance %s by %s: %s flow request %s", pilot_id, user_id, flow, request_id)
    wake(deps)
    return said


def open_terminate(
    deps: ListenerDeps, client: WebClient, body: dict[str, Any], pilot_id: str
) -> dict[str, Any]:
    with deps.transaction() as session:
        pilot = read_pages.pilot(session, pilot_id)
        if pilot is None:
            return words.say("no_pilot", pilot_id)
        if Stage(pilot.stage) not in ACTIVE:
            return words.say("cannot", f"pilot {pilot.id} is already {pilot.stage}")
        view = words.terminate_modal(pilot)
    trigger_id = body.get("trigger_id")
    if not isinstance(trigger_id, str) or not trigger_id:
        return words.say("cannot", "Slack sent no trigger to open the dialog with")
    failed = open_dialog(client, trigger_id, view, f"terminate {pilot_id}")
    return failed or words.say("terminate_opened", pilot_id)


def open_propose(client: WebClient, body: dict[str, Any]) -> dict[str, Any]:
    trigger_id = body.get("trigger_id")
    if not isinstance(trigger_id, str) or not trigger_id:
        return words.say("cannot", "Slack sent no trigger to open the dialog with")
    failed = open_dialog(client, trigger_id, words.propose_modal(), "propose")
    return failed or words.say("opened_propose")


def open_dialog(
    client: WebClient, trigger_id: str, view: dict[str, Any], typed: str
) -> dict[str, Any] | None:
    """Open the dialog; None when it opened, else the answer saying what to do. A trigger lasts
    3 seconds and Slack may be rate-limiting or slow: that is the user's to retry, not a 500."""
    try:
        client.views_open(trigger_id=trigger_id, view=view)
    except (SlackApiError, OSError, TimeoutError) as exc:
        error = slack_error(exc)
        log.warning("/pilotgate %s: dialog not opened, error=%s; nothing changed", typed, error)
        return words.say("dialog_failed", error, typed)
    return None


def answer(deps: ListenerDeps, client: WebClient, body: dict[str, Any]) -> dict[str, Any]:
    user_id = body.get("user_id")
    text = body.get("text")
    if not isinstance(user_id, str) or not user_id:
        return words.say("cannot", "Slack sent no user with the command")
    parts = (text if isinstance(text, str) else "").split()
    verb = parts[0].lower() if parts else "help"
    pmo = home.is_programme_office(user_id)
    now = deps.clock()
    if verb == "help":
        return words.help_answer(pmo)
    if verb not in EVERYONE + POLICY_MEMBERS_ONLY + PROGRAMME_OFFICE_ONLY:
        unknown = words.say("unknown", parts[0][:100])
        helped = words.help_answer(pmo)
        unknown["blocks"] += helped["blocks"]
        unknown["text"] += "\n" + helped["text"]
        return unknown
    if verb in PROGRAMME_OFFICE_ONLY and not pmo:
        return words.not_pmo(verb, home.programme_office_role())
    if verb in POLICY_MEMBERS_ONLY and not home.is_policy_member(user_id):
        return words.say("not_policy_member", verb)
    if verb == "list":
        with deps.db.session() as session:
            return in_progress(session)
    if verb == "waiting":
        with deps.db.session() as session:
            return words.waiting_answer(read_home.open_blocked(session), now)
    if verb == "propose":
        return open_propose(client, body)
    if len(parts) < 2:
        return words.say("no_id", verb)
    pilot_id = parts[1][:64]
    if verb == "advance":
        return advance(deps, user_id, pilot_id, now)
    if verb == "terminate":
        return open_terminate(deps, client, body, pilot_id)
    with deps.db.session() as session:
        pilot = read_pages.pilot(session, pilot_id)
        if pilot is None:
            return words.say("no_pilot", pilot_id)
        return status(session, pilot, now, user_id)


def register(app: App, deps: ListenerDeps) -> None:
    @app.command(COMMAND)
    def on_command(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        # The answer rides on the ack: with process_before_response Slack hears it when
        # this returns, and everything above is a few short reads (or one queued flow).
        ack(**answer(deps, client, body))
