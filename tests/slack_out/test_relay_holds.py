"""What a Slack refusal holds, and for how long: only what it covers (issue 18 review).

A Home tab switched off must not stop sign-off asks; the Messages tab switched off holds DMs,
not channel posts, and keeps its own `since` while other calls go through; a missing scope holds
the method that needs it; an older Home view never overwrites a newer one; a reminder queued by
the previous release still finds its way, and one whose request closed is not sent. Real relay,
real slack_sdk client, the emulator on loopback, SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

from relay_world import World

from lifecycle.statuses import GatePhase
from slack_in.server import slack_health
from slack_out.relay import PROBE_EVERY
from store import gates, installation, outbox
from tasks.runtime import Runtime

USER = "U0PMO0002"


def _home(text: str) -> dict[str, Any]:
    return {
        "type": "home",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
    }


def _publish(world: World, user: str, text: str) -> int:
    with world.db.session() as session:
        row = outbox.enqueue(
            session,
            "views.publish",
            {"user_id": user, "view": _home(text)},
            now=world.clock(),
            ref_kind="home",
            ref_id=user,
        )
    assert row is not None
    return row


def _since(world: World, kind: str) -> Any:
    with world.db.session() as session:
        found = [c for c in installation.open_conditions(session) if c.kind == kind]
        return found[0].since if found else None


def test_a_home_tab_that_is_off_does_not_hold_the_sign_off_asks(world: World) -> None:
    home = _publish(world, USER, "your Home")  # the oldest due row
    world.emu.refuse("not_enabled", methods=["views.publish"], count=None)
    world.ask()

    report = world.relay()
    rows = {r.id: r for r in world.rows()}
    assert (rows[home].status, rows[home].last_error) == ("dead", "not_enabled")
    asks = [r for r in rows.values() if r.ref_kind == "request"]
    assert [r.status for r in asks] == ["sent"] * 3
    assert report.paused is None and report.held_by == {} and report.sent == 3
    with world.db.session() as session:
        assert list(installation.open_conditions(session)) == []


def test_the_messages_tab_off_holds_dms_only_and_keeps_its_since(world: World) -> None:
    world.emu.set_messages_tab(False)
    world.ask()  # three DMs
    channel = "C0TEAM001"
    first = world.post(channel, "a channel post")

    report = world.relay()
    rows = {r.id: r for r in world.rows()}
    assert rows[first].status == "sent"
    assert sorted(r.status for r in rows.values() if r.ref_kind == "request") == ["pending"] * 3
    assert report.paused is None and report.held_by == {"dm": "messages_tab_disabled"}
    assert all(r.attempts == 0 for r in rows.values() if r.ref_kind == "request")
    since = _since(world, "dm")
    assert since is not None
    runtime = Runtime(world.settings(), db=world.db, policy=world.policy)
    health = slack_health(runtime)
    assert (health["state"], health["holds"], health["error"]) == (
        "paused",
        "dm",
        "messages_tab_disabled",
    )
    dm_posts = [c for c in world.calls("chat.postMessage") if c.params.get("channel") != channel]
    assert len(dm_posts) == 1  # one DM met the refusal; the other two were held, not tried

    # a channel post going through does not close the DM condition, nor move its since
    world.clock.advance(PROBE_EVERY.total_seconds() + 1)
    second = world.post(channel, "another channel post")
    report = world.relay()
    assert {r.id: r for r in world.rows()}[second].status == "sent"
    assert _since(world, "dm") == since
    dm_posts = [c for c in world.calls("chat.postMessage") if c.params.get("channel") != channel]
    assert len(dm_posts) == 2  # the probe: one DM row, no more

    world.emu.set_messages_tab(True)
    world.clock.advance(PROBE_EVERY.total_seconds() + 1)
    report = world.relay()
    assert report.held_by == {} and report.sent == 3
    assert {r.status for r in world.rows()} == {"sent"}
    with world.db.session() as session:
        assert installation.current(session) is None
        [closed] = [c for c in installation.history(session) if c.kind == "dm"]
        assert closed.since == since and closed.cleared_at is not None


def test_a_missing_scope_holds_only_the_method_that_needs_it(world: World) -> None:
    world.emu.remove_scope("im:write")  # conversations.open: new DMs cannot be opened
    world.ask()
    post = world.post("C0TEAM001", "a channel post")

    report = world.relay()
    rows = {r.id: r for r in world.rows()}
    assert rows[post].status == "sent"
    assert sorted(r.status for r in rows.values() if r.ref_kind == "request") == ["pending"] * 3
    assert report.held_by == {"scope:conversations.open": "missing_scope"}
    assert len(world.calls("conversations.open")) == 1  # the other asks were held, not tried

    world.emu.set_scopes(None)
    world.clock.advance(PROBE_EVERY.total_seconds() + 1)
    report = world.relay()
    assert report.held_by == {} and report.sent == 3
    with world.db.session() as session:
        assert installation.current(session) is None


def test_an_older_home_view_is_never_sent_after_a_newer_one(world: World) -> None:
    older = _publish(world, USER, "old Home")
    world.emu.fail(503, count=1, retry_after=None, methods=["views.publish"])
    world.relay()  # the older view meets an outage and backs off
    assert {r.id: r for r in world.rows()}[older].status == "pending"

    newer = _publish(world, USER, "new Home")
    other = _publish(world, "U0FIN0001", "someone else's Home")
    for _ in range(3):
        world.relay()
        world.clock.advance(5)

    rows = {r.id: r for r in world.rows()}
    assert rows[newer].status == rows[other].status == "sent"
    assert rows[older].status == "skipped"
    assert rows[older].last_error == f"superseded by outbox row {newer}"
    home = world.emu.home_for(USER)
    assert home is not None and "new Home" in str(home.view["blocks"])
    published = [c for c in world.calls("views.publish") if c.ok]
    assert [c.params["view"]["blocks"][0]["text"]["text"] for c in published] == [
        "new Home",
        "someone else's Home",
    ]


def test_a_reminder_queued_by_the_previous_release_goes_where_the_ask_went(world: World) -> None:
    _, requests = world.ask()
    world.relay()  # the asks are delivered: each request knows its DM channel
    request = requests[0]
    with world.db.session() as session:
        channel = gates.get_request(session, request.id).channel
        # the previous release's row: no user, no channel, relying on the ask's thread
        reminder = outbox.enqueue(
            session,
            "chat.postMessage",
            {"text": "Reminder: sign-off due soon"},
            now=world.clock(),
            ref_kind="reminder",
            ref_id=request.id,
        )
    assert channel
    world.relay()
    row = {r.id: r for r in world.rows()}[reminder]
    assert (row.status, row.result_channel) == ("sent", channel)
    texts = [m.text for m in world.emu.messages_in(channel)]
    assert "Reminder: sign-off due soon" in texts


def test_a_reminder_whose_gate_settled_before_it_went_out_is_skipped(world: World) -> None:
    _, requests = world.ask()
    request = requests[0]
    with world.db.session() as session:
        reminder = outbox.enqueue(
            session,
            "chat.postMessage",
            {"user": request.approver, "text": "Reminder: sign-off due soon"},
            now=world.clock(),
            ref_kind="reminder",
            ref_id=request.id,
        )
        gate = gates.get_gate(session, request.gate_id)
        assert gates.resolve_gate(
            session, gate, GatePhase.CANCELLED, "terminated", now=world.clock(), actor="test"
        )

    report = world.relay()
    row = {r.id: r for r in world.rows()}[reminder]
    assert row.status == "skipped" and row.last_error == "reminder not sent: its gate is cancelled"
    assert report.skipped == 1
    sent = [c.params.get("text") for c in world.calls("chat.postMessage")]
    assert "Reminder: sign-off due soon" not in sent
