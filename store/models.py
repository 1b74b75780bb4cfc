"""Typed ORM tables (SQLAlchemy 2.0). Queries live in the aggregate modules of `store`, not here.

History is append-only: stage changes, decisions, metric observations and audit rows are
inserted, never updated. The few columns that are updated in place (a pilot's current stage, a
gate's status, an outbox row's delivery state) are caches of what the append-only rows say, and
every such change also writes an audit row.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from lifecycle.gates import Verdict
from lifecycle.stages import Stage
from lifecycle.statuses import FlowRequestStatus, GatePhase, OutboxStatus


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both SQLite (which drops tzinfo) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


E = TypeVar("E", bound=StrEnum)


class EnumText(TypeDecorator[E]):
    """A StrEnum stored as its plain string value (a VARCHAR, no database enum type, so adding
    a member needs no migration). Binding validates: an unknown value fails before the write;
    reading gives the member back."""

    impl = String
    cache_ok = True

    def __init__(self, enum: type[E], length: int) -> None:
        super().__init__(length)
        self.enum = enum

    def process_bind_param(self, value: E | str | None, dialect: Any) -> str | None:
        return None if value is None else self.enum(value).value

    def process_result_value(self, value: str | None, dialect: Any) -> E | None:
        return None if value is None else self.enum(value)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


class Pilot(Base):
    __tablename__ = "pilots"
    # The sweep's overdue look-up: active stages, deploy_by in the past.
    __table_args__ = (
        Index("ix_pilots_stage_deploy_by", "stage", "deploy_by"),
        # the sweep's stale-proposal look-up: proposals by age
        Index("ix_pilots_stage_created", "stage", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    portfolio: Mapped[str] = mapped_column(String(64), index=True)
    risk_tier: Mapped[str] = mapped_column(String(16))
    customer_facing: Mapped[bool] = mapped_column(Boolean, default=False)
    proposer: Mapped[str] = mapped_column(String(32))
    business_owner: Mapped[str] = mapped_column(String(32))
    proposal: Mapped[dict[str, Any]]
    stage: Mapped[Stage] = mapped_column(EnumText(Stage, 32), index=True)
    created_at: Mapped[datetime]
    pilot_started_at: Mapped[datetime | None]
    deploy_by: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(Text)


class StageChange(Base):
    __tablename__ = "stage_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pilot_id: Mapped[str] = mapped_column(ForeignKey("pilots.id"), index=True)
    from_stage: Mapped[Stage | None] = mapped_column(EnumText(Stage, 32))
    to_stage: Mapped[Stage] = mapped_column(EnumText(Stage, 32))
    actor: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]


class Gate(Base):
    __tablename__ = "gates"
    __table_args__ = (
        Index("ix_gates_status_deadline", "status", "deadline"),
        Index("ix_gates_status_reminder", "status", "next_reminder_at"),
        # resolved gates nobody has acted on yet (the sweep's safety net)
        Index("ix_gates_unclaimed", "continued_at", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pilot_id: Mapped[str] = mapped_column(ForeignKey("pilots.id"), index=True)
    stage: Mapped[Stage] = mapped_column(EnumText(Stage, 32))
    target: Mapped[Stage] = mapped_column(EnumText(Stage, 32))
    status: Mapped[GatePhase] = mapped_column(EnumText(GatePhase, 16))
    quorum: Mapped[dict[str, Any]]
    excluded: Mapped[list[Any]]
    #: roles an escalation cannot stand in for (see lifecycle.gates.firm_roles)
    firm_roles: Mapped[list[Any] | None]
    any_rejection_rejects: Mapped[bool] = mapped_column(Boolean)
    opened_at: Mapped[datetime]
    deadline: Mapped[datetime]
    escalation_role: Mapped[str | None] = mapped_column(String(64))
    escalated_at: Mapped[datetime | None]
    extended_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    outcome_reason: Mapped[str | None] = mapped_column(Text)
    #: set by whoever claims the follow-up (transition, termination): exactly one claimant.
    continued_at: Mapped[datetime | None]
    evidence: Mapped[dict[str, Any] | None]
    #: when the sweep next reminds unanswered approvers (None: no reminder left).
    next_reminder_at: Mapped[datetime | None]
    #: the policy the gate opened under (lifecycle.policy_versions): its content digest and
    #: its own label. None only for gates opened before policies were stamped.
    policy_digest: Mapped[str | None] = mapped_column(String(64))
    policy_version: Mapped[str | None] = mapped_column(String(64))


#: The rows the live-request index covers (migration 0004 creates it on both databases).
LIVE_REQUEST = "superseded_at IS NULL"


class SignoffRequest(Base):
    __tablename__ = "signoff_requests"
    # One live request per person, role and round of a gate; a superseded request (handed
    # over, or asked again after the evidence changed) makes room for its successor.
    __table_args__ = (
        Index(
            "uq_signoff_request_live",
            "gate_id",
            "approver",
            "role",
            "round",
            unique=True,
            sqlite_where=text(LIVE_REQUEST),
            # postgresql_where: added on PostgreSQL only, see _live_request_on_postgresql.
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    gate_id: Mapped[int] = mapped_column(ForeignKey("gates.id"), index=True)
    approver: Mapped[str] = mapped_column(String(32), index=True)
    role: Mapped[str] = mapped_column(String(64))
    round: Mapped[int] = mapped_column(Integer, default=0)
    asked_at: Mapped[datetime]
    channel: Mapped[str | None] = mapped_column(String(32))
    message_ts: Mapped[str | None] = mapped_column(String(32))
    #: the approver this request stands in for (a delegate or a reassignee); None: asked in
    #: their own right.
    on_behalf_of: Mapped[str | None] = mapped_column(String(32))
    #: the request was handed to someone else (a delegate, a reassignment): it no longer counts.
    superseded_at: Mapped[datetime | None]


@event.listens_for(SignoffRequest.__table__, "before_create")
def _live_request_on_postgresql(table: Any, connection: Any, **_: Any) -> None:
    """The index's `postgresql_where`, given when the table is created on PostgreSQL: declared
    in the model it makes SQLAlchemy import its PostgreSQL dialect to check the keyword (~30 ms
    of every `pilotgate` command on SQLite too). Alembic does not compare an index's `where`."""
    if connection.dialect.name == "postgresql":
        for index in table.indexes:
            if index.name == "uq_signoff_request_live":
                index.dialect_options["postgresql"]["where"] = text(LIVE_REQUEST)


