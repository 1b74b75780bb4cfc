"""Pilots: the register of proposals and pilots, their stage history and the portfolio cap.

A stage change is a conditional update (of two concurrent attempts exactly one wins) plus an
append-only history row and an audit row, in the caller's transaction.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from lifecycle.deadlines import deploy_by
from lifecycle.policy import Policy
from lifecycle.proposal import Proposal
from lifecycle.stages import ACTIVE, Stage, check_transition
from store import audit
from store._rows import PAGE, after_key, fetch_all, get_or_raise
from store.errors import Conflict, NotFound
from store.models import (
    Gate,
    Pilot,
    StageChange,
)


def new_pilot_id() -> str:
    return "pg-" + secrets.token_hex(4)


def _lock_portfolio(session: Session, portfolio: str) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:p))"), {"p": portfolio})


def active_count(session: Session, portfolio: str) -> int:
    return session.execute(
        select(func.count())
        .select_from(Pilot)
        .where(Pilot.portfolio == portfolio, Pilot.stage.in_([s.value for s in ACTIVE]))
    ).scalar_one()


def create_pilot(
    session: Session,
    proposal: Proposal,
    policy: Policy,
    *,
    actor: str,
    now: datetime,
    pilot_id: str | None = None,
) -> Pilot:
    """Record a proposal as a pilot in the proposal stage, within the portfolio's cap."""
    _lock_portfolio(session, proposal.portfolio)
    cap = policy.portfolio.cap_for(proposal.portfolio)
    active = active_count(session, proposal.portfolio)
    if active >= cap:
        raise Conflict(
            f"portfolio {proposal.portfolio!r} already has {active} active pilot(s), "
            f"its cap is {cap}: finish or terminate one first"
        )
    pilot = Pilot(
        id=pilot_id or new_pilot_id(),
        title=proposal.title,
        portfolio=proposal.portfolio,
        risk_tier=proposal.risk_tier.value,
        customer_facing=proposal.customer_facing,
        proposer=proposal.proposer.slack_id,
        business_owner=proposal.business_owner.slack_id,
        proposal=proposal.model_dump(mode="json"),
        stage=Stage.PROPOSAL.value,
        created_at=now,
    )
    session.add(pilot)
    session.flush()
    session.add(
        StageChange(
            pilot_id=pilot.id,
            from_stage=None,
            to_stage=Stage.PROPOSAL.value,
            actor=actor,
            reason="proposed",
            at=now,
        )
    )
    audit.append(
        session,
        actor=actor,
        action="pilot.proposed",
        pilot_id=pilot.id,
        data={"title": pilot.title, "portfolio": pilot.portfolio},
        now=now,
    )
    return pilot


def get_pilot(session: Session, pilot_id: str) -> Pilot:
    return get_or_raise(
        session, Pilot, pilot_id, f"no pilot with id {pilot_id!r} (see `pilotgate list`)"
    )


def load_pilots(session: Session, pilot_ids: Collection[str]) -> Sequence[Pilot]:
    """These pilots in one read (into the session, for the lookups by id that follow)."""
    if not pilot_ids:
        return []
    return fetch_all(session, select(Pilot).where(Pilot.id.in_(list(pilot_ids))))


def proposal_of(pilot: Pilot) -> Proposal:
    return Proposal.model_validate(pilot.proposal)


def list_pilots(session: Session, stage: Stage | None = None) -> Sequence[Pilot]:
    query = select(Pilot).order_by(Pilot.created_at, Pilot.id)
    if stage is not None:
        query = query.where(Pilot.stage == stage.value)
    return fetch_all(session, query)


def stage_history(session: Session, pilot_id: str) -> Sequence[StageChange]:
    return fetch_all(
        session,
        select(StageChange)
        .where(StageChange.pilot_id == pilot_id)
        .order_by(StageChange.at, StageChange.id),
    )


