"""Who is who on the pages: names for Slack ids, policy roles, and what a signed-in person may
see (see the package's docstring for the rule)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from lifecycle.policy import Policy
from store import read_pages

MENTION = re.compile(r"<@([UW][A-Z0-9]{2,20})>")


def policy_names(policy: Policy) -> dict[str, str]:
    """Names the policy gives its people, if it has a `people` section (Slack id -> name, or
    -> {name: ...}); the policy schema has none today, so this is usually empty."""
    people = getattr(policy, "people", None)
    if not isinstance(people, Mapping):
        return {}
    names: dict[str, str] = {}
    for slack_id, value in people.items():
        name = value if isinstance(value, str) else getattr(value, "name", None)
        if name is None and isinstance(value, Mapping):
            name = value.get("name")
        if isinstance(name, str) and name:
            names[str(slack_id)] = name
    return names


@dataclass(frozen=True)
class Directory:
    #: Slack id -> a person's name (the policy's, else as a proposal wrote it).
    names: Mapping[str, str]
    #: Slack id -> the policy roles they hold.
    roles: Mapping[str, tuple[str, ...]]
    #: everyone a proposal names.
    named: frozenset[str] = field(default_factory=frozenset)

    def name(self, slack_id: str | None) -> str:
        if not slack_id:
            return ""
        return self.names.get(slack_id, slack_id)

    def is_member(self, slack_id: str) -> bool:
        return slack_id in self.roles or slack_id in self.named

    def mentions(self, text: str) -> str:
        """Slack's `<@U123>` mentions in a text as names (the text stays text: the template
        escapes it)."""
        return MENTION.sub(lambda m: self.name(m.group(1)), text)


def directory(session: Session, policy: Policy) -> Directory:
    names: dict[str, str] = {}
    named: set[str] = set()
    for slack_id, name in read_pages.named_people(session):
        names.setdefault(slack_id, name)
        named.add(slack_id)
    names.update(policy_names(policy))
    roles: dict[str, list[str]] = {}
    for role, members in policy.roles.items():
        for member in members:
            roles.setdefault(member, []).append(role)
    return Directory(names, {k: tuple(v) for k, v in roles.items()}, frozenset(named))
