"""The hash-chained audit log.

Each row holds the SHA-256 of its own content and of the previous row's hash, so editing,
deleting or reordering any row breaks the chain from that row on, and `pilotgate audit verify`
names the first row that no longer fits.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import AuditEntry, AuditHead

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
class ChainReport:
    ok: bool
    rows: int
    first_bad_id: int | None = None
    problem: str | None = None


def verify(session: Session) -> ChainReport:
    prev = GENESIS
    expected_id = 1
    count = 0
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
        expected_id += 1
    head = session.get(AuditHead, 1)
    if head is not None and head.last_id != expected_id - 1:
        return ChainReport(
            False,
            count,
            expected_id,
            f"the chain ends at row {expected_id - 1} but the head says {head.last_id}",
        )
    return ChainReport(True, count)