class Delegation(Base):
    """An out-of-office delegation: `delegate` is asked in `approver`'s place during
    [starts_at, ends_at). Never deleted: a revoked one keeps its row (revoked_at, revoked_by)."""

    __tablename__ = "delegations"
    __table_args__ = (Index("ix_delegations_approver_period", "approver", "ends_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    approver: Mapped[str] = mapped_column(String(32))
    delegate: Mapped[str] = mapped_column(String(32))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(64))


class Decision(Base):
    __tablename__ = "decisions"
    __table_args__ = (UniqueConstraint("request_id", "approver", name="uq_decision_once"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("signoff_requests.id"))
    gate_id: Mapped[int] = mapped_column(ForeignKey("gates.id"), index=True)
    approver: Mapped[str] = mapped_column(String(32))
    verdict: Mapped[Verdict] = mapped_column(EnumText(Verdict, 16))
    reason: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(32))
    #: the digest of the policy the decision was made under (its gate's).
    policy_digest: Mapped[str | None] = mapped_column(String(64))
    #: the digest of the evidence's verdict the approver was shown (lifecycle.evidence
    #: verdict_digest); None where the gate carries no evidence.
    evidence_digest: Mapped[str | None] = mapped_column(String(64))


class ReminderSent(Base):
    __tablename__ = "reminders_sent"
    __table_args__ = (UniqueConstraint("request_id", "point", name="uq_reminder_once"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("signoff_requests.id"))
    point: Mapped[str] = mapped_column(String(16))
    sent_at: Mapped[datetime]


class MetricObservation(Base):
    __tablename__ = "metric_observations"
    __table_args__ = (Index("ix_metric_pilot_name_at", "pilot_id", "metric", "observed_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pilot_id: Mapped[str] = mapped_column(ForeignKey("pilots.id"))
    metric: Mapped[str] = mapped_column(String(64))
    value: Mapped[float]
    unit: Mapped[str] = mapped_column(String(32))
    observed_at: Mapped[datetime]
    recorded_at: Mapped[datetime]
    source: Mapped[str | None] = mapped_column(Text)


class OutboxMessage(Base):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_next", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: the Slack Web API method, e.g. chat.postMessage.
    method: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]]
    status: Mapped[OutboxStatus] = mapped_column(
        EnumText(OutboxStatus, 16), default=OutboxStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    #: what the message is about, so its ts can be kept (e.g. "request", "gate_digest").
    ref_kind: Mapped[str | None] = mapped_column(String(32))
    ref_id: Mapped[str | None] = mapped_column(String(64))
    #: Slack's answer: where the message landed, so a retry updates instead of re-posting.
    result_channel: Mapped[str | None] = mapped_column(String(32))
    result_ts: Mapped[str | None] = mapped_column(String(32))
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)


class FlowRequest(Base):
    """An outbox for flow runs: written in the same transaction as the state change that needs
    the flow, started by the dispatcher. A crash between the two loses nothing."""

    __tablename__ = "flow_requests"
    __table_args__ = (Index("ix_flow_requests_status", "status", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: a flow name from flows.registry (kebab-case), e.g. "resolve-gate", "readiness-review".
    flow: Mapped[str] = mapped_column(String(64))
    parameters: Mapped[dict[str, Any]]
    pilot_id: Mapped[str | None] = mapped_column(String(32), index=True)
    status: Mapped[FlowRequestStatus] = mapped_column(
        EnumText(FlowRequestStatus, 16), default=FlowRequestStatus.PENDING
    )
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    flow_run_id: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    pilot_id: Mapped[str | None] = mapped_column(String(32), index=True)
    data: Mapped[dict[str, Any]]
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """One row: the newest audit entry. Locking it serialises appends to the chain."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_id: Mapped[int] = mapped_column(Integer)
    last_hash: Mapped[str] = mapped_column(String(64))


class Person(Base):
    """What Slack's `users.info` said about a user, kept so pages, the CLI, the report and the
    digest can show names without a Slack call each time. A cache, not history: a row is
    refreshed in place once `fetched_at` is older than the configured expiry."""

    __tablename__ = "people"

    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    #: the name to show (Slack's display name, else real name); None when Slack had none.
    name: Mapped[str | None] = mapped_column(String(200))
    real_name: Mapped[str | None] = mapped_column(String(200))
    #: the bot's DM channel with this user, once `conversations.open` has told us.
    dm_channel: Mapped[str | None] = mapped_column(String(32))
    #: where the name came from: "slack" (users.info) or "missing" (Slack did not know the id).
    source: Mapped[str] = mapped_column(String(16))
    fetched_at: Mapped[datetime]


class InstallationState(Base):
    """One row per installation condition the relay has met: "token" after invalid_auth (every
    call waits), "scope:<method>" after missing_scope (that method's calls wait), "dm" after
    messages_tab_disabled (DMs wait). While a row is open the relay holds what it covers and
    every surface says so; it is closed (cleared_at set) when a call it covers goes through.
    Kept, not deleted, for the record."""

    __tablename__ = "installation_state"
    __table_args__ = (Index("ix_installation_state_open", "kind", "cleared_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    #: Slack's error code, e.g. invalid_auth, account_inactive, token_revoked.
    error: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)
    since: Mapped[datetime]
    last_checked_at: Mapped[datetime]
    cleared_at: Mapped[datetime | None]


class CriterionConfirmation(Base):
    """A named person confirming one readiness criterion (or a risk tier's required evidence)
    of a pilot, with a link or a note. Append-only: a later confirmation of the same criterion
    is a new row; the newest one is the one shown."""

    __tablename__ = "criterion_confirmations"
    __table_args__ = (Index("ix_criterion_confirmations_pilot", "pilot_id", "criterion"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pilot_id: Mapped[str] = mapped_column(ForeignKey("pilots.id"))
    #: lifecycle.confirmations key: technical.1, operational.2, business_case, required.<name>
    criterion: Mapped[str] = mapped_column(String(64))
    confirmed_by: Mapped[str] = mapped_column(String(32))
    #: the policy role the confirmer confirmed as.
    role: Mapped[str] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(Text)
    confirmed_at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64))
