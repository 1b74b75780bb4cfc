"""Keeping App Homes current: after a change to a pilot, in the same transaction, the Home of
everyone it concerns (proposer, owner, everyone asked, the programme office) is re-published,
if they have one (`slack_out.home.refresh`)."""

from __future__ import annotations

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


def refresh_pilot(
    session: Session, pilot_id: str, now: datetime, *, policy: Policy | None = None
) -> list[str]:
    """Re-publish the Homes a change to `pilot_id` shows on; returns whose. `policy`: the one
    the caller works under (the CLI's), else the runtime's."""
    session.flush()
    pmo = (policy or get_runtime().policy).programme_office_members()
    people = read_home.people_of_pilot(session, pilot_id) | set(pmo)
    return home.refresh(session, people, now, programme_office=pmo)


def publish_home(session: Session, user_id: str, now: datetime) -> None:
    """Queue `user_id`'s Home as of now (they opened it)."""
    home.publish(session, user_id, now, programme_office=user_id in programme_office())


def is_programme_office(user_id: str) -> bool:
    return user_id in programme_office()


def is_policy_member(user_id: str) -> bool:
    """Whether the person holds any of the policy's roles."""
    return get_runtime().policy.is_member(user_id)
