"""`/pilotgate` through the real listener: signed slash-command forms from the emulator, the
answer on the ack (ephemeral, as the user saw it), the register unchanged by every refusal."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from listener_scene import FIN, OWNER, PMO1, PROPOSER, SECRET, TOKEN, Ask, Scene
from sqlalchemy import select

from config.clock import utcnow
from config.links import pilot_url
from config.settings import Settings
from lifecycle.policy import Policy
from lifecycle.proposal import Proposal
from slack_in.server import start_in_thread
from store import pilots
from store.models import AuditEntry, FlowRequest, Gate, OutboxMessage
from tasks.runtime import Runtime

Asks = dict[str, Ask]
HOSTILE = "<!channel> Budget & <https://evil.example|click>"
ESCAPED = "&lt;!channel&gt; Budget &amp; &lt;https://evil.example|click&gt;"


def say(scene: Scene, user: str, text: str) -> Any:
    answer = scene.emu.slash_command(scene.url, user, "/pilotgate", text)
    assert answer.response.status_code == 200, answer.response.text
    assert answer.message is not None and answer.message.ephemeral
    assert answer.message.user == user
    return answer


def sections(answer: Any) -> list[str]:
    return [
        b["text"]["text"] if b["type"] == "section" else b["elements"][0]["text"]
        for b in answer.blocks
    ]


def flow_requests(scene: Scene) -> list[FlowRequest]:
    with scene.db.session() as session:
        return list(session.execute(select(FlowRequest).order_by(FlowRequest.id)).scalars())


def audit_actions(scene: Scene) -> list[tuple[str, str]]:
    with scene.db.session() as session:
        rows = session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars()
        return [(a.actor, a.action) for a in rows]


def test_help_shows_the_programme_office_more(scene: Scene) -> None:
    everyone = sections(say(scene, FIN, "help"))
    assert everyone == [
        "*/pilotgate* answers only you:\n"
        "• `/pilotgate status ID`: a pilot's stage, its open gate and who has answered\n"
        "• `/pilotgate list`: the pilots that are not finished\n"
        "• `/pilotgate waiting`: every open gate, overdue first, and whom it waits on\n"
        "• `/pilotgate propose`: a dialog with the proposal's fields (for the people in a "
        "policy role)\n"
        "• `/pilotgate help`: this"
    ]
    [pmo] = sections(say(scene, PMO1, ""))  # no words at all: help
    assert pmo.startswith(everyone[0]) and "`/pilotgate advance ID`" in pmo
    assert "`/pilotgate terminate ID`" in pmo
    # What was typed is shown back escaped: no channel ping, no link.
    unknown = sections(say(scene, FIN, "<!channel>&go"))
    assert unknown[0] == "I do not know `&lt;!channel&gt;&amp;go`."
    assert unknown[1] == everyone[0]


def test_status_list_and_waiting(scene: Scene, policy: Policy, helpdesk: Proposal) -> None:
    pilot_id, gate_id = scene.propose_and_ask(
        helpdesk.model_copy(update={"title": HOSTILE}), policy
    )
    asks = scene.asks(gate_id)
    with scene.db.session() as session:
        gate = session.get(Gate, gate_id)
        assert gate is not None
        due = f"{gate.deadline:%Y-%m-%d %H:%M} UTC"
    url = pilot_url(pilot_id)
    assert scene.click(PMO1, asks[PMO1]).status_code == 200

    status = sections(say(scene, PROPOSER, f"status {pilot_id}"))
    assert status == [
        f"*<{url}|{ESCAPED}>* ({pilot_id}) · *proposal* · portfolio it-operations · "
        f"owner <@{OWNER}>",
        f"Gate proposal → pilot, due {due} (14 days left)\n"
        f"answered: :white_check_mark: <@{PMO1}> (programme_office)\n"
        f"waiting on finance: <@{FIN}>",
    ]
    assert sections(say(scene, FIN, "status pg-nope<!here>")) == [
        "There is no pilot `pg-nope&lt;!here&gt;`; `/pilotgate list` shows them."
    ]
    assert sections(say(scene, FIN, "STATUS")) == [
        "`/pilotgate status` needs a pilot id, e.g. `/pilotgate status pg-1a2b3c4d` "
        "(`/pilotgate list` shows them)."
    ]

    with scene.db.session() as session:  # a second pilot, proposed, no gate yet
        other = pilots.create_pilot(
            session, helpdesk.model_copy(update={"title": "Second & last"}), policy,
            actor=PROPOSER, now=utcnow(),
        ).id
    assert sections(say(scene, FIN, "list")) == [
        "*2 pilot(s) in progress*",
        f"<{url}|{ESCAPED}> ({pilot_id}) · proposal · gate due {due}\n"
        f"<{pilot_url(other)}|Second &amp; last> ({other}) · proposal",
    ]
    assert sections(say(scene, FIN, "waiting")) == [
        "*1 open gate(s), 0 overdue*",
        f"<{url}|{ESCAPED}> ({pilot_id}): proposal → pilot, due {due} (14 days left)\n"
        f"waiting on finance: <@{FIN}>",
    ]
    assert flow_requests(scene) == []  # reading changes nothing


def test_advance_and_terminate_are_the_programme_office_s(
    scene: Scene, gate: tuple[int, Asks]
) -> None:
    gate_id, _ = gate
    with scene.db.session() as session:
        pilot_id = session.get(Gate, gate_id).pilot_id  # type: ignore[union-attr]
    audited = audit_actions(scene)
    for user in (FIN, OWNER, PROPOSER):
        for verb in ("advance", "terminate"):
            assert sections(say(scene, user, f"{verb} {pilot_id}")) == [
                f"Only the programme office (policy role `programme_office`) may {verb} a "
                "pilot. Nothing changed."
            ]
    assert scene.emu.latest_view_for(FIN) is None
    # The CLI's refusal, in the CLI's words: the proposal gate is already open.
    [refused] = sections(say(scene, PMO1, f"advance {pilot_id}"))
    assert refused.startswith(f"pilot {pilot_id} already has an open gate (proposal -&gt; pilot, ")
    assert refused.endswith("). Nothing changed.")
    assert flow_requests(scene) == [] and audit_actions(scene) == audited


def test_advance_queues_the_stage_flow_with_the_slack_user_as_actor(
    scene: Scene, policy: Policy, helpdesk: Proposal
) -> None:
    with scene.db.session() as session:
        pilot_id = pilots.create_pilot(
            session, helpdesk, policy, actor=PROPOSER, now=utcnow()
        ).id
    [said] = sections(say(scene, PMO1, f"advance {pilot_id}"))
    assert said == (
        f"Running the proposal flow for *IT help-desk assistant* ({pilot_id}): it opens the "
        "gate proposal → pilot and asks its approvers. You will see it in "
        f"`/pilotgate status {pilot_id}`."
    )
    [request] = flow_requests(scene)
    assert (request.flow, request.parameters, request.status) == (
        "proposal", {"pilot_id": pilot_id, "actor": PMO1}, "pending")
    assert audit_actions(scene)[-1] == (PMO1, "slack.advance")
    assert len(scene.wakes) == 1
    # Twice in a row: the first is still queued, so nothing more is.
    [busy] = sections(say(scene, PMO1, f"advance {pilot_id}"))
    assert busy == (
        f"A flow for {pilot_id} is already queued or running; try again when it is done. "
        "Nothing changed."
    )
    assert len(flow_requests(scene)) == 1


def test_terminate_asks_for_the_reason_then_queues_the_terminate_flow(
    scene: Scene, gate: tuple[int, Asks]
) -> None:
    gate_id, _ = gate
    with scene.db.session() as session:
        pilot_id = session.get(Gate, gate_id).pilot_id  # type: ignore[union-attr]
    before = len(scene.emu.calls)
    [said] = sections(say(scene, PMO1, f"terminate {pilot_id}"))
    assert said == f"Give the reason in the dialog to terminate {pilot_id}."
    assert [c.method for c in scene.emu.calls[before:]] == ["views.open"]
    view = scene.emu.latest_view_for(PMO1)
    assert view is not None and view.view["callback_id"] == "pilotgate_terminate_modal"
    assert view.view["private_metadata"] == pilot_id
    assert view.view["blocks"][0]["text"]["text"] == (
        f"Terminate *IT help-desk assistant* ({pilot_id}), now in proposal? Its open gates and "
        "their buttons close, its owner and approvers are told, and it cannot be undone. "
        "The reason goes on record."
    )
    short = scene.emu.submit_view(scene.url, PMO1, view.id, {"terminate_reason_input": "  no  "})
    assert short.json() == {
        "response_action": "errors",
        "errors": {"terminate_reason": "Give a reason of at least 5 characters; it goes on record"},
    }
    assert flow_requests(scene) == []

    reason = "Budget <moved> & team gone"
    done = scene.emu.submit_view(scene.url, PMO1, view.id, {"terminate_reason_input": reason})
    assert done.status_code == 200 and done.text == ""
    [request] = flow_requests(scene)
    assert (request.flow, request.parameters) == (
        "terminate", {"pilot_id": pilot_id, "reason": reason, "actor": PMO1})
    assert audit_actions(scene)[-1] == (PMO1, "slack.terminate")
    assert scene.relay().errors == []
    [notice] = [m for m in scene.emu.messages_in(scene.emu.dm_channel_for(PMO1))
                if (m.text or "").startswith("Terminating")]
    assert notice.text == f"Terminating IT help-desk assistant ({pilot_id}), as you asked."
    assert "Budget &lt;moved&gt; &amp; team gone" in str(notice.blocks)


@pytest.fixture
def own_workspace(scene: Scene) -> Iterator[str]:
    """A second listener that knows its workspace and app."""
    settings = Settings(
        _env_file=None,
        PILOTGATE_DATABASE_URL=scene.db.url,  # type: ignore[call-arg]
        SLACK_API_URL=scene.emu.api_url,
        SLACK_BOT_TOKEN=TOKEN,
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_TEAM_ID=scene.emu.team_id,
        SLACK_APP_ID=scene.emu.app_id,
    )
    listener = start_in_thread(Runtime(settings, db=scene.db, policy=scene.runtime.policy))
    yield listener.url
    listener.stop(wait=False)


def _signed(scene: Scene, url: str, body: str, content_type: str) -> int:
    now = str(int(time.time()))
    return scene.emu.send_raw(
        url, body, now, scene.emu.sign(body, now), content_type=content_type
    ).status_code


def test_commands_and_events_from_another_workspace_count_for_nothing(
    scene: Scene, policy: Policy, helpdesk: Proposal, own_workspace: str
) -> None:
    with scene.db.session() as session:
        pilot_id = pilots.create_pilot(session, helpdesk, policy, actor=PROPOSER, now=utcnow()).id
    form = {
        "team_id": "T0OTHER01", "user_id": PMO1, "command": "/pilotgate",
        "text": f"advance {pilot_id}", "api_app_id": scene.emu.app_id,
        "channel_id": scene.emu.dm_channel_for(PMO1), "trigger_id": "1.2.3",
    }
    form_type = "application/x-www-form-urlencoded"
    assert _signed(scene, own_workspace, urlencode(form), form_type) == 403
    assert _signed(scene, own_workspace, urlencode(
        {**form, "team_id": scene.emu.team_id, "api_app_id": "A0SOMEAPP"}), form_type) == 403
    event = {
        "type": "event_callback", "team_id": "T0OTHER01", "api_app_id": scene.emu.app_id,
        "event": {"type": "app_home_opened", "user": PMO1, "tab": "home"},
    }
    assert _signed(scene, own_workspace, json.dumps(event), "application/json") == 403
    assert flow_requests(scene) == [] and home_published(scene) == 0
    # Ours, through the same listener: accepted.
    assert scene.emu.open_home(own_workspace, PMO1).status_code == 200
    answer = scene.emu.slash_command(own_workspace, PMO1, "/pilotgate", f"advance {pilot_id}")
    assert answer.response.status_code == 200 and answer.text.startswith("Running the proposal")
    assert len(flow_requests(scene)) == 1 and home_published(scene) == 1


def home_published(scene: Scene) -> int:
    with scene.db.session() as session:
        return len(session.execute(select(OutboxMessage.id).where(
            OutboxMessage.method == "views.publish")).all())
