"""Who is who on the pages: names for Slack ids, policy roles, and what a signed-in person may
see (see the package's docstring for the rule)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from lifecycle.policy import Policy
from store import people as cache

MENTION = re.compile(r"<@([UW][A-Z0-9]{2,20})>")


@dataclass(frozen=True)
class Directory:
    #: names for Slack ids, by the one rule every surface uses (`store.people.Names`).
    names: cache.Names
    #: Slack id -> the policy roles they hold.
    roles: Mapping[str, tuple[str, ...]]
    #: everyone a proposal names.
    named: frozenset[str] = field(default_factory=frozenset)

    def name(self, slack_id: str | None) -> str:
        """The person's name, else their id (the pages show the id as a tooltip)."""
        return self.names.show(slack_id)

    def is_member(self, slack_id: str) -> bool:
        return cache.member(self.roles, self.named, slack_id)

    def mentions(self, text: str) -> str:
        """Slack's `<@U123>` mentions in a text as names (the text stays text: the template
        escapes it)."""
        return MENTION.sub(lambda m: self.name(m.group(1)), text)


def directory(session: Session, policy: Policy) -> Directory:
    names = cache.names(session, policy)  # everyone: `written` holds every proposal's people
    named = set(names.written)
    roles: dict[str, list[str]] = {}
    for role, members in policy.roles.items():
        for member in members:
            roles.setdefault(member, []).append(role)
    return Directory(names, {k: tuple(v) for k, v in roles.items()}, frozenset(named))
