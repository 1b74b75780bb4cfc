"""The bot's DM channel per user, so a direct message is one Slack call, not two.

`conversations.open` gives the same `D...` id for a user every time; asking once and keeping it
in the `people` table halves the calls of every DM (and the rate-limit budget they spend).
The table is shared with the names cache (`store.people`): a row this module creates carries
no name, source "pending" and `fetched_at` at the epoch, so the names cache sees it as expired
and fills the name in; updating a row here never touches the name columns.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from store._rows import insert_ignore
from store.models import Person

#: placeholders for a row that only knows the DM channel (see the module docstring).
PENDING_SOURCE = "pending"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def get(session: Session, user_id: str) -> str | None:
    """The cached DM channel of `user_id`, or None."""
    return session.execute(
        select(Person.dm_channel).where(Person.user_id == user_id)
    ).scalar_one_or_none()


def get_many(session: Session, user_ids: Collection[str]) -> dict[str, str]:
    """user id -> cached DM channel, for those that have one."""
    if not user_ids:
        return {}
    rows = session.execute(
        select(Person.user_id, Person.dm_channel).where(
            Person.user_id.in_(list(user_ids)), Person.dm_channel.is_not(None)
        )
    )
    return {user: str(channel) for user, channel in rows}


def remember(session: Session, user_id: str, channel: str) -> None:
    """Keep `channel` as the DM channel of `user_id` (creating a nameless row if needed)."""
    created = insert_ignore(
        session,
        Person.__table__,
        {
            "user_id": user_id,
            "name": None,
            "real_name": None,
            "dm_channel": channel,
            "source": PENDING_SOURCE,
            "fetched_at": EPOCH,
        },
        ["user_id"],
    )
    if not created:
        session.execute(
            update(Person)
            .where(Person.user_id == user_id)
            .values(dm_channel=channel)
            .execution_options(synchronize_session=False)
        )


def forget(session: Session, user_id: str) -> None:
    """Slack no longer knows the cached channel: the next DM asks again."""
    session.execute(
        update(Person)
        .where(Person.user_id == user_id)
        .values(dm_channel=None)
        .execution_options(synchronize_session=False)
    )
