"""The ask's live tally, kept current by `chat.update` as others decide, through the real
listener: signed clicks from the emulator, decisions in SQLite and PostgreSQL, the relay's
refreshes read back from the emulator's messages and calls."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from listener_scene import FIN, PMO1, PMO2, PROPOSER, TOKEN, Ask, Scene, make_runtime
from slack_sdk import WebClient
from sqlalchemy import select

from config.clock import utcnow
from config.links import pilot_url
from lifecycle.policy import Policy
from lifecycle.proposal import Proposal
from lifecycle.stages import Stage
from slack_in.server import start_in_thread
from slack_out import messages
from slack_out.client import make_client
from slack_out.relay import relay_outbox
from slackemu import SlackEmulator
from store import gates, pilots
from store.db import Database
from store.models import Gate, OutboxMessage
from tasks.gates import open_gate
from tasks.inputs import OpenGateInput
from tasks.runtime import set_runtime

Asks = dict[str, Ask]
HEADING = "*Sign-offs so far*"


def latest_blocks(scene: Scene, ask: Ask) -> list[dict[str, Any]]:
    message = scene.emu.find_message(ask.channel, ask.ts)
    assert message is not None
    return message.blocks or []


def tally_of(blocks: list[dict[str, Any]]) -> str:
    [text] = [
        b["text"]["text"]
        for b in blocks
        if b["type"] == "section" and b.get("text", {}).get("text", "").startswith(HEADING)
    ]
    return str(text)


def ours(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The blocks as pilotgate sent them (the emulator, like Slack, names unnamed blocks)."""
    return [
        {k: v for k, v in b.items() if k != "block_id" or str(v).startswith("pilotgate")}
        for b in blocks
    ]


def has_buttons(blocks: list[dict[str, Any]]) -> bool:
    return any(b["type"] == "actions" for b in blocks)


def refreshes(scene: Scene) -> list[tuple[str | None, str, str | None]]:
    """(ref_id, status, last_error) of every tally refresh, in the order queued."""
    with scene.db.session() as session:
        rows = session.execute(
            select(OutboxMessage.ref_id, OutboxMessage.status, OutboxMessage.last_error)
            .where(OutboxMessage.ref_kind == "request_refresh")
            .order_by(OutboxMessage.id)
        ).all()
    return [(r[0], str(r[1]), r[2]) for r in rows]


def updates_of(scene: Scene, ask: Ask) -> list[dict[str, Any]]:
    """The chat.update calls Slack received for one ask's message."""
    return [
        c.params
        for c in scene.emu.calls_to("chat.update")
        if c.params.get("channel") == ask.channel and c.params.get("ts") == ask.ts
    ]


def test_an_approval_updates_the_other_asks_with_the_tally(
    scene: Scene, gate: tuple[int, Asks], helpdesk: Proposal
) -> None:
    gate_id, asks = gate
    before = latest_blocks(scene, asks[PMO2])
    assert tally_of(before) == (
        f"{HEADING}\n"
        "*programme office* 0 of 1: Pat Moreno, Jordan Blake asked\n"
        "*finance* 0 of 1: Dana Smith asked"
    )
    # the whole story: problem and business case, as the proposal wrote them
    story = next(b for b in before if b["type"] == "section" and "*Problem*" in str(b))
    assert story["text"]["text"] == (
        f"*Problem*\n{helpdesk.problem.strip()}\n"
        f"*Business case*\n{helpdesk.readiness_criteria.business_case}"
    )

    assert scene.click(FIN, asks[FIN]).status_code == 200  # finance approves; PMO still owes 1
    report = scene.relay()
    assert report.errors == [] and report.skipped == 0
    assert refreshes(scene) == [
        (str(asks[PMO1].id), "sent", None),
        (str(asks[PMO2].id), "sent", None),
    ]
    fresh = (
        f"{HEADING}\n"
        "*programme office* 0 of 1: Pat Moreno, Jordan Blake asked\n"
        "*finance* 1 of 1 ✓ Dana Smith"
    )
    for approver in (PMO1, PMO2):
        [update] = updates_of(scene, asks[approver])
        with scene.db.session() as session:  # exactly the ask's blocks, with today's tally
            gate_row = gates.get_gate(session, gate_id)
            expected = messages.request_blocks(
                pilots.get_pilot(session, gate_row.pilot_id),
                gate_row,
                gates.get_request(session, asks[approver].id),
                messages.gate_tally(session, gate_row, scene.runtime.policy),
            )
        assert update["blocks"] == expected
        after = ours(latest_blocks(scene, asks[approver]))
        assert after == expected and tally_of(after) == fresh
        # the same ask, buttons and all: only the tally block changed
        tally_at = next(i for i, b in enumerate(after) if HEADING in str(b))
        original = scene.emu.find_message(asks[approver].channel, asks[approver].ts)
        assert original is not None
        first = ours(original.versions[0].blocks or [])
        assert (
            first[:tally_at] == after[:tally_at] and first[tally_at + 1 :] == after[tally_at + 1 :]
        )
        assert has_buttons(after)
        assert after[-1]["elements"][0]["value"] == str(asks[approver].id)
    # FIN's own ask lost its buttons (closed), and is not refreshed
    assert not has_buttons(latest_blocks(scene, asks[FIN]))
    assert len(updates_of(scene, asks[FIN])) == 1
    with scene.db.session() as session:
        gate_row = session.get(Gate, gate_id)
        assert gate_row is not None and gate_row.status == "open"