def move_stage(
    session: Session,
    pilot_id: str,
    *,
    expected: Stage,
    target: Stage,
    actor: str,
    reason: str,
    now: datetime,
    policy: Policy | None = None,
) -> bool:
    """Move a pilot if, and only if, it is still in `expected`. Returns whether this call won."""
    check_transition(expected, target)
    values: dict[str, Any] = {"stage": target.value}
    if target is Stage.PILOT and expected is Stage.PROPOSAL:
        limit = policy.portfolio.deploy_or_terminate_days if policy else 182
        values["pilot_started_at"] = now
        values["deploy_by"] = deploy_by(now, limit)
    # Leaving the pipeline (production, a termination, a retirement) is recorded as its end;
    # a retirement later records the pilot's final end over its go-live.
    if target not in ACTIVE:
        values["ended_at"] = now
        values["end_reason"] = reason
    result = session.execute(
        update(Pilot)
        .where(Pilot.id == pilot_id, Pilot.stage == expected.value)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    session.add(
        StageChange(
            pilot_id=pilot_id,
            from_stage=expected.value,
            to_stage=target.value,
            actor=actor,
            reason=reason,
            at=now,
        )
    )
    audit.append(
        session,
        actor=actor,
        action="pilot.stage_changed",
        pilot_id=pilot_id,
        data={"from": expected.value, "to": target.value, "reason": reason},
        now=now,
    )
    # The row now holds exactly `values` where it changed (the update matched `expected` under
    # its row lock): put them into the loaded Pilot, if any, rather than expire it, which made
    # every termination load the pilot (and parse its proposal) a second time. Everything else
    # the transaction has loaded stays as it is.
    loaded = session.identity_map.get(session.identity_key(Pilot, pilot_id))
    if loaded is not None:
        for key, value in values.items():
            set_committed_value(loaded, key, value)
    return True


def pilots_past_deploy_by(
    session: Session, now: datetime, limit: int = PAGE, after: tuple[datetime, str] | None = None
) -> Sequence[Pilot]:
    """One page of active pilots past their deploy-or-terminate date, ordered by
    (deploy_by, id); pass the last row's (deploy_by, id) as `after` for the next page."""
    return fetch_all(
        session,
        select(Pilot)
        .where(
            Pilot.deploy_by < now,
            Pilot.stage.in_([s.value for s in ACTIVE]),
            *after_key(Pilot.deploy_by, Pilot.id, after),
        )
        .order_by(Pilot.deploy_by, Pilot.id)
        .limit(limit),
    )


def stale_proposals(
    session: Session,
    proposed_before: datetime,
    limit: int = PAGE,
    after: tuple[datetime, str] | None = None,
) -> Sequence[Pilot]:
    """Proposals older than the cutoff that were never put to their gate (no gate at all).
    One page, ordered by (created_at, id)."""
    return fetch_all(
        session,
        select(Pilot)
        .where(
            Pilot.stage == Stage.PROPOSAL.value,
            Pilot.created_at < proposed_before,
            ~select(Gate.id).where(Gate.pilot_id == Pilot.id).exists(),
            *after_key(Pilot.created_at, Pilot.id, after),
        )
        .order_by(Pilot.created_at, Pilot.id)
        .limit(limit),
    )


def pilots_due_between(session: Session, start: datetime, end: datetime) -> Sequence[Pilot]:
    return fetch_all(
        session,
        select(Pilot)
        .where(
            Pilot.deploy_by >= start,
            Pilot.deploy_by < end,
            Pilot.stage.in_([s.value for s in ACTIVE]),
        )
        .order_by(Pilot.deploy_by),
    )


def set_operations_owner(
    session: Session, pilot_id: str, *, name: str, slack_id: str, actor: str, now: datetime
) -> None:
    """Name the pilot's operations owner (required before customer rollout), on record."""
    pilot = session.execute(
        select(Pilot).where(Pilot.id == pilot_id).with_for_update()
    ).scalar_one_or_none()
    if pilot is None:
        raise NotFound(f"no pilot with id {pilot_id!r} (see `pilotgate list`)")
    if pilot.stage not in {s.value for s in ACTIVE}:
        raise Conflict(f"pilot {pilot_id} is {pilot.stage}; its owners can no longer change")
    proposal = dict(pilot.proposal)
    previous = proposal.get("operations_owner")
    proposal["operations_owner"] = {"name": name, "slack_id": slack_id}
    Proposal.model_validate(proposal)  # the same rules as at proposal time
    pilot.proposal = proposal
    audit.append(
        session,
        actor=actor,
        action="pilot.operations_owner",
        pilot_id=pilot_id,
        data={"previous": previous, "now": proposal["operations_owner"]},
        now=now,
    )


def active_by_portfolio(session: Session) -> dict[str, int]:
    """Active pilots per portfolio, counted by the database (the stage index), not in Python."""
    rows = session.execute(
        select(Pilot.portfolio, func.count())
        .where(Pilot.stage.in_([s.value for s in ACTIVE]))
        .group_by(Pilot.portfolio)
        .order_by(Pilot.portfolio)
    )
    return {portfolio: int(count) for portfolio, count in rows}


def entered_stage_at(session: Session, pilot_id: str, stage: Stage) -> datetime | None:
    """When the pilot last entered `stage` (stage_history), if it did."""
    return (
        session.execute(
            select(StageChange.at)
            .where(StageChange.pilot_id == pilot_id, StageChange.to_stage == stage.value)
            .order_by(StageChange.at.desc(), StageChange.id.desc())
        )
        .scalars()
        .first()
    )


def same_title(session: Session, portfolio: str, title: str) -> Pilot | None:
    """A pilot of `portfolio` with exactly this title (case and spaces aside), if any."""
    wanted = " ".join(title.split()).casefold()
    for pilot in fetch_all(session, select(Pilot).where(Pilot.portfolio == portfolio)):
        if " ".join(pilot.title.split()).casefold() == wanted:
            return pilot
    return None
