"""The hash-chained audit log.

Each row holds the SHA-256 of its own content and of the previous row's hash, so editing,
deleting or reordering any row breaks the chain from that row on, and `pilotgate audit verify`
names the first row that no longer fits.

The log also vouches for the register: `verify` checks that every decision and every stage
change has its audit row (and no audit row lacks its decision or stage change), and that each
pilot's current stage is the one the log last moved it to. Deleting the newest rows and
rewriting `audit_head` to match leaves a chain that is consistent with itself, so the head is
anchored outside the database: `verify` reports the head (row count and hash), the digest and
`audit verify --json` publish it, and `audit verify --expect ROWS:HASH` checks that the chain
still holds that row with that hash.

Chained at commit, not at append: `append` only records the row in the session; just before the
transaction commits (a `before_commit` hook) the pending rows of that transaction are numbered
and hashed onto the head in one go: lock the head row, one multi-row insert, one update of the
head, commit. So the head lock -- which orders every writer of the register on PostgreSQL -- is
held for those three statements and the commit, not from a transaction's first audit row to its
end (a decision used to hold it across its whole transaction, so decisions queued behind each
other). The chain is the same chain: every row still hashes its content with the previous row's
hash, rows are numbered without gaps in commit order, and each transaction's rows commit
atomically with the change they record, so `verify` checks exactly what it checked before. A
row appended inside a savepoint that is rolled back is dropped with it.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, event, insert, select, update
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.orm.util import identity_key

from store.models import AuditEntry, AuditHead, Decision, Pilot, StageChange

GENESIS = "0" * 64


def _canonical(
    entry_id: int, at: datetime, actor: str, action: str, pilot_id: str | None, data: dict[str, Any]
) -> bytes:
    body = {
        "id": entry_id,
        "at": at.isoformat(),
        "actor": actor,
        "action": action,
        "pilot_id": pilot_id,
        "data": data,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()


def entry_hash(
    prev_hash: str,
    entry_id: int,
    at: datetime,
    actor: str,
    action: str,
    pilot_id: str | None,
    data: dict[str, Any],
) -> str:
    digest = hashlib.sha256()
    digest.update(prev_hash.encode())
    digest.update(_canonical(entry_id, at, actor, action, pilot_id, data))
    return digest.hexdigest()


_LOG = cast(Table, AuditEntry.__table__)
_HEAD = cast(Table, AuditHead.__table__)
#: Session.info key: the rows this session's transaction appended, not chained yet.
_PENDING = "pilotgate.audit.pending"


@dataclass(frozen=True)
class _Pending:
    #: the innermost transaction (or savepoint) the row was appended in
    transaction: SessionTransaction
    at: datetime
    actor: str
    action: str
    pilot_id: str | None
    data: dict[str, Any]


def append(
    session: Session,
    *,
    actor: str,
    action: str,
    pilot_id: str | None,
    data: dict[str, Any],
    now: datetime,
) -> None:
    """Append one row in the caller's transaction. It is chained (numbered, hashed, inserted)
    when the transaction commits, after every row appended before it."""
    # Round-trip through JSON so what is hashed is exactly what the database gives back.
    clean = json.loads(json.dumps(data, default=str))
    transaction = session.get_nested_transaction() or session.get_transaction()
    if transaction is None:  # autobegin: the first statement would have begun one
        transaction = session.begin()
    pending: list[_Pending] = session.info.setdefault(_PENDING, [])
    pending.append(_Pending(transaction, now.astimezone(UTC), actor, action, pilot_id, clean))


def chain_pending(session: Session) -> Anchor | None:
    """Chain the rows this transaction appended onto the head (under its row lock, held to
    commit); the new head, or None when nothing was pending. Runs by itself before commit.
    Inside a savepoint it chains nothing (None): rows inserted there would roll back with the
    savepoint while the outer transaction, whose rows they may be, commits without them."""
    if session.get_nested_transaction() is not None:
        return None
    pending: list[_Pending] = session.info.pop(_PENDING, [])
    if not pending:
        return None
    # Everything else first, so the head lock is held for the chaining statements only.
    session.flush()
    head = session.execute(
        select(AuditHead.last_id, AuditHead.last_hash).where(AuditHead.id == 1).with_for_update()
    ).one_or_none()
    if head is None:  # a register migrated without its head row
        session.execute(insert(_HEAD).values(id=1, last_id=0, last_hash=GENESIS))
        last_id, last_hash = 0, GENESIS
    else:
        last_id, last_hash = head
    rows = []
    for p in pending:
        last_id += 1
        digest = entry_hash(last_hash, last_id, p.at, p.actor, p.action, p.pilot_id, p.data)
        rows.append(
            {
                "id": last_id,
                "at": p.at,
                "actor": p.actor,
                "action": p.action,
                "pilot_id": p.pilot_id,
                "data": p.data,
                "prev_hash": last_hash,
                "hash": digest,
            }
        )
        last_hash = digest
    session.execute(insert(_LOG), rows)
    session.execute(
        update(_HEAD).where(_HEAD.c.id == 1).values(last_id=last_id, last_hash=last_hash)
    )
    cached = session.identity_map.get(identity_key(AuditHead, 1))
    if cached is not None:  # read earlier in this session (`current_head`): now stale
        session.expire(cached)
    return Anchor(last_id, last_hash)


@event.listens_for(Session, "before_commit")
def _chain_before_commit(session: Session) -> None:
    # Also fired when a savepoint is released: its rows wait for the outer commit.
    if session.get_nested_transaction() is None:
        chain_pending(session)


@event.listens_for(Session, "after_soft_rollback")
def _drop_rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    pending: list[_Pending] | None = session.info.get(_PENDING)
    if not pending:
        return

    def inside(transaction: SessionTransaction | None) -> bool:
        while transaction is not None:
            if transaction is previous_transaction:
                return True
            transaction = transaction.parent
        return False

    kept = [p for p in pending if not inside(p.transaction)]
    if kept:
        session.info[_PENDING] = kept
    else:
        session.info.pop(_PENDING, None)


@dataclass(frozen=True)
class Anchor:
    """A head recorded outside the database: the chain had `rows` rows, the last one `hash`."""

    rows: int
    hash: str

    def __str__(self) -> str:
        return f"{self.rows}:{self.hash}"

    @classmethod
    def parse(cls, text: str) -> Anchor:
        rows, _, digest = text.partition(":")
        if (
            not rows.isdigit()
            or len(digest) != 64
            or any(c not in "0123456789abcdef" for c in digest)
        ):
            raise ValueError(
                f"{text!r} is not an audit head: expected ROWS:HASH as `audit verify` prints it "
                "(e.g. 42:3f9a...; the hash is 64 hex digits)"
            )
        return cls(int(rows), digest)


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    rows: int
    first_bad_id: int | None = None
    problem: str | None = None
    #: the chain's head when it verified: publish it, and pass it back as `expect` later.
    head: Anchor | None = None


def verify(session: Session, expect: Anchor | None = None) -> ChainReport:
    """The chain, then the register against the chain, then the chain against `expect`."""
    chain_pending(session)
    prev = GENESIS
    expected_id = 1
    count = 0
    hashes: dict[int, str] = {}
    for entry in session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars():
        count += 1
        if entry.id != expected_id:
            return ChainReport(False, count, entry.id, f"row {expected_id} is missing")
        if entry.prev_hash != prev:
            return ChainReport(False, count, entry.id, "previous-hash link does not match")
        digest = entry_hash(
            prev, entry.id, entry.at, entry.actor, entry.action, entry.pilot_id, entry.data
        )
        if digest != entry.hash:
            return ChainReport(False, count, entry.id, "content does not match its hash")
        prev = entry.hash
        if expect is not None and entry.id == expect.rows:
            hashes[entry.id] = entry.hash
        expected_id += 1
    head = session.get(AuditHead, 1)
    if head is not None and head.last_id != expected_id - 1:
        return ChainReport(
            False,
            count,
            expected_id,
            f"the chain ends at row {expected_id - 1} but the head says {head.last_id}",
        )
    problem = _register_disagrees(session)
    if problem is not None:
        return ChainReport(False, count, None, problem)
    if expect is not None and expect.rows > 0 and hashes.get(expect.rows) != expect.hash:
        where = "is missing" if expect.rows > count else "has another hash"
        return ChainReport(
            False,
            count,
            expect.rows,
            f"row {expect.rows} of the recorded head {where}: rows were deleted or rewritten",
        )
    return ChainReport(True, count, head=Anchor(count, prev if count else GENESIS))


def current_head(session: Session) -> Anchor:
    """The head as the database records it now (cheap: one row), to publish outside it;
    including this transaction's own rows (chaining them now takes the head lock)."""
    chained = chain_pending(session)
    if chained is not None:
        return chained
    head = session.get(AuditHead, 1)
    return Anchor(0, GENESIS) if head is None else Anchor(head.last_id, head.last_hash)


