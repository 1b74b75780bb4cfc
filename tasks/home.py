"""Keeping App Homes current: after a change to a pilot, in the same transaction, the Home of
everyone it concerns (proposer, owner, everyone asked, the programme office) is queued again,
if they have one (`slack_out.home.refresh`); the relay renders each as it sends it.

A caller acting on many pilots in one transaction (the sweep's batches) wraps them in
`batched(session)`: the refreshes are then made once, for everyone the batch concerns, when the
block ends -- still in that transaction, so a Home is never older than what it commits."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy.orm import Session

from lifecycle.policy import Policy
from slack_out import home
from store import read_home
from tasks.runtime import get_runtime


def policy() -> Policy:
    """The policy the process runs under."""
    return get_runtime().policy


def programme_office_role() -> str:
    """The policy's programme-office role (the one name every surface uses)."""
    return get_runtime().policy.programme_office


def programme_office() -> list[str]:
    return get_runtime().policy.programme_office_members()


#: Session.info key: the pilots whose Homes a `batched` block refreshes when it ends.
_BATCH = "pilotgate.home.batch"


def refresh_pilot(
    session: Session, pilot_id: str, now: datetime, *, policy: Policy | None = None
) -> list[str]:
    """Queue again the Homes a change to `pilot_id` shows on; returns whose (nobody yet inside
    `batched`: they are refreshed when it ends). `policy`: the one the caller works under (the
    CLI's), else the runtime's."""
    batch: set[str] | None = session.info.get(_BATCH)
    if batch is not None and policy is None:
        batch.add(pilot_id)
        return []
    session.flush()
    pmo = (policy or get_runtime().policy).programme_office_members()
    people = read_home.people_of_pilot(session, pilot_id) | set(pmo)
    return home.refresh(session, people, now, programme_office=pmo)


@contextmanager
def batched(session: Session, now: datetime) -> Iterator[None]:
    """Within the block, `refresh_pilot` notes the pilot; when the block ends (without an
    error) the Homes of everyone those pilots concern are queued once each."""
    if _BATCH in session.info:  # an outer batch refreshes them all
        yield
        return
    pilot_ids: set[str] = set()
    session.info[_BATCH] = pilot_ids
    try:
        yield
    finally:
        session.info.pop(_BATCH, None)
    if pilot_ids:
        session.flush()
        pmo = get_runtime().policy.programme_office_members()
        people = read_home.people_of_pilots(session, pilot_ids) | set(pmo)
        home.refresh(session, people, now, programme_office=pmo)


def publish_home(session: Session, user_id: str, now: datetime) -> None:
    """Queue `user_id`'s Home (they opened it); the relay renders it as it sends it."""
    home.publish(session, user_id, now, programme_office=user_id in programme_office())


def is_programme_office(user_id: str) -> bool:
    return user_id in programme_office()


def is_policy_member(user_id: str) -> bool:
    """Whether the person holds any of the policy's roles."""
    return get_runtime().policy.is_member(user_id)
