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
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

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


def _head(session: Session) -> AuditHead:
    head = session.execute(
        select(AuditHead).where(AuditHead.id == 1).with_for_update()
    ).scalar_one_or_none()
    if head is None:
        head = AuditHead(id=1, last_id=0, last_hash=GENESIS)
        session.add(head)
        session.flush()
    return head


def append(
    session: Session,
    *,
    actor: str,
    action: str,
    pilot_id: str | None,
    data: dict[str, Any],
    now: datetime,
) -> AuditEntry:
    """Append one row in the caller's transaction; the head row lock orders concurrent writers."""
    head = _head(session)
    # Round-trip through JSON so what is hashed is exactly what the database gives back.
    clean = json.loads(json.dumps(data, default=str))
    at = now.astimezone(UTC)
    entry_id = head.last_id + 1
    digest = entry_hash(head.last_hash, entry_id, at, actor, action, pilot_id, clean)
    entry = AuditEntry(
        id=entry_id,
        at=at,
        actor=actor,
        action=action,
        pilot_id=pilot_id,
        data=clean,
        prev_hash=head.last_hash,
        hash=digest,
    )
    session.add(entry)
    head.last_id = entry_id
    head.last_hash = digest
    session.flush()
    return entry


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
    """The head as the database records it now (cheap: one row), to publish outside it."""
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
