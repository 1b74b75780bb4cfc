"""People by name: the `people` cache of Slack's users.info, and the one rule every surface
(CLI, pages, report, digest) uses to put a name to a Slack id.

The rule (`Names.name`): the policy's `people.<id>.name` when the policy names the person, else
the name Slack's users.info gave (kept in `people`, even past its expiry: a stale name beats an
id until the refresh comes round), else the name a proposal wrote for that id, else nothing
(the surface shows the id). Reading never calls Slack: `slack_out.people` refreshes the cache
from a process that talks to Slack anyway (`pilotgate serve`'s dispatcher), a bounded batch of
missing or expired ids at a time.

`store.dm_channels` shares the table: it inserts rows with only a DM channel (source "pending",
no name, fetched_at at the epoch), which count as expired here; writing a name never touches
`dm_channel`.
"""

from __future__ import annotations

from collections.abc import Collection, Container, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from lifecycle.policy import Policy
from store._rows import dialect_insert
from store.models import Delegation, Person, Pilot, SignoffRequest

#: where a cached name came from.
SLACK = "slack"  # users.info answered
MISSING = "missing"  # users.info said user_not_found (retried after the expiry like any row)
PENDING = "pending"  # store.dm_channels' placeholder: no name fetched yet

_PROPOSAL_PEOPLE = ("proposer", "business_owner", "technical_lead", "operations_owner")


@dataclass(frozen=True)
class Names:
    """Names for Slack ids by the rule in the module docstring."""

    #: Slack id -> name, from the policy's `people`.
    policy: Mapping[str, str] = field(default_factory=dict)
    #: Slack id -> name, from the `people` cache (Slack's users.info).
    slack: Mapping[str, str] = field(default_factory=dict)
    #: Slack id -> name, as a proposal in the register wrote it.
    written: Mapping[str, str] = field(default_factory=dict)

    def name(self, slack_id: str | None) -> str | None:
        """The person's name, or None when nobody has told us one."""
        if not slack_id:
            return None
        for source in (self.policy, self.slack, self.written):
            found = source.get(slack_id)
            if found:
                return found
        return None

    def show(self, slack_id: str | None) -> str:
        """The name, else the id (pages, where the id goes in a tooltip)."""
        return self.name(slack_id) or (slack_id or "")

    def label(self, slack_id: str | None) -> str:
        """`Dana Smith (U0FIN0001)`, or the bare id when there is no name (CLI, report)."""
        return label(self.name(slack_id), slack_id)


def label(name: str | None, slack_id: str | None) -> str:
    """`Dana Smith (U0FIN0001)`; the bare id without a name (a name read back from JSON)."""
    if not slack_id:
        return name or ""
    return f"{name} ({slack_id})" if name and name != slack_id else slack_id


def names(
    session: Session,
    policy: Policy | None,
    ids: Collection[str] | None = None,
    *,
    written_in: Pilot | None = None,
) -> Names:
    """The names for `ids` (None: everyone the cache and the register know). Reads the cache,
    and the proposals only when some id is still unnamed; never calls Slack. `written_in`
    limits the proposals read to that pilot's: a message about one pilot (its ask, on the
    decision's hot path) must not read every proposal in a 100,000-pilot register to name an
    approver Slack's cache does not know yet (an unnamed approver is shown as a mention, which
    Slack itself renders as their name)."""
    policy_names = {k: v.name for k, v in policy.people.items()} if policy is not None else {}
    query = select(Person.user_id, Person.name).where(Person.name.is_not(None))
    if ids is not None:
        wanted = sorted(set(ids) - set(policy_names))
        if not wanted:
            return Names(policy_names)
        query = query.where(Person.user_id.in_(wanted))
    slack = {str(uid): str(name) for uid, name in session.execute(query) if name}
    unnamed = None if ids is None else set(ids) - set(policy_names) - set(slack)
    written: dict[str, str] = {}
    if unnamed is None or unnamed:
        found = written_names(session) if written_in is None else _written_in(written_in.proposal)
        for slack_id, name in found:
            if unnamed is None or slack_id in unnamed:
                written.setdefault(slack_id, name)
    return Names(policy_names, slack, written)