def _register_disagrees(session: Session) -> str | None:
    """The first way the decisions, stage history or pilots' stages disagree with the log."""
    entries = session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars().all()
    logged_decisions = Counter(
        (
            int(e.data.get("request_id", 0)),
            e.actor,
            e.action.removeprefix("decision."),
            e.data.get("reason"),
        )
        for e in entries
        if e.action.startswith("decision.")
    )
    decisions = Counter(
        (d.request_id, d.approver, str(d.verdict), d.reason)
        for d in session.execute(select(Decision)).scalars()
    )
    if decisions != logged_decisions:
        extra = sorted((decisions - logged_decisions).elements())
        missing = sorted((logged_decisions - decisions).elements())
        if extra:
            request, who, verdict, _ = extra[0]
            return f"decision {verdict} by {who} on request {request} has no audit row"
        request, who, verdict, _ = missing[0]
        return (
            f"the audit log records {verdict} by {who} on request {request}; "
            "the decision is gone or changed"
        )
    Move = tuple[str, str | None, str, str]
    moves: Counter[Move] = Counter(
        (c.pilot_id, str(c.from_stage) if c.from_stage else None, str(c.to_stage), c.reason)
        for c in session.execute(select(StageChange)).scalars()
    )
    logged_moves: Counter[Move] = Counter()
    last_stage: dict[str, str] = {}
    for e in entries:
        if e.pilot_id is None:
            continue
        if e.action == "pilot.proposed":
            logged_moves[(e.pilot_id, None, "proposal", "proposed")] += 1
            last_stage[e.pilot_id] = "proposal"
        elif e.action == "pilot.stage_changed":
            to = str(e.data.get("to"))
            src = e.data.get("from")
            reason = str(e.data.get("reason"))
            logged_moves[(e.pilot_id, None if src is None else str(src), to, reason)] += 1
            last_stage[e.pilot_id] = to
    if moves != logged_moves:
        extra_moves = sorted((moves - logged_moves).elements(), key=str)
        missing_moves = sorted((logged_moves - moves).elements(), key=str)
        pilot, src, dst, _ = (extra_moves or missing_moves)[0]
        if extra_moves:
            return f"stage change of {pilot} from {src} to {dst} has no audit row"
        return (
            f"the audit log moves {pilot} from {src} to {dst}; that stage change is gone or changed"
        )
    for pilot_id, stage in session.execute(select(Pilot.id, Pilot.stage)):
        if last_stage.get(pilot_id) != str(stage):
            return (
                f"pilot {pilot_id} is in {stage}, but the audit log last moved it to "
                f"{last_stage.get(pilot_id, 'nothing')}"
            )
    return None
