"""The relay against a Slack that says no the documented ways (issue 18, items 1-4).

Each test drives the real relay and the real slack_sdk client against the emulator over
loopback, on SQLite and PostgreSQL, and reads what the register and the emulator recorded.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import pytest
from relay_world import OWNER, World
from slack_sdk import WebClient

from slack_out import messages, preflight
from slack_out.relay import PROBE_EVERY
from slack_out.slack_errors import TABLE, Scope, classify
from store import dm_channels, installation, outbox
from store.models import Person

DIGEST = "C0PORTFOLIO"


# ---------------------------------------------------------------- 1. the digest channel


def test_a_digest_channel_the_bot_is_not_in_is_found_before_any_digest(world: World) -> None:
    world.emu.add_channel(DIGEST, "ai-portfolio")
    world.emu.remove_bot_from(DIGEST)
    client = WebClient(token=world.token, base_url=world.emu.api_url)

    found = preflight.check_channel(client, DIGEST)
    assert not found.ok and found.error == "not_in_channel"
    assert "/invite" in found.message and "#ai-portfolio" in found.message

    world.emu.invite_bot(DIGEST)
    assert preflight.check_channel(client, DIGEST).ok


def test_a_digest_refused_with_not_in_channel_is_dead_at_once_and_says_the_fix(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    world.emu.remove_bot_from(DIGEST)
    digest = world.post(DIGEST, "the digest")
    other = world.post("C0OTHER01", "another channel")
    with caplog.at_level(logging.ERROR, logger="pilotgate.relay"):
        report = world.relay()
    rows = {r.id: r for r in world.rows()}
    assert (rows[digest].status, rows[digest].last_error, rows[digest].attempts) == (
        "dead",
        "not_in_channel",
        1,
    )
    assert rows[other].status == "sent" and report.sent == 1 and report.dead == 1
    assert any("invite the bot to C0PORTFOLIO" in r.getMessage() for r in caplog.records)


# ---------------------------------------------------------------- 2. permanent errors


@pytest.mark.parametrize(
    ("error", "method"),
    [
        ("user_not_visible", "conversations.open"),
        ("cannot_dm_bot", "conversations.open"),
        ("restricted_action", "chat.postMessage"),
        ("is_archived", "chat.postMessage"),
    ],
)
def test_a_recipient_refused_for_good_is_dead_in_one_attempt_and_the_round_goes_on(
    world: World, error: str, method: str
) -> None:
    _, requests = world.ask()
    first = requests[0]
    world.emu.refuse(error, methods=[method], count=1)
    report = world.relay()

    rows = world.rows()
    asks = [r for r in rows if r.ref_kind == "request"]
    dead = [r for r in asks if r.status == "dead"]
    assert [(r.ref_id, r.last_error, r.attempts) for r in dead] == [(str(first.id), error, 1)]
    # the round did not stop at the refused row: the other asks went out in it
    assert sorted(r.status for r in asks) == ["dead", "sent", "sent"]
    assert report.dead == 1 and not report.errors
    # and the pilot's owner is told in the same relay run (a notice row, then delivered)
    world.relay()
    owner = world.emu.dm_channel_for(OWNER)
    told = [m for m in world.emu.messages_in(owner) if "could not be delivered" in (m.text or "")]
    assert len(told) == 1 and error in (told[0].text or "")


def test_an_ephemeral_to_someone_who_left_the_channel_is_dead_not_retried(world: World) -> None:
    world.emu.refuse("user_not_in_channel", methods=["chat.postEphemeral"], count=None)
    with world.db.session() as session:
        messages.not_yours(session, "C0TEAM001", "U0PMO0002", "not yours", world.clock())
    world.relay()
    [row] = world.rows()
    assert (row.status, row.last_error, row.attempts) == ("dead", "user_not_in_channel", 1)


def test_every_documented_error_of_every_method_we_call_is_classified() -> None:
    # the list, by the scope the relay acts on
    for error in ("missing_scope", "token_revoked", "not_allowed_token_type", "invalid_auth"):
        assert classify("chat.postMessage", error) is Scope.INSTALLATION
    assert classify("chat.postMessage", "account_inactive") is Scope.INSTALLATION
    assert classify("chat.postMessage", "messages_tab_disabled") is Scope.INSTALLATION
    # the Home tab off is about App Home views only, never a pause of everything
    assert classify("views.publish", "not_enabled") is Scope.MESSAGE
    for error in ("user_not_visible", "user_disabled", "user_not_found"):
        assert classify("conversations.open", error) is Scope.RECIPIENT
    assert classify("chat.postEphemeral", "user_not_in_channel") is Scope.RECIPIENT
    assert classify("chat.postMessage", "restricted_action") is Scope.RECIPIENT
    assert classify("chat.update", "msg_too_long") is Scope.MESSAGE
    assert classify("chat.postMessage", "ratelimited") is Scope.TRANSIENT
    assert classify("chat.postMessage", "an_error_slack_adds_later") is Scope.TRANSIENT
    for method in (
        "chat.postMessage",
        "chat.update",
        "chat.postEphemeral",
        "conversations.open",
        "conversations.info",
        "auth.test",
        "views.open",
    ):
        assert method in TABLE


# ---------------------------------------------------------------- 3. installation-wide


@pytest.mark.parametrize("error", ["invalid_auth", "account_inactive", "token_revoked"])
def test_a_bad_token_pauses_the_relay_and_the_same_rows_go_out_once_it_is_fixed(
    world: World, error: str, caplog: pytest.LogCaptureFixture
) -> None:
    _, requests = world.ask()
    world.emu.revoke_token(error)
    with caplog.at_level(logging.ERROR, logger="pilotgate.relay"):
        report = world.relay()
    assert report.paused == error and report.dead == 0
    rows = world.rows()
    assert [r.status for r in rows] == ["pending"] * 3
    assert all(r.attempts == 0 for r in rows)  # a paused try is not an attempt
    assert any("slack paused" in r.getMessage() and error in r.getMessage() for r in caplog.records)
    with world.db.session() as session:
        state = installation.current(session)
        assert state is not None and state.kind == "token" and state.error == error
        assert state.detail and "fix:" in state.detail

    # nothing is tried again before the probe is due, however often the relay runs
    before = len(world.emu.calls)
    assert world.relay().paused == error
    assert len(world.emu.calls) == before

    # still broken at the next probe: one auth.test, still paused, rows untouched
    world.clock.advance(PROBE_EVERY.total_seconds() + 1)
    assert world.relay().paused == error
    assert [c.method for c in world.emu.calls[before:]] == ["auth.test"]
    assert [r.status for r in world.rows()] == ["pending"] * 3

    # the app is reinstalled: a new token, a new process (a new client)
    world.emu.set_bot_token("xoxb-the-new-token")
    world.token = "xoxb-the-new-token"
    world.clock.advance(PROBE_EVERY.total_seconds() + 1)
    report = world.relay()
    assert report.paused is None and report.sent == 3
    assert [r.status for r in world.rows()] == ["sent"] * 3
    posted = [c for c in world.calls("chat.postMessage") if c.ok]
    assert len(posted) == 3  # each ask once
    with world.db.session() as session:
        assert installation.current(session) is None
        [closed] = installation.history(session)
        assert closed.cleared_at is not None
    assert {r.ref_id for r in world.rows()} == {str(r.id) for r in requests}


@pytest.mark.parametrize(
    ("breaks", "fixes", "error"),
    [
        (
            lambda emu: emu.remove_scope("chat:write"),
            lambda emu: emu.set_scopes(None),
            "missing_scope",
        ),
        (
            lambda emu: emu.set_messages_tab(False),
            lambda emu: emu.set_messages_tab(True),
            "messages_tab_disabled",
        ),
    ],
)
def test_a_missing_scope_or_the_messages_tab_off_pauses_and_resumes(
    world: World, breaks: object, fixes: object, error: str
) -> None:
    world.ask()
    breaks(world.emu)  # type: ignore[operator]
    report = world.relay()
    assert list(report.held_by.values()) == [error] and report.paused is None
    assert [r.status for r in world.rows()] == ["pending"] * 3
    world.clock.advance(PROBE_EVERY.total_seconds() + 1)
    # probed with one row of what is held: still refused
    assert list(world.relay().held_by.values()) == [error]
    assert [r.status for r in world.rows()] == ["pending"] * 3

    fixes(world.emu)  # type: ignore[operator]
    world.clock.advance(PROBE_EVERY.total_seconds() + 1)
    report = world.relay()
    assert report.paused is None and report.held_by == {} and report.sent == 3
    with world.db.session() as session:
        assert installation.current(session) is None


def test_auth_test_at_start_up_records_the_pause_before_anything_is_queued(world: World) -> None:
    world.emu.revoke_token("token_revoked")
    client = WebClient(token=world.token, base_url=world.emu.api_url)
    finding = preflight.check_token(client)
    assert not finding.ok and finding.installation_wide and "reinstall" in finding.message
    preflight.record(world.db, finding, world.clock())
    with world.db.session() as session:
        state = installation.current(session)
        assert state is not None and state.error == "token_revoked"
    assert world.rows() == []


# ---------------------------------------------------------------- 4. rate limits


def test_a_429_holds_only_its_channel_and_nothing_sleeps_inside_the_call(world: World) -> None:
    busy, calm = "C0BUSY001", "C0CALM001"
    a1, a2 = world.post(busy, "busy 1"), world.post(busy, "busy 2")
    b1, b2 = world.post(calm, "calm 1"), world.post(calm, "calm 2")
    world.emu.fail(429, count=1, retry_after=30, methods=["chat.postMessage"], channel=busy)

    start = world.clock()
    report = world.relay()
    rows = {r.id: r for r in world.rows()}
    # the other channel was served in the same round
    assert rows[b1].status == rows[b2].status == "sent" and report.sent == 2
    # the busy channel was asked once: no retry inside the call, its second row not tried
    assert len(world.calls("chat.postMessage", busy)) == 1
    for row_id in (a1, a2):
        assert rows[row_id].status == "pending" and rows[row_id].attempts == 0
        assert rows[row_id].next_attempt_at >= start + timedelta(seconds=29)
    assert report.next_due is not None and report.next_due >= start + timedelta(seconds=29)

    world.relay()  # before Retry-After has passed: nothing is asked of the busy channel
    assert len(world.calls("chat.postMessage", busy)) == 1

    world.clock.advance(31)
    world.relay()
    world.clock.advance(1.1)  # once limited, the channel is paced at Slack's 1 a second
    world.relay()
    sent = [c for c in world.calls("chat.postMessage", busy) if c.ok]
    assert [c.params["text"] for c in sent] == ["busy 1", "busy 2"]  # in order, once each
    assert {r.status for r in world.rows()} == {"sent"}


def test_a_dm_is_one_call_once_the_channel_is_known(world: World) -> None:
    world.dm("U0PMO0002", "first")
    world.dm("U0PMO0002", "second")
    world.relay()
    assert len(world.calls("conversations.open")) == 1
    assert len([c for c in world.calls("chat.postMessage") if c.ok]) == 2
    with world.db.session() as session:
        assert dm_channels.get(session, "U0PMO0002") == world.emu.dm_channel_for("U0PMO0002")

    world.dm("U0PMO0002", "third")  # a later round (a new process: a new client)
    world.relay()
    assert len(world.calls("conversations.open")) == 1
    assert [c.params["channel"] for c in world.calls("chat.postMessage")] == [
        world.emu.dm_channel_for("U0PMO0002")
    ] * 3


def test_the_dm_cache_keeps_names_untouched_and_marks_new_rows_expired(world: World) -> None:
    with world.db.session() as session:
        dm_channels.remember(session, "U0NEW0001", "D0NEW0001")
        dm_channels.remember(session, "U0NEW0001", "D0NEW0002")
    with world.db.session() as session:
        person = session.get(Person, "U0NEW0001")
        assert person is not None
        assert (person.dm_channel, person.name, person.source) == ("D0NEW0002", None, "pending")
        assert person.fetched_at.year == 1970


def test_tier_limits_with_retry_after_are_waited_out_per_channel(world: World) -> None:
    world.emu.enforce_rate_limits()
    for i in range(3):
        world.post("C0ONE0001", f"one {i}")
        world.post("C0TWO0001", f"two {i}")
    report = world.relay()
    # one a second per channel: the first of each channel now, the rest held, none lost
    assert report.sent == 2
    limited = [c for c in world.emu.calls if c.status == 429]
    assert len(limited) <= 2  # at most one 429 per channel; the rest were not even asked
    for _ in range(10):
        if {r.status for r in world.rows()} == {"sent"}:
            break
        world.clock.advance(1.0)
        time.sleep(1.0)  # the emulator's window is real time
        world.relay()
    assert {r.status for r in world.rows()} == {"sent"}
    texts = [c.params["text"] for c in world.calls("chat.postMessage", "C0ONE0001") if c.ok]
    assert texts == ["one 0", "one 1", "one 2"]


def test_an_html_5xx_is_an_outage_not_a_dead_message(world: World) -> None:
    row = world.post("C0TEAM001", "hello")
    world.emu.fail(502, count=1, retry_after=None, html=True)
    report = world.relay()
    [found] = world.rows()
    assert found.id == row and found.status == "pending" and found.attempts == 1
    assert report.errors and "502" in report.errors[0]
    world.clock.advance(5)
    world.relay()
    assert world.rows()[0].status == "sent"


def test_a_warning_on_an_accepted_call_is_logged_not_failed(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    world.emu.warn("missing_charset", methods=["chat.postMessage"])
    world.post("C0TEAM001", "hello")
    with caplog.at_level(logging.INFO, logger="pilotgate.relay"):
        report = world.relay()
    assert report.sent == 1
    assert any("missing_charset" in r.getMessage() for r in caplog.records)


def test_a_429_on_conversations_open_holds_new_dms_but_not_channel_posts(world: World) -> None:
    for user in ("U0PMO0001", "U0PMO0002", "U0FIN0001"):
        world.dm(user, f"hello {user}")
    post = world.post("C0TEAM001", "a channel post")
    world.emu.fail(429, count=1, retry_after=20, methods=["conversations.open"])
    report = world.relay()
    assert len(world.calls("conversations.open")) == 1  # the other DMs were not even tried
    rows = {r.id: r for r in world.rows()}
    assert rows[post].status == "sent" and report.sent == 1
    assert sorted(r.status for r in rows.values()) == ["pending", "pending", "pending", "sent"]
    world.clock.advance(21)
    world.relay()
    assert {r.status for r in world.rows()} == {"sent"}


def test_a_429_on_a_tiered_method_holds_that_method_everywhere(world: World) -> None:
    _, requests = world.ask()
    assert world.relay().sent == 3
    with world.db.session() as session:
        for request in requests[:2]:  # two approvers' messages: two DM channels
            outbox.enqueue(
                session,
                "chat.update",
                {"text": "closed", "blocks": []},
                now=world.clock(),
                ref_kind="request_update",
                ref_id=request.id,
            )
    world.post("C0TEAM001", "a post goes on")
    world.emu.fail(429, count=1, retry_after=10, methods=["chat.update"])
    report = world.relay()
    # chat.update is Tier 3 for the whole workspace: the second update was not even tried
    assert len(world.calls("chat.update")) == 1 and report.sent == 1
    world.clock.advance(11)
    world.relay()
    assert {r.status for r in world.rows()} == {"sent"}
    assert [c.ok for c in world.calls("chat.update")] == [False, True, True]
