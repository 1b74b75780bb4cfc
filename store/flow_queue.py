"""Flow requests: an outbox for flow runs, written with the state change that needs the flow
and started by the dispatcher, so a crash between the two loses nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from config.names import RESOLVE_GATE, Keys
from lifecycle.statuses import FlowRequestStatus
from store._rows import add_once, fetch_all
from store.models import (
    FlowRequest,
)


def request_flow(
    session: Session,
    flow: str,
    parameters: dict[str, Any],
    *,
    now: datetime,
    pilot_id: str | None = None,
    dedupe_key: str | None = None,
) -> int | None:
    """Ask for a flow run in the caller's transaction; a repeated dedupe_key asks nothing."""
    return add_once(
        session,
        FlowRequest,
        {
            "flow": flow,
            "parameters": parameters,
            "pilot_id": pilot_id,
            "status": FlowRequestStatus.PENDING,
            "created_at": now,
            "dedupe_key": dedupe_key,
        },
    )


def request_resolve_gate(
    session: Session, gate_id: int, pilot_id: str, *, now: datetime, again: bool = False
) -> int | None:
    """Queue `resolve-gate` for a settled gate: once per gate, or once more per minute when the
    sweep's safety net asks `again`."""
    key = Keys.resolve(gate_id)
    return request_flow(
        session,
        RESOLVE_GATE,
        {"gate_id": gate_id},
        now=now,
        pilot_id=pilot_id,
        dedupe_key=Keys.again(key, now) if again else key,
    )


def flow_request_in_flight(session: Session, dedupe_prefix: str) -> bool:
    """Whether a request whose dedupe key starts with the prefix is pending or running."""
    return (
        session.execute(
            select(FlowRequest.id).where(
                or_(
                    FlowRequest.dedupe_key == dedupe_prefix,
                    FlowRequest.dedupe_key.startswith(dedupe_prefix + ":", autoescape=True),
                ),
                FlowRequest.status.in_([FlowRequestStatus.PENDING, FlowRequestStatus.STARTED]),
            )
        ).first()
        is not None
    )


def claim_flow_requests(session: Session, now: datetime, limit: int = 20) -> list[FlowRequest]:
    """Mark up to `limit` pending requests started; SKIP LOCKED keeps two dispatchers apart."""
    query = (
        select(FlowRequest)
        .where(FlowRequest.status == FlowRequestStatus.PENDING)
        .order_by(FlowRequest.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    claimed = list(session.execute(query).scalars())
    for fr in claimed:
        fr.status = FlowRequestStatus.STARTED
        fr.started_at = now
    session.flush()
    return claimed


def finish_flow_request(
    session: Session,
    request_id: int,
    *,
    now: datetime,
    ok: bool,
    flow_run_id: str | None = None,
    error: str | None = None,
) -> None:
    session.execute(
        update(FlowRequest)
        .where(FlowRequest.id == request_id)
        .values(
            status=FlowRequestStatus.DONE if ok else FlowRequestStatus.FAILED,
            finished_at=now,
            flow_run_id=flow_run_id,
            error=error,
        )
    )


def run_in_process(
    session: Session, dedupe_key: str, *, now: datetime, flow_run_id: str | None
) -> bool:
    """Take a request just queued in this transaction and mark it done, because the caller does
    its work here, in the same transaction (the sweep follows up the gates it expires itself
    rather than starting a flow run per gate). True if this caller has it; False if it was not
    pending (someone else has it, or it never was queued), and then the caller leaves it be.
    The row still records that the follow-up ran, and in which run."""
    result = session.execute(
        update(FlowRequest)
        .where(
            FlowRequest.dedupe_key == dedupe_key, FlowRequest.status == FlowRequestStatus.PENDING
        )
        .values(
            status=FlowRequestStatus.DONE, started_at=now, finished_at=now, flow_run_id=flow_run_id
        )
    )
    return int(result.rowcount) == 1  # type: ignore[attr-defined]


def requeue_flow_request(session: Session, request_id: int, *, error: str) -> None:
    """The run could not be created (orchestrator unreachable): ask again later."""
    session.execute(
        update(FlowRequest)
        .where(FlowRequest.id == request_id, FlowRequest.status == FlowRequestStatus.STARTED)
        .values(status=FlowRequestStatus.PENDING, started_at=None, error=error)
    )


def requeue_started_flow_requests(session: Session) -> int:
    """After a crash of the only dispatcher (local mode): run interrupted requests again."""
    result = session.execute(
        update(FlowRequest)
        .where(FlowRequest.status == FlowRequestStatus.STARTED)
        .values(status=FlowRequestStatus.PENDING, started_at=None)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def flow_requests(session: Session, pilot_id: str | None = None) -> Sequence[FlowRequest]:
    query = select(FlowRequest).order_by(FlowRequest.id)
    if pilot_id is not None:
        query = query.where(FlowRequest.pilot_id == pilot_id)
    return fetch_all(session, query)


#: the dedupe-key prefix of a request a `pilotgate` command queued and waits for (it hands the
#: flow to `serve`): the command reports the outcome to the person who asked.
WAITED_PREFIX = "cli:"


def is_waited(dedupe_key: str | None) -> bool:
    return bool(dedupe_key and dedupe_key.startswith(WAITED_PREFIX))


def get_flow_request(session: Session, request_id: int) -> FlowRequest | None:
    return session.get(FlowRequest, request_id)


def withdraw_flow_request(session: Session, request_id: int, *, now: datetime, why: str) -> bool:
    """Take back a request nobody has started (the command that queued it stops waiting):
    True if it was still pending and is now failed with `why`, False if a dispatcher has it."""
    result = session.execute(
        update(FlowRequest)
        .where(FlowRequest.id == request_id, FlowRequest.status == FlowRequestStatus.PENDING)
        .values(status=FlowRequestStatus.FAILED, finished_at=now, error=why)
    )
    return int(result.rowcount) == 1  # type: ignore[attr-defined]