def test_a_refresh_queued_before_the_request_closed_is_skipped(
    scene: Scene, gate: tuple[int, Asks]
) -> None:
    gate_id, asks = gate
    assert scene.click(FIN, asks[FIN]).status_code == 200  # refreshes PMO1's and PMO2's asks
    assert scene.click(PMO1, asks[PMO1]).status_code == 200  # settles the gate before a relay
    report = scene.relay()
    assert report.errors == [] and report.skipped == 2
    assert refreshes(scene) == [
        (
            str(asks[PMO1].id),
            "skipped",
            f"tally refresh not sent: request {asks[PMO1].id} was answered",
        ),
        (str(asks[PMO2].id), "skipped", "tally refresh not sent: its gate is approved"),
    ]
    # no buttons were put back: PMO1's ask was only closed; PMO2's was not touched (the gate's
    # follow-up closes it)
    [close] = updates_of(scene, asks[PMO1])
    assert not has_buttons(close["blocks"])
    assert updates_of(scene, asks[PMO2]) == []
    with scene.db.session() as session:
        gate_row = session.get(Gate, gate_id)
        assert gate_row is not None and gate_row.status == "approved"


def test_only_the_newest_refresh_of_a_request_is_sent(scene: Scene, gate: tuple[int, Asks]) -> None:
    gate_id, asks = gate
    assert scene.click(FIN, asks[FIN]).status_code == 200
    with scene.db.session() as session:  # a later change to the gate refreshes them again
        gate_row = gates.get_gate(session, gate_id)
        again = messages.refresh_asks(session, gate_row, now=utcnow())
    assert again == [asks[PMO1].id, asks[PMO2].id]
    with scene.db.session() as session:
        newest = {
            r.ref_id: r.id
            for r in session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.ref_kind == "request_refresh")
                .order_by(OutboxMessage.id)
            )
        }
    report = scene.relay()
    assert report.errors == [] and report.skipped == 2
    assert refreshes(scene) == [
        (
            str(asks[PMO1].id),
            "skipped",
            f"tally refresh not sent: superseded by outbox row {newest[str(asks[PMO1].id)]}",
        ),
        (
            str(asks[PMO2].id),
            "skipped",
            f"tally refresh not sent: superseded by outbox row {newest[str(asks[PMO2].id)]}",
        ),
        (str(asks[PMO1].id), "sent", None),
        (str(asks[PMO2].id), "sent", None),
    ]
    for approver in (PMO1, PMO2):
        assert len(updates_of(scene, asks[approver])) == 1


def test_an_ask_not_yet_posted_shows_the_tally_of_its_refresh(
    scene: Scene, helpdesk: Proposal, policy: Policy
) -> None:
    with scene.db.session() as session:
        pilot_id = pilots.create_pilot(session, helpdesk, policy, actor=PROPOSER, now=utcnow()).id
    opened = open_gate.fn(OpenGateInput(pilot_id=pilot_id, stage=Stage.PROPOSAL))
    client = make_client(scene.runtime.settings)
    first = relay_outbox(scene.db, client, utcnow, limit=1)  # PMO1's ask only
    assert first.sent == 1
    asks = scene.asks(opened.gate_id)
    assert asks[PMO1].ts != "None" and asks[FIN].ts == "None" and asks[PMO2].ts == "None"
    assert scene.click(PMO1, asks[PMO1]).status_code == 200  # PMO 1 of 1; finance still owes
    report = scene.relay()  # the asks, then their refreshes (each waited for its ask)
    assert report.errors == [] and report.skipped == 0
    asks = scene.asks(opened.gate_id)
    fresh = (
        f"{HEADING}\n"
        "*programme office* 1 of 1 ✓ Pat Moreno; Jordan Blake asked\n"
        "*finance* 0 of 1: Dana Smith asked"
    )
    for approver in (PMO2, FIN):
        posted = scene.emu.find_message(asks[approver].channel, asks[approver].ts)
        assert posted is not None
        assert HEADING in str(posted.versions[0].blocks) and fresh not in str(
            posted.versions[0].blocks
        )
        assert tally_of(posted.blocks or []) == fresh and has_buttons(posted.blocks or [])
    assert refreshes(scene) == [
        (str(asks[PMO2].id), "sent", None),
        (str(asks[FIN].id), "sent", None),
    ]


HOSTILE = "<!channel> & <https://evil.example|*Pat*> :tada:"


