"""Names from Slack: `slack_out.people.refresh_names` asks the emulator's users.info through the
real slack_sdk WebClient and fills the `people` cache on real SQLite and PostgreSQL: missing and
pending ids first, a bounded batch per round, nothing asked again before the expiry, unknown ids
recorded as missing, a Slack that refuses leaves the cache as it was, and `serve`'s dispatcher
does it on its own."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from slack_sdk import WebClient

from config.settings import Settings
from lifecycle.policy import Policy
from lifecycle.proposal import Proposal, load_proposal
from pilotgate.dispatcher import Dispatcher, LocalLauncher
from slack_out.people import name_from, refresh_names
from slackemu import SlackEmulator
from store import dm_channels, people, pilots
from store.db import Database
from store.models import Person
from tasks.runtime import Runtime

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"

TOKEN = "xoxb-people-test"
TTL = timedelta(hours=24)
SLACK_PEOPLE = {
    "U0ARC0001": ("sam", "Sam Okafor", ""),
    "U0ARC0002": ("rita", "Rita Novak", "Rita"),
    "U0SEC0001": ("chris", "Chris Vaughn", ""),
    "U0CMP0001": ("aisha", "Aisha Rahman", ""),
    "U0OPS0001": ("lee", "Lee Park", ""),
    "U0CLN0001": ("elena", "Dr. Elena Ruiz", ""),
}


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def emu() -> Iterator[SlackEmulator]:
    with SlackEmulator(bot_token=TOKEN) as emulator:
        for user_id, (username, real, display) in SLACK_PEOPLE.items():
            emulator.add_user(user_id, username, real_name=real, display_name=display)
        yield emulator


@pytest.fixture
def helpdesk() -> Proposal:
    return load_proposal(EXAMPLES_DIR / "helpdesk-assistant.yaml")


def cached(db: Database) -> dict[str, tuple[str | None, str]]:
    with db.session() as session:
        return {
            p.user_id: (p.name, p.source) for p in session.query(Person).order_by(Person.user_id)
        }


def known(db: Database, policy: Policy) -> set[str]:
    with db.session() as session:
        return people.known_ids(session, policy)


def test_a_round_fills_names_and_the_next_asks_nothing_until_they_expire(
    db: Database, policy: Policy, emu: SlackEmulator, helpdesk: Proposal
) -> None:
    clock = Clock()
    with db.session() as session:
        pilots.create_pilot(session, helpdesk, policy, actor="test", now=clock())
        dm_channels.remember(session, "U0SEC0001", "D0SEC0001")  # pending, no name
    client = WebClient(token=TOKEN, base_url=emu.api_url)
    everyone = known(db, policy)
    first = refresh_names(db, client, policy, clock, ttl=TTL, limit=100)
    assert first.errors == []
    asked = [c.params["user"] for c in emu.calls_to("users.info")]
    assert sorted(asked) == sorted(everyone)  # each known id once; none the policy names
    assert not set(asked) & set(policy.people)
    rows = cached(db)
    assert rows["U0ARC0001"] == ("Sam Okafor", people.SLACK)  # no display name: real name
    assert rows["U0ARC0002"] == ("Rita", people.SLACK)  # a display name wins
    assert rows["U0SEC0001"] == ("Chris Vaughn", people.SLACK)
    # the proposal's people are no Slack users in this workspace: recorded as missing
    assert rows[helpdesk.business_owner.slack_id] == (None, people.MISSING)
    assert first.fetched == len(SLACK_PEOPLE) and first.missing == len(everyone) - first.fetched
    with db.session() as session:
        row = people.get(session, "U0SEC0001")
        assert row is not None and row.dm_channel == "D0SEC0001"  # kept
        names = people.names(session, policy)
    assert names.label("U0SEC0001") == "Chris Vaughn (U0SEC0001)"
    assert names.label(helpdesk.business_owner.slack_id) == (
        f"{helpdesk.business_owner.name} ({helpdesk.business_owner.slack_id})"
    )  # the proposal's

    clock.now += timedelta(hours=23)
    again = refresh_names(db, client, policy, clock, ttl=TTL, limit=100)
    assert (again.fetched, again.missing) == (0, 0)
    assert len(emu.calls_to("users.info")) == len(everyone)  # nothing asked before expiry

    emu.add_user("U0ARC0001", "sam", real_name="Samuel Okafor")
    clock.now += timedelta(hours=2)
    third = refresh_names(db, client, policy, clock, ttl=TTL, limit=100)
    assert third.fetched + third.missing == len(everyone)  # all expired: asked again
    assert cached(db)["U0ARC0001"] == ("Samuel Okafor", people.SLACK)


def test_a_round_is_bounded_and_the_next_round_goes_on(
    db: Database, policy: Policy, emu: SlackEmulator
) -> None:
    clock = Clock()
    client = WebClient(token=TOKEN, base_url=emu.api_url)
    everyone = known(db, policy)
    assert len(everyone) > 3
    refresh_names(db, client, policy, clock, ttl=TTL, limit=3)
    assert len(emu.calls_to("users.info")) == 3
    refresh_names(db, client, policy, clock, ttl=TTL, limit=3)
    assert len({c.params["user"] for c in emu.calls_to("users.info")}) == 6  # others this time


def test_a_refusing_slack_leaves_the_cache_as_it_was(
    db: Database, policy: Policy, emu: SlackEmulator
) -> None:
    clock = Clock()
    with db.session() as session:
        people.record(
            session,
            "U0ARC0001",
            name="Sam",
            real_name=None,
            source=people.SLACK,
            now=clock() - timedelta(days=5),
        )
    before = cached(db)
    refused = refresh_names(
        db, WebClient(token="xoxb-revoked", base_url=emu.api_url), policy, clock, ttl=TTL
    )
    assert refused.fetched == 0 and refused.errors and "invalid_auth" in refused.errors[0]
    assert len(emu.calls_to("users.info")) == 1  # stopped at the first refusal
    emu.outage(503, methods=["users.info"])
    down = refresh_names(db, WebClient(token=TOKEN, base_url=emu.api_url), policy, clock, ttl=TTL)
    assert down.fetched == 0 and down.errors
    assert cached(db) == before  # the stale name stays, shown until Slack answers again
    emu.recover()


def test_serves_dispatcher_refreshes_names_on_its_own(
    db: Database, policy: Policy, emu: SlackEmulator
) -> None:
    settings = Settings(
        _env_file=None,
        SLACK_BOT_TOKEN=TOKEN,
        SLACK_API_URL=emu.api_url,
        PILOTGATE_PEOPLE_TTL_HOURS=6,
    )
    runtime = Runtime(settings, db=db, policy=policy)
    client = WebClient(token=TOKEN, base_url=emu.api_url)
    everyone = known(db, policy)
    quiet = Dispatcher(runtime, client=client, launcher=LocalLauncher(), sweep_every=None)
    quiet.tick()
    assert emu.calls_to("users.info") == []  # only when asked to (serve and the demo)

    clock = Clock()
    minutely = Dispatcher(
        runtime,
        client=client,
        launcher=LocalLauncher(),
        clock=clock,
        sweep_every=None,
        names_every=timedelta(minutes=1),
    )
    report = minutely.tick()
    assert not report.busy  # names are not "work": drain does not wait on them
    assert len(emu.calls_to("users.info")) == len(everyone)
    assert cached(db)["U0ARC0001"] == ("Sam Okafor", people.SLACK)
    clock.now += timedelta(hours=7)  # all expired, but the next round is a minute away
    minutely.tick()
    assert len(emu.calls_to("users.info")) == len(everyone)

    every_tick = Dispatcher(
        runtime,
        client=client,
        launcher=LocalLauncher(),
        clock=clock,
        sweep_every=None,
        names_every=timedelta(0),
    )
    every_tick.tick()  # 7 h later: past PILOTGATE_PEOPLE_TTL_HOURS=6, asked again
    assert len(emu.calls_to("users.info")) == 2 * len(everyone)
    clock.now += timedelta(hours=5)
    every_tick.tick()  # 5 h after the refresh: still fresh
    assert len(emu.calls_to("users.info")) == 2 * len(everyone)
    clock.now += timedelta(hours=1, minutes=1)
    every_tick.tick()
    assert len(emu.calls_to("users.info")) == 3 * len(everyone)


def test_the_name_to_show_from_a_users_info_answer() -> None:
    assert name_from({"name": "sam", "profile": {"display_name": "", "real_name": "Sam O"}}) == (
        "Sam O",
        "Sam O",
    )
    assert name_from({"name": "sam", "real_name": "Sam O", "profile": {"display_name": "S"}}) == (
        "S",
        "Sam O",
    )
    assert name_from({"name": "sam", "profile": {}}) == ("sam", None)
    assert name_from({}) == (None, None)
