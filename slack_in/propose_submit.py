"""The propose dialog's submission: the fields become the mapping a proposal file holds, checked
by the very rules `pilotgate propose` applies (the pydantic model, the policy's limits and roles,
every later gate being possible, the portfolio's cap, a twin title) and recorded with the Slack
user as proposer and actor.

Each problem comes back on the field it is about (the dialog's block ids are the proposal's
field paths, the ones the CLI's messages name), the dialog stays open, and nothing is recorded.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

import yaml
from slack_bolt import Ack, App

from lifecycle.errors import InputError, validate_model
from lifecycle.gates import check_satisfiable
from lifecycle.proposal import Proposal
from slack_in import payload
from slack_in.decide import wake
from slack_in.deps import ListenerDeps
from slack_out import command as words
from slack_out import messages
from store import pilots
from store.errors import Conflict
from tasks import home
from tasks.runtime import get_runtime

log = logging.getLogger("pilotgate.listener")

SOURCE = "proposal"
#: Slack shows a field's error under it; keep each short.
ERROR_LIMIT = 300
_FIELDS = [f[0] for f in words.PROPOSE_FIELDS] + list(words.PROPOSE_CHOICES)
_YAML_FIELDS = ("success_metrics", "readiness_criteria")


def _values(view: dict[str, Any]) -> dict[str, str]:
    """What was typed or chosen, by block id (empty inputs left out)."""
    out: dict[str, str] = {}
    state = view.get("state", {}).get("values", {}) if isinstance(view, dict) else {}
    for block_id in _FIELDS:
        entry = state.get(block_id, {}).get(block_id) if isinstance(state, dict) else None
        if not isinstance(entry, dict):
            continue
        value = entry.get("value")
        option = entry.get("selected_option")
        if isinstance(option, dict):
            value = option.get("value")
        if isinstance(value, str) and value.strip():
            out[block_id] = value.strip()
    return out


def _proposal_data(
    values: dict[str, str], proposer: dict[str, str]
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The mapping a proposal file would hold, and the fields whose YAML did not parse."""
    data: dict[str, Any] = {"proposer": proposer}
    errors: dict[str, list[str]] = defaultdict(list)
    for key, value in values.items():
        if key in _YAML_FIELDS:
            try:
                data[key] = yaml.safe_load(value)
            except yaml.YAMLError as exc:
                errors[key].append(f"{key}: invalid YAML ({getattr(exc, 'problem', None) or exc})")
        elif key == "reviews":
            data[key] = [r.strip() for r in value.split(",") if r.strip()]
        elif key == "customer_facing":
            data[key] = value == "true"
        elif "." in key:
            parent, child = key.split(".", 1)
            data.setdefault(parent, {})[child] = value
        else:
            data[key] = value
    return data, errors


def _block_for(problem: str) -> str:
    """The dialog field a problem is about: the longest field path it starts with (a rule
    across fields, which has no path, goes where its message points, else on the title)."""
    path = problem.split(":", 1)[0]
    by_length = sorted(_FIELDS, key=len, reverse=True)
    for block_id in by_length:
        if path == block_id or path.startswith((block_id + ".", block_id + "[")):
            return block_id
    for block_id in by_length:  # e.g. "operations_owner must be a different person ..."
        if block_id.endswith(".slack_id") and problem.startswith(block_id.split(".")[0]):
            return block_id
    return "title"


def _errors(problems: list[str], into: dict[str, list[str]] | None = None) -> dict[str, str]:
    found: dict[str, list[str]] = defaultdict(list, into or {})
    for problem in problems:
        found[_block_for(problem)].append(problem)
    return {k: "; ".join(v)[:ERROR_LIMIT] for k, v in found.items()}


def submit_propose(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], deps: ListenerDeps
) -> None:
    user_id = payload.user_id(body)
    if user_id is None:
        ack()
        log.info("propose submission without a user; nothing recorded")
        return
    user = body.get("user")
    named = user.get("name") or user.get("username") if isinstance(user, dict) else None
    name = str(named or user_id)
    data, yaml_errors = _proposal_data(_values(view), {"name": name, "slack_id": user_id})
    if yaml_errors:
        ack(response_action="errors", errors=_errors([], yaml_errors))
        return
    policy = get_runtime().policy
    try:
        proposal = validate_model(Proposal, data, SOURCE)
        proposal.check_against(policy, SOURCE)
        unsatisfiable = check_satisfiable(policy, proposal)
        if unsatisfiable:
            raise InputError(SOURCE, unsatisfiable)
    except InputError as exc:
        ack(response_action="errors", errors=_errors(exc.problems))
        return
    now = deps.clock()
    try:
        with deps.transaction() as session:
            twin = pilots.same_title(session, proposal.portfolio, proposal.title)
            if twin is not None:
                raise Conflict(
                    f"title: {twin.id} already has this title in portfolio "
                    f"{proposal.portfolio} ({twin.stage})"
                )
            pilot = pilots.create_pilot(session, proposal, policy, actor=user_id, now=now)
            messages.notify(
                session,
                user_id,
                str(words.words().proposed(pilot.id, proposal.title, proposal.portfolio)),
                None,
                now,
                pilot_id=pilot.id,
            )
            home.refresh_pilot(session, pilot.id, now)
            pilot_id = pilot.id
    except Conflict as exc:
        text = str(exc)
        block = "title" if text.startswith("title: ") else "portfolio"
        ack(response_action="errors", errors={block: text.removeprefix("title: ")[:ERROR_LIMIT]})
        return
    ack()
    log.info("/pilotgate propose by %s: recorded %s", user_id, pilot_id)
    wake(deps)  # the proposer's notice and the Homes are queued: deliver them now


def register(app: App, deps: ListenerDeps) -> None:
    @app.view(words.PROPOSE_MODAL)
    def on_propose_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        submit_propose(ack, body, view, deps)