@pytest.fixture
def hostile_scene(
    db: Database, policy: Policy, emu: SlackEmulator
) -> Iterator[tuple[Scene, Policy]]:
    """The listener under a policy whose people have hostile names."""
    named = policy.model_copy(
        update={
            "people": {
                PMO1: policy.people[PMO1].model_copy(update={"name": HOSTILE}),
                PMO2: policy.people[PMO2].model_copy(update={"name": "Jordan <b> & co"}),
                FIN: policy.people[FIN].model_copy(update={"name": "Dana *Smith*"}),
            }
        }
    )
    runtime = make_runtime(db, named, emu)
    set_runtime(runtime)
    listener = start_in_thread(runtime, on_wake=threading.Event().set)
    try:
        yield Scene(db, runtime, emu, listener), named
    finally:
        listener.stop(wait=False)
        set_runtime(None)


def test_hostile_names_and_problem_are_escaped_in_the_tally_and_the_story(
    hostile_scene: tuple[Scene, Policy], helpdesk: Proposal
) -> None:
    scene, policy = hostile_scene
    problem = ("<!here> & <https://evil.example|x> " * 200).strip()  # 7,000 characters
    proposal = helpdesk.model_copy(
        update={
            "problem": problem,
            "readiness_criteria": helpdesk.readiness_criteria.model_copy(
                update={"business_case": "Saves <@U0PMO0001> & 7,000 hours"}
            ),
        }
    )
    pilot_id, gate_id = scene.propose_and_ask(proposal, policy)
    asks = scene.asks(gate_id)
    assert scene.click(FIN, asks[FIN]).status_code == 200
    assert scene.relay().errors == []
    blocks = latest_blocks(scene, asks[PMO2])
    assert tally_of(blocks) == (
        f"{HEADING}\n"
        "*programme office* 0 of 1: &lt;!channel&gt; &amp; &lt;https://evil.example|*Pat*&gt; "
        ":tada:, Jordan &lt;b&gt; &amp; co asked\n"
        "*finance* 1 of 1 ✓ Dana *Smith*"
    )
    story = next(b for b in blocks if b["type"] == "section" and "*Problem*" in str(b))
    text = story["text"]["text"]
    escaped = ("&lt;!here&gt; &amp; &lt;https://evil.example|x&gt; " * 200).strip()
    link = f" <{pilot_url(pilot_id)}|Read it all on the pilot's page.>"
    problem_part, case_part = text.split("\n*Business case*\n")
    assert problem_part.startswith("*Problem*\n" + escaped[:1000]) and problem_part.endswith(
        "…" + link
    )
    cut = problem_part.removeprefix("*Problem*\n").removesuffix(link)
    assert len(cut) <= 1300 and escaped.startswith(cut.removesuffix("…"))
    assert case_part == "Saves &lt;@U0PMO0001&gt; &amp; 7,000 hours"
    assert "<!here>" not in str(blocks) and "<!channel>" not in str(blocks)


class ClickWhileUpdating(WebClient):
    """A client that, as the refresh of one ask is on its way to Slack, has that ask answered
    (a real signed click) and its close delivered by another relay first: the race a claimed
    refresh can lose."""

    def __init__(self, scene: Scene, ask: Ask) -> None:
        super().__init__(token=TOKEN, base_url=scene.runtime.settings.slack_api_url)
        self.scene, self.ask, self.raced = scene, ask, False

    def api_call(self, api_method: str, **kwargs: Any) -> Any:  # type: ignore[override]
        payload = kwargs.get("json") or {}
        if api_method == "chat.update" and payload.get("ts") == self.ask.ts and not self.raced:
            self.raced = True
            assert self.scene.click(self.ask.approver, self.ask).status_code == 200
            other = self.scene.relay()  # sends the close; the refresh is leased to us
            assert other.sent >= 1 and not has_buttons(latest_blocks(self.scene, self.ask))
        return super().api_call(api_method, **kwargs)


def test_a_request_closed_while_its_refresh_was_sent_is_closed_again(
    scene: Scene, gate: tuple[int, Asks]
) -> None:
    _, asks = gate
    assert scene.click(FIN, asks[FIN]).status_code == 200  # refreshes PMO1's and PMO2's asks
    racing = ClickWhileUpdating(scene, asks[PMO2])
    report = relay_outbox(scene.db, racing, utcnow)
    assert racing.raced and report.errors == []
    # the refresh landed after the close and put the buttons back, so the close went again
    assert has_buttons(latest_blocks(scene, asks[PMO2]))
    with scene.db.session() as session:
        closes = session.execute(
            select(OutboxMessage.status, OutboxMessage.payload)
            .where(
                OutboxMessage.ref_kind == "request_update",
                OutboxMessage.ref_id == str(asks[PMO2].id),
            )
            .order_by(OutboxMessage.id)
        ).all()
    assert [str(c[0]) for c in closes] == ["sent", "pending"]
    assert closes[0][1] == closes[1][1]
    assert scene.relay().errors == []
    kinds = [
        "tally" if HEADING in str(u["blocks"]) else "closed" for u in updates_of(scene, asks[PMO2])
    ]
    assert kinds == ["closed", "tally", "closed"]
    assert not has_buttons(latest_blocks(scene, asks[PMO2]))
