"""Refreshing the `people` cache from Slack's users.info, so every surface shows names.

Runs in `pilotgate serve`'s dispatcher (a process that talks to Slack anyway), never in a CLI
read command: each round asks about at most `limit` ids that are missing or past their expiry
(`PILOTGATE_PEOPLE_TTL_HOURS`), one users.info call each, with no database transaction open
during the calls. A Slack that is down or refuses the token leaves the cache as it was (the
next round tries again); an id Slack does not know is recorded as "missing" so it is not asked
again before the expiry. The naming rule itself is `store.people.Names`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from lifecycle.policy import Policy
from store import people
from store.db import Database

log = logging.getLogger("pilotgate.people")

#: users.info is Slack's tier 4 (100+ calls a minute): a small batch per round stays far below.
DEFAULT_BATCH = 20

#: Slack's answers that mean "this id is no user we can see" (recorded as missing).
_NOT_A_USER = frozenset({"user_not_found", "user_not_visible"})


@dataclass
class RefreshReport:
    fetched: int = 0
    missing: int = 0
    errors: list[str] = field(default_factory=list)


def name_from(user: dict[str, Any]) -> tuple[str | None, str | None]:
    """(name to show, real name) from a users.info `user`: the display name, else the real
    name, else the username."""
    profile = user.get("profile") or {}
    real = (profile.get("real_name") or user.get("real_name") or "").strip() or None
    display = (profile.get("display_name") or "").strip() or None
    username = (user.get("name") or "").strip() or None
    return display or real or username, real


def refresh_names(
    db: Database,
    client: WebClient,
    policy: Policy,
    clock: Callable[[], datetime],
    *,
    ttl: timedelta,
    limit: int = DEFAULT_BATCH,
) -> RefreshReport:
    """Ask users.info about up to `limit` known ids whose cached name is missing or expired."""
    report = RefreshReport()
    with db.session() as session:
        due = people.due_for_refresh(
            session, people.known_ids(session, policy), now=clock(), ttl=ttl, limit=limit
        )
    for slack_id in due:
        try:
            answer = client.users_info(user=slack_id)
        except SlackApiError as exc:
            error = str(exc.response.get("error") or "error")
            if error in _NOT_A_USER:
                with db.session() as session:
                    people.record(
                        session,
                        slack_id,
                        name=None,
                        real_name=None,
                        source=people.MISSING,
                        now=clock(),
                    )
                report.missing += 1
                continue
            # invalid_auth, ratelimited after retries, missing_scope (users:read): stop here,
            # the cache stays as it was and the next round tries again.
            log.warning("users.info refused user=%s error=%s; names not refreshed", slack_id, error)
            report.errors.append(f"users.info {slack_id}: {error}")
            break
        except SlackClientError as exc:
            log.warning("users.info failed user=%s error=%s", slack_id, type(exc).__name__)
            report.errors.append(f"users.info {slack_id}: {type(exc).__name__}")
            break
        except OSError as exc:  # Slack unreachable after the client's retries
            log.warning("users.info failed user=%s error=%s", slack_id, type(exc).__name__)
            report.errors.append(f"users.info {slack_id}: {type(exc).__name__}")
            break
        user = answer.get("user") or {}
        name, real_name = name_from(user if isinstance(user, dict) else {})
        with db.session() as session:
            people.record(
                session,
                slack_id,
                name=name,
                real_name=real_name,
                source=people.SLACK,
                now=clock(),
            )
        report.fetched += 1
    if report.fetched or report.missing:
        log.info("names refreshed fetched=%d missing=%d", report.fetched, report.missing)
    return report
