"""The names cache (`store.people`) on real SQLite and PostgreSQL: the one naming rule, what is
due for a users.info refresh (missing, pending, expired; bounded), and that writing a name
never touches the DM channel `store.dm_channels` keeps in the same row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lifecycle.policy import PersonEntry, Policy
from lifecycle.proposal import Proposal
from store import dm_channels, people, pilots
from store.db import Database
from store.models import Person

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
TTL = timedelta(hours=24)
ARC, SEC, OPS, FIN = "U0ARC0001", "U0SEC0001", "U0OPS0001", "U0FIN0001"


def named(policy: Policy, **names: str) -> Policy:
    return policy.model_copy(update={"people": {k: PersonEntry(name=v) for k, v in names.items()}})


def test_the_policy_beats_slack_which_beats_the_proposal(
    db: Database, policy: Policy, helpdesk: Proposal
) -> None:
    owner = helpdesk.business_owner.slack_id  # "Tom Becker" in the proposal
    with db.session() as session:
        pilots.create_pilot(session, helpdesk, policy, actor="test", now=NOW)
        people.record(session, owner, name="Thomas B.", real_name="Thomas Becker",
                      source=people.SLACK, now=NOW)
        people.record(session, FIN, name="dana", real_name="Dana S.", source=people.SLACK, now=NOW)
    rule = named(policy, U0FIN0001="Dana Smith")
    with db.session() as session:
        everyone = people.names(session, rule)
        some = people.names(session, rule, {owner, FIN, ARC, helpdesk.technical_lead.slack_id})
    for names in (everyone, some):
        assert names.name(FIN) == "Dana Smith"  # the policy's word
        assert names.name(owner) == "Thomas B."  # Slack's, over the proposal's "Tom Becker"
        assert names.name(helpdesk.technical_lead.slack_id) == helpdesk.technical_lead.name
        assert names.name(ARC) is None
        assert names.label(FIN) == "Dana Smith (U0FIN0001)"
        assert names.label(ARC) == ARC  # no name: the bare id, never "None (U...)"
        assert names.show(ARC) == ARC and names.show(FIN) == "Dana Smith"
    assert people.label(None, None) == "" and people.label("cli", "cli") == "cli"


def test_an_expired_name_is_still_shown_until_it_is_refreshed(db: Database, policy: Policy) -> None:
    with db.session() as session:
        people.record(session, ARC, name="Sam", real_name=None, source=people.SLACK,
                      now=NOW - timedelta(days=30))
    with db.session() as session:
        assert people.names(session, policy, {ARC}).name(ARC) == "Sam"
        assert people.due_for_refresh(session, [ARC], now=NOW, ttl=TTL, limit=5) == [ARC]


def test_due_for_refresh_missing_and_pending_first_then_oldest_expired_bounded(
    db: Database,
) -> None:
    with db.session() as session:
        people.record(session, "U0OLD0001", name="Old", real_name=None, source=people.SLACK,
                      now=NOW - timedelta(days=3))
        people.record(session, "U0OLD0002", name="Older", real_name=None, source=people.SLACK,
                      now=NOW - timedelta(days=9))
        people.record(session, "U0NEW0001", name="Fresh", real_name=None, source=people.SLACK,
                      now=NOW - timedelta(hours=2))
        people.record(session, "U0GONE001", name=None, real_name=None, source=people.MISSING,
                      now=NOW - timedelta(hours=1))
        dm_channels.remember(session, SEC, "D0SEC0001")  # a DM channel, no name yet
    candidates = ["U0OLD0001", "U0OLD0002", "U0NEW0001", "U0GONE001", SEC, OPS]
    with db.session() as session:
        due = people.due_for_refresh(session, candidates, now=NOW, ttl=TTL, limit=10)
        assert due == [OPS, SEC, "U0OLD0002", "U0OLD0001"]  # never fetched, then oldest
        assert people.due_for_refresh(session, candidates, now=NOW, ttl=TTL, limit=3) == due[:3]
        assert people.due_for_refresh(session, [], now=NOW, ttl=TTL, limit=3) == []
        # a "missing" answer is asked again once it too has expired
        later = NOW + timedelta(hours=24)
        assert "U0GONE001" in people.due_for_refresh(
            session, candidates, now=later, ttl=TTL, limit=10
        )


def test_recording_a_name_keeps_the_dm_channel_and_refreshes_in_place(db: Database) -> None:
    with db.session() as session:
        dm_channels.remember(session, SEC, "D0SEC0001")
    with db.session() as session:
        pending = people.get(session, SEC)
        assert pending is not None and pending.source == people.PENDING and pending.name is None
        people.record(session, SEC, name="Chris", real_name="Chris Vaughn", source=people.SLACK,
                      now=NOW)
    with db.session() as session:
        row = people.get(session, SEC)
        assert row is not None
        assert (row.name, row.real_name, row.dm_channel, row.source, row.fetched_at) == (
            "Chris", "Chris Vaughn", "D0SEC0001", people.SLACK, NOW)
        people.record(session, SEC, name="C. Vaughn", real_name="Chris Vaughn",
                      source=people.SLACK, now=NOW + TTL)
    with db.session() as session:
        row = people.get(session, SEC)
        assert row is not None and (row.name, row.dm_channel) == ("C. Vaughn", "D0SEC0001")
        assert row.fetched_at == NOW + TTL
        assert session.query(Person).count() == 1
        # and the DM side's writes leave the name alone
        dm_channels.remember(session, SEC, "D0SEC0002")
    with db.session() as session:
        row = people.get(session, SEC)
        assert row is not None and (row.name, row.dm_channel) == ("C. Vaughn", "D0SEC0002")


def test_known_ids_are_everyone_shown_except_whom_the_policy_names(
    db: Database, policy: Policy, helpdesk: Proposal
) -> None:
    with db.session() as session:
        pilots.create_pilot(session, helpdesk, policy, actor="test", now=NOW)
        known = people.known_ids(session, policy)
    assert {ARC, SEC, OPS, helpdesk.business_owner.slack_id, helpdesk.proposer.slack_id} <= known
    assert not known & set(policy.people)  # the example policy names these itself
    assert "U0PMO0001" in policy.people and "U0PMO0001" not in known
