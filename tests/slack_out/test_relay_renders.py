"""What a decision queues unrendered (a close, the other asks' tally refresh) is rendered by the
relay when it sends it, into the row; an update whose ask is not posted yet waits unrendered; a
row that cannot be rendered is dead with why, and the round goes on. Real relay, real
slack_sdk, the emulator on loopback, SQLite and PostgreSQL."""

from __future__ import annotations

import json

from relay_world import World

from slack_out import messages
from slack_out.render import mrkdwn
from store import gates, outbox


def test_a_close_is_rendered_when_it_is_sent_and_the_row_keeps_what_was_sent(world: World) -> None:
    pilot_id, requests = world.ask()
    assert world.relay().sent == len(requests)
    first = requests[0]
    with world.db.session() as session:
        outcome = mrkdwn("Approved by {}", "<!channel>")
        messages.close_request(session, first, outcome, world.clock())
        gate = gates.get_gate(session, first.gate_id)
        messages.refresh_asks(session, gate, now=world.clock(), skip={first.id})
    queued = [r for r in world.rows() if r.ref_kind in ("request_update", "request_refresh")]
    assert queued and all(messages.is_deferred(r.payload) for r in queued)
    assert "blocks" not in json.dumps([r.payload for r in queued])

    report = world.relay(policy=world.policy)
    assert report.errors == [] and report.sent == len(queued)
    rows = {(r.ref_kind, r.ref_id): r for r in world.rows()}
    close = rows[("request_update", str(first.id))]
    assert close.status == "sent" and "render" not in close.payload
    assert close.payload["text"] == "Approved by &lt;!channel&gt;"
    header = close.payload["blocks"][0]["text"]["text"]
    assert header == "IT help-desk assistant — proposal → pilot"  # rendered at send time
    with world.db.session() as session:
        posted = gates.get_request(session, first.id)
        ts = posted.message_ts
    sent = [c for c in world.calls("chat.update") if c.params.get("ts") == ts]
    assert sent and sent[-1].params["blocks"] == close.payload["blocks"]
    for other in requests[1:]:
        refresh = rows[("request_refresh", str(other.id))]
        assert refresh.status == "sent" and refresh.payload["text"].startswith("Sign-off requested")
        assert any(b.get("block_id") == "pilotgate_decision" for b in refresh.payload["blocks"])
    assert pilot_id in json.dumps(close.payload)


def test_an_update_waits_unrendered_until_its_ask_is_posted(world: World) -> None:
    _, requests = world.ask()
    first = requests[0]
    with world.db.session() as session:  # its ask is queued, not yet sent
        messages.close_request(session, first, mrkdwn("Approved"), world.clock())
    world.emu.fail(429, count=1, retry_after=10, methods=["chat.postMessage"])
    world.relay(policy=world.policy)  # the first ask is held by the 429; its close waits
    close = next(r for r in world.rows() if r.ref_kind == "request_update")
    assert close.status == "pending" and messages.is_deferred(close.payload)
    assert not world.calls("chat.update")
    world.clock.advance(11)
    assert world.relay(policy=world.policy).errors == []
    done = next(r for r in world.rows() if r.ref_kind == "request_update")
    assert done.status == "sent" and "blocks" in done.payload


def test_a_row_that_cannot_be_rendered_is_dead_with_why_and_the_round_goes_on(
    world: World,
) -> None:
    _, requests = world.ask()
    assert world.relay().sent == len(requests)
    with world.db.session() as session:  # a close without its outcome: only a bug makes one
        broken = outbox.enqueue(
            session,
            "chat.update",
            {"render": "closed"},
            now=world.clock(),
            ref_kind="request_update",
            ref_id=requests[0].id,
        )
    post = world.post("C0TEAM001", "a post goes on")
    report = world.relay(policy=world.policy)
    rows = {r.id: r for r in world.rows()}
    assert rows[broken].status == "dead" and report.dead == 1
    assert (rows[broken].last_error or "").startswith("could not be rendered: KeyError")
    assert rows[post].status == "sent"
    assert not [c for c in world.calls("chat.update")]  # nothing half-rendered reached Slack