def written_names(session: Session) -> list[tuple[str, str]]:
    """Every (Slack id, name) a proposal in the register names, in the order of the pilots
    (created_at, then id)."""
    found: list[tuple[str, str]] = []
    rows = session.execute(select(Pilot.proposal).order_by(Pilot.created_at, Pilot.id))
    for proposal in rows.scalars():
        found.extend(_written_in(proposal))
    return found


def _written_in(proposal: object) -> list[tuple[str, str]]:
    """The (Slack id, name) pairs one proposal names."""
    found: list[tuple[str, str]] = []
    for key in _PROPOSAL_PEOPLE:
        person = proposal.get(key) if isinstance(proposal, dict) else None
        if isinstance(person, dict) and person.get("slack_id") and person.get("name"):
            found.append((str(person["slack_id"]), str(person["name"])))
    return found


#: what someone outside the rule below is told (the pages' 403, `/pilotgate status`).
NOT_A_MEMBER = (
    "Pilot pages, sign-offs and exports are for the people the governance policy names "
    "(its roles) and the people named in a proposal. You can see the portfolio."
)


def member(role_holders: Container[str], named: Container[str], slack_id: str) -> bool:
    """The rule for who may see a pilot's verdicts, reasons and pages: anyone in a policy role
    and anyone a proposal names (proposer, owner, technical lead, operations owner)."""
    return slack_id in role_holders or slack_id in named


def is_member(session: Session, policy: Policy, slack_id: str) -> bool:
    """`member` for one person, read from the policy and the register."""
    if policy.is_member(slack_id):
        return True
    return member((), {s for s, _ in written_names(session)}, slack_id)


def known_ids(session: Session, policy: Policy) -> set[str]:
    """Everyone a surface may show: the policy's role members, the people proposals name, every
    approver ever asked and every delegate. The policy's named people are left out (their name
    never comes from Slack)."""
    found = {m for members in policy.roles.values() for m in members}
    found.update(slack_id for slack_id, _ in written_names(session))
    found.update(session.execute(select(SignoffRequest.approver).distinct()).scalars())
    for approver, delegate in session.execute(select(Delegation.approver, Delegation.delegate)):
        found.update((approver, delegate))
    found.update(session.execute(select(Pilot.business_owner).distinct()).scalars())
    return {str(x) for x in found if x} - set(policy.people)


def due_for_refresh(
    session: Session, candidates: Iterable[str], *, now: datetime, ttl: timedelta, limit: int
) -> list[str]:
    """Of `candidates`, the ids to ask users.info about now: never fetched first (no row, or
    dm_channels' pending placeholder), then the longest-expired; at most `limit`."""
    wanted = sorted(set(candidates))
    if not wanted or limit <= 0:
        return []
    rows = {
        str(uid): (source, fetched_at)
        for uid, source, fetched_at in session.execute(
            select(Person.user_id, Person.source, Person.fetched_at).where(
                Person.user_id.in_(wanted)
            )
        )
    }
    never: list[str] = []
    expired: list[tuple[datetime, str]] = []
    for slack_id in wanted:
        row = rows.get(slack_id)
        if row is None or row[0] == PENDING:
            never.append(slack_id)
        elif row[1] <= now - ttl:
            expired.append((row[1], slack_id))
    return (never + [slack_id for _, slack_id in sorted(expired)])[:limit]


def record(
    session: Session,
    slack_id: str,
    *,
    name: str | None,
    real_name: str | None,
    source: str,
    now: datetime,
) -> None:
    """Store what users.info said about one person (insert or refresh in place); the row's
    `dm_channel` is left as it is."""
    values = {
        "user_id": slack_id,
        "name": name[:200] if name else None,
        "real_name": real_name[:200] if real_name else None,
        "source": source,
        "fetched_at": now,
    }
    insert = dialect_insert(session)
    stmt = insert(Person).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[Person.user_id],
        set_={k: stmt.excluded[k] for k in ("name", "real_name", "source", "fetched_at")},
    )
    session.execute(stmt)


def get(session: Session, slack_id: str) -> Person | None:
    return session.get(Person, slack_id)
