"""What each page shows, computed from the register (`store.read_pages`) and the rules
(`lifecycle`) at `now`: plain frozen data the templates lay out, with no SQL and no HTML here.

A gate's tally and who is blocking it come from `lifecycle.gates.evaluate_gate` over the
requests and decisions loaded for all the page's gates at once, so the pages say exactly what
the listener and the sweep would decide. A pilot's page also checks the whole audit chain
(`store.audit.verify`, one scan of the log): the chain is one for the register, so a pilot's
rows are trustworthy only up to the first row that no longer fits, whichever pilot it is about.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from lifecycle import sla
from lifecycle.confirmations import criteria_of, statuses
from lifecycle.deadlines import days_left
from lifecycle.evidence import CriterionCheck, Observation, metric_evidence, readiness_criteria
from lifecycle.gates import DecisionView, Evaluation, RequestView, Verdict, evaluate_gate
from lifecycle.policy import Policy
from lifecycle.portfolio import CapRow, FunnelRow, caps, funnel
from lifecycle.proposal import Proposal
from lifecycle.sla import ApproverSla
from lifecycle.stages import ACTIVE, Stage, stage_label
from lifecycle.statuses import GatePhase
from lifecycle.value_series import ValueSeries, value_series
from store import audit, confirmations, metrics, pilots, read_pages, read_sla, read_value
from store.gates import gate_state
from store.models import Decision, Gate, Pilot, ReminderSent, SignoffRequest
from store.read_pages import Answered, OpenAsk, PilotFilter
from web.people import Directory

#: a gate due within this many days is "due this week".
DUE_SOON_DAYS = 7
#: an active pilot within this many days of its deploy-or-terminate date needs attention.
DEPLOY_BY_NEAR_DAYS = 30


# ---------------------------------------------------------------- gates


@dataclass(frozen=True)
class Person:
    slack_id: str
    name: str
    role: str | None = None


@dataclass(frozen=True)
class Tally:
    role: str
    approvals: int
    needed: int

    @property
    def met(self) -> bool:
        return self.approvals >= self.needed


@dataclass(frozen=True)
class AskRow:
    """One sign-off request: who was asked, in which role, and what they answered."""

    request_id: int
    approver: Person
    round: int
    asked_at: datetime
    verdict: str | None
    decided_at: datetime | None
    reason: str | None
    source: str | None
    reminders: tuple[datetime, ...]


@dataclass(frozen=True)
class GateView:
    id: int
    pilot_id: str
    title: str
    portfolio: str
    stage: str
    target: str
    status: str
    opened_at: datetime
    deadline: datetime
    resolved_at: datetime | None
    outcome_reason: str | None
    escalated: bool
    extended: bool
    #: days until the deadline (negative: overdue), for an open gate.
    days_left: float | None
    tally: tuple[Tally, ...]
    asks: tuple[AskRow, ...]
    #: the unanswered approvers whose answer the gate still waits for.
    blocking: tuple[Person, ...]
    evaluation: str

    @property
    def is_open(self) -> bool:
        return self.status == GatePhase.OPEN

    @property
    def overdue(self) -> bool:
        return self.is_open and self.days_left is not None and self.days_left < 0

    @property
    def reminders_sent(self) -> int:
        return sum(len(a.reminders) for a in self.asks)


def _gate_views(
    session: Session,
    gates: Sequence[Gate],
    titles: Mapping[str, Pilot],
    people: Directory,
    now: datetime,
) -> list[GateView]:
    ids = [g.id for g in gates]
    requests = read_pages.requests_of(session, ids)
    decisions = read_pages.decisions_of(session, ids)
    reminders = read_pages.reminders_of(session, [r.id for r in requests])
    return [
        _gate_view(gate, titles[gate.pilot_id], requests, decisions, reminders, people, now)
        for gate in gates
    ]


def _gate_view(
    gate: Gate,
    pilot: Pilot,
    requests: Iterable[SignoffRequest],
    decisions: Iterable[Decision],
    reminders: Iterable[ReminderSent],
    people: Directory,
    now: datetime,
) -> GateView:
    mine = [r for r in requests if r.gate_id == gate.id]
    answers = {d.request_id: d for d in decisions if d.gate_id == gate.id}
    sent: dict[int, list[datetime]] = defaultdict(list)
    for reminder in reminders:
        sent[reminder.request_id].append(reminder.sent_at)
    evaluation = evaluate_gate(
        gate_state(gate),
        [RequestView(r.id, r.approver, r.role, r.round) for r in mine],
        [
            DecisionView(d.request_id, d.approver, Verdict(d.verdict), d.decided_at, d.reason)
            for d in answers.values()
        ],
        now,
    )
    asks = tuple(
        AskRow(
            r.id,
            Person(r.approver, people.name(r.approver), r.role),
            r.round,
            r.asked_at,
            str(answers[r.id].verdict) if r.id in answers else None,
            answers[r.id].decided_at if r.id in answers else None,
            answers[r.id].reason if r.id in answers else None,
            answers[r.id].source if r.id in answers else None,
            tuple(sent.get(r.id, ())),
        )
        for r in mine
    )
    is_open = gate.status == GatePhase.OPEN
    return GateView(
        id=gate.id,
        pilot_id=gate.pilot_id,
        title=pilot.title,
        portfolio=pilot.portfolio,
        stage=str(gate.stage),
        target=str(gate.target),
        status=str(gate.status),
        opened_at=gate.opened_at,
        deadline=gate.deadline,
        resolved_at=gate.resolved_at,
        outcome_reason=gate.outcome_reason,
        escalated=gate.escalated_at is not None,
        extended=gate.extended_at is not None,
        days_left=days_left(gate.deadline, now) if is_open else None,
        tally=tuple(
            Tally(role, len(evaluation.approvals.get(role, [])), int(need))
            for role, need in gate.quorum.items()
        ),
        asks=asks,
        blocking=_blocking(gate, asks, evaluation) if is_open else (),
        evaluation=evaluation.status.value,
    )


def _blocking(gate: Gate, asks: Sequence[AskRow], evaluation: Evaluation) -> tuple[Person, ...]:
    """Unanswered approvers in a role still short of its quorum (and, once the gate was
    escalated, the escalation role asked in round 1)."""
    short = {role for role, n in evaluation.missing.items() if n > 0}
    return tuple(
        a.approver
        for a in asks
        if a.verdict is None
        and (a.approver.role in short or (a.round > 0 and gate.escalated_at is not None))
    )


# ---------------------------------------------------------------- the portfolio


@dataclass(frozen=True)
class DeployByRow:
    id: str
    title: str
    portfolio: str
    stage: str
    deploy_by: datetime
    days_left: float


@dataclass(frozen=True)
class RegisterRow:
    id: str
    title: str
    portfolio: str
    stage: str
    risk_tier: str
    customer_facing: bool
    business_owner: Person
    created_at: datetime
    deploy_by: datetime | None
    days_to_deploy_by: float | None
    open_gate: GateView | None
    ended_at: datetime | None
    end_reason: str | None

    def as_dict(self) -> dict[str, Any]:
        gate = self.open_gate
        return {
            "id": self.id,
            "title": self.title,
            "portfolio": self.portfolio,
            "stage": self.stage,
            "risk_tier": self.risk_tier,
            "customer_facing": self.customer_facing,
            "business_owner": self.business_owner.name,
            "business_owner_slack_id": self.business_owner.slack_id,
            "created_at": _iso(self.created_at),
            "deploy_by": _iso(self.deploy_by),
            "days_to_deploy_by": _round(self.days_to_deploy_by),
            "open_gate": f"{gate.stage} -> {gate.target}" if gate else None,
            "gate_deadline": _iso(gate.deadline) if gate else None,
            # an export is read without tooltips: the id beside the name
            "waiting_for": "; ".join(
                f"{p.name} ({p.slack_id}, {p.role})"
                if p.name != p.slack_id
                else f"{p.slack_id} ({p.role})"
                for p in gate.blocking
            )
            if gate
            else None,
            "ended_at": _iso(self.ended_at),
            "end_reason": self.end_reason,
        }


@dataclass(frozen=True)
class ApproverSlaRow:
    """One approver's SLA figures on the portfolio page (`lifecycle.sla`, as in the report)."""

    person: Person
    sla: ApproverSla

    @property
    def median(self) -> str:
        return hours_text(self.sla.median_hours)

    @property
    def slowest(self) -> str:
        return hours_text(self.sla.max_hours)

    @property
    def hit_rate(self) -> str:
        rate = self.sla.deadline_hit_rate
        return "—" if rate is None else f"{round(rate * 100)}%"


def hours_text(hours: float | None) -> str:
    """Hours as the report writes them: minutes under an hour, hours under two days, else days."""
    if hours is None:
        return "—"
    if hours < 1:
        return f"{round(hours * 60)} min"
    if hours < 48:
        return f"{hours:.1f}".rstrip("0").rstrip(".") + " h"
    return f"{hours / 24:.1f}".rstrip("0").rstrip(".") + " days"


def approver_sla(
    session: Session, where: PilotFilter, people: Directory
) -> tuple[ApproverSlaRow, ...]:
    """Who is slow, over every sign-off request of the filtered pilots."""
    gates = read_pages.gates_of_pilots(session, where)
    ids = [g.id for g in gates]
    requests = read_pages.requests_of(session, ids)
    sent = read_pages.reminders_of(session, [r.id for r in requests])
    facts = read_sla.sla_facts(
        gates, requests, read_pages.decisions_of(session, ids), Counter(r.request_id for r in sent)
    )
    return tuple(
        ApproverSlaRow(Person(row.approver, people.name(row.approver)), row)
        for row in sla.by_approver(facts)
    )


@dataclass(frozen=True)
class Portfolio:
    now: datetime
    where: PilotFilter
    overdue: tuple[GateView, ...]
    due_soon: tuple[GateView, ...]
    deploy_by: tuple[DeployByRow, ...]
    open_gates: tuple[GateView, ...]
    caps: tuple[CapRow, ...]
    funnel: tuple[FunnelRow, ...]
    terminated: int
    register: tuple[RegisterRow, ...]
    portfolios: tuple[str, ...]
    owners: tuple[Person, ...]
    stages: tuple[tuple[str, str], ...] = field(
        default=tuple((s.value, stage_label(s)) for s in Stage)
    )
    #: who is slow: the approver SLA table over the filtered pilots' history.
    approvers: tuple[ApproverSlaRow, ...] = ()


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def register_rows(
    session: Session, where: PilotFilter, people: Directory, now: datetime
) -> tuple[list[RegisterRow], list[GateView]]:
    """The filtered register and the open gates of its pilots (soonest deadline first)."""
    found = read_pages.pilots(session, where)
    by_id = {p.id: p for p in found}
    gates = [g for g in read_pages.open_gates(session, where) if g.pilot_id in by_id]
    views = _gate_views(session, gates, by_id, people, now)
    open_by_pilot = {g.pilot_id: g for g in views}
    rows = [
        RegisterRow(
            id=p.id,
            title=p.title,
            portfolio=p.portfolio,
            stage=str(p.stage),
            risk_tier=p.risk_tier,
            customer_facing=p.customer_facing,
            business_owner=Person(p.business_owner, people.name(p.business_owner)),
            created_at=p.created_at,
            deploy_by=p.deploy_by,
            days_to_deploy_by=days_left(p.deploy_by, now)
            if p.deploy_by and p.ended_at is None
            else None,
            open_gate=open_by_pilot.get(p.id),
            ended_at=p.ended_at,
            end_reason=p.end_reason,
        )
        for p in found
    ]
    return rows, views


def portfolio(
    session: Session, policy: Policy, people: Directory, where: PilotFilter, now: datetime
) -> Portfolio:
    rows, gates = register_rows(session, where, people, now)
    soon = now + timedelta(days=DUE_SOON_DAYS)
    near = now + timedelta(days=DEPLOY_BY_NEAR_DAYS)
    active = {s.value for s in ACTIVE}
    deploy_by = sorted(
        (
            DeployByRow(
                r.id, r.title, r.portfolio, r.stage, r.deploy_by, days_left(r.deploy_by, now)
            )
            for r in rows
            if r.deploy_by is not None and r.stage in active and r.deploy_by < near
        ),
        key=lambda r: r.deploy_by,
    )
    counts = pilots.active_by_portfolio(session)
    choices, owners = read_pages.filter_choices(session)
    names = sorted(set(choices) | set(policy.portfolio.caps))
    if where.portfolio:
        names = [n for n in names if n == where.portfolio]
    reached = read_pages.reached_counts(session, where)
    current: dict[str, int] = defaultdict(int)
    for row in rows:
        current[row.stage] += 1
    return Portfolio(
        now=now,
        where=where,
        overdue=tuple(g for g in gates if g.deadline < now),
        due_soon=tuple(g for g in gates if now <= g.deadline < soon),
        deploy_by=tuple(deploy_by),
        open_gates=tuple(gates),
        # the same rows as the report's (lifecycle.portfolio), over the filtered register
        caps=caps(names, counts, policy.portfolio),
        funnel=funnel(reached, current),
        terminated=current.get(Stage.TERMINATED.value, 0),
        register=tuple(rows),
        portfolios=tuple(choices),
        owners=tuple(Person(o, people.name(o)) for o in owners),
        approvers=approver_sla(session, where, people),
    )


# ---------------------------------------------------------------- one pilot


@dataclass(frozen=True)
class MetricRow:
    name: str
    unit: str
    description: str | None
    baseline: float
    target: float
    better: str
    latest: float | None
    latest_at: datetime | None
    #: the figure readiness evidence compares with the target, and how it is computed.
    current: float | None
    status: str
    how: str
    observations: int


@dataclass(frozen=True)
class StageRow:
    from_stage: str | None
    to_stage: str
    actor: str
    reason: str
    at: datetime
    #: days spent in `to_stage` (until the next change, or until now).
    days: float
    ongoing: bool


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: datetime
    actor: str
    action: str
    data: dict[str, Any]
    #: False from the chain's first bad row on.
    trusted: bool


@dataclass(frozen=True)
class ChainStatus:
    ok: bool
    rows: int
    first_bad_id: int | None
    problem: str | None


@dataclass(frozen=True)
class FlowRunRow:
    id: int
    flow: str
    status: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    flow_run_id: str | None
    url: str | None


@dataclass(frozen=True)
class PilotPage:
    now: datetime
    pilot: Pilot
    proposal: Proposal
    people: Directory
    cap: int
    active_in_portfolio: int
    days_to_deploy_by: float | None
    metrics: tuple[MetricRow, ...]
    criteria: tuple[Any, ...]
    timeline: tuple[StageRow, ...]
    gates: tuple[GateView, ...]
    open_gate: GateView | None
    decisions: tuple[tuple[GateView, AskRow], ...]
    audit: tuple[AuditRow, ...]
    chain: ChainStatus
    flow_runs: tuple[FlowRunRow, ...]
    #: what it has realised since go-live; None until it reaches production.
    value_since_go_live: ValueSeries | None = None


def _metric_rows(
    proposal: Proposal, observations: Sequence[Observation], policy: Policy, now: datetime
) -> tuple[MetricRow, ...]:
    rows = []
    for m in proposal.success_metrics:
        own = [o for o in observations if o.metric == m.name]
        judged = metric_evidence(m, observations, policy.evidence, now)
        last = own[-1] if own else None
        rows.append(
            MetricRow(
                name=m.name,
                unit=m.unit,
                description=m.description,
                baseline=m.baseline,
                target=m.target,
                better=m.better,
                latest=last.value if last else None,
                latest_at=last.observed_at if last else None,
                current=judged.current,
                status=judged.status,
                how=judged.how,
                observations=len(own),
            )
        )
    return tuple(rows)


def _timeline(session: Session, pilot: Pilot, people: Directory, now: datetime) -> list[StageRow]:
    history = list(pilots.stage_history(session, pilot.id))
    rows = []
    for i, change in enumerate(history):
        until = history[i + 1].at if i + 1 < len(history) else (pilot.ended_at or now)
        ongoing = i + 1 == len(history) and pilot.ended_at is None
        rows.append(
            StageRow(
                str(change.from_stage) if change.from_stage else None,
                str(change.to_stage),
                people.name(change.actor),
                change.reason,
                change.at,
                max(0.0, (until - change.at).total_seconds() / 86400),
                ongoing,
            )
        )
    return rows


def flow_run_url(prefect_ui_url: str | None, flow_run_id: str | None) -> str | None:
    if not prefect_ui_url or not flow_run_id:
        return None
    return f"{prefect_ui_url.rstrip('/')}/runs/flow-run/{flow_run_id}"


def pilot_page(
    session: Session,
    pilot_id: str,
    policy: Policy,
    people: Directory,
    now: datetime,
    *,
    prefect_ui_url: str | None = None,
) -> PilotPage | None:
    pilot = read_pages.pilot(session, pilot_id)
    if pilot is None:
        return None
    proposal = pilots.proposal_of(pilot)
    gates = _gate_views(
        session, read_pages.gates_of(session, pilot.id), {pilot.id: pilot}, people, now
    )
    open_gate = next((g for g in reversed(gates) if g.is_open), None)
    decided = sorted(
        ((g, a) for g in gates for a in g.asks if a.decided_at is not None),
        key=lambda ga: (ga[1].decided_at, ga[1].request_id),
    )
    chain = audit.verify(session)
    bad = chain.first_bad_id
    observations = metrics.observations_of(session, pilot.id)
    window = read_value.production_windows(session, [pilot.id]).get(pilot.id)
    since = (
        value_series(proposal, observations, window.since, policy.value, now, window.until)
        if window is not None
        else None
    )
    return PilotPage(
        now=now,
        pilot=pilot,
        proposal=proposal,
        people=people,
        cap=policy.portfolio.cap_for(pilot.portfolio),
        active_in_portfolio=pilots.active_count(session, pilot.portfolio),
        days_to_deploy_by=days_left(pilot.deploy_by, now)
        if pilot.deploy_by and pilot.ended_at is None
        else None,
        metrics=_metric_rows(proposal, observations, policy, now),
        criteria=(
            *readiness_criteria(proposal),
            *(
                CriterionCheck(c.criterion.key, c.status, c.detail())
                for c in statuses(
                    criteria_of(policy, proposal), confirmations.confirmations_of(session, pilot.id)
                )
            ),
        ),
        timeline=tuple(_timeline(session, pilot, people, now)),
        gates=tuple(gates),
        open_gate=open_gate,
        decisions=tuple(decided),
        audit=tuple(
            AuditRow(
                e.id,
                e.at,
                people.name(e.actor),
                e.action,
                dict(e.data),
                bad is None or e.id < bad,
            )
            for e in read_pages.audit_entries(session, pilot.id)
        ),
        chain=ChainStatus(chain.ok, chain.rows, chain.first_bad_id, chain.problem),
        flow_runs=tuple(
            FlowRunRow(
                fr.id,
                fr.flow,
                str(fr.status),
                fr.created_at,
                fr.started_at,
                fr.finished_at,
                fr.flow_run_id,
                flow_run_url(prefect_ui_url, fr.flow_run_id),
            )
            for fr in read_pages.flow_requests_of(session, pilot.id)
        ),
        value_since_go_live=since,
    )


# ---------------------------------------------------------------- my sign-offs


@dataclass(frozen=True)
class MyAsk:
    ask: OpenAsk
    days_left: float

    @property
    def late(self) -> bool:
        return self.days_left < 0


@dataclass(frozen=True)
class MySignoffs:
    now: datetime
    asks: tuple[MyAsk, ...]
    answered: tuple[Answered, ...]


def my_signoffs(session: Session, user_id: str, now: datetime) -> MySignoffs:
    return MySignoffs(
        now,
        tuple(
            MyAsk(a, days_left(a.deadline, now)) for a in read_pages.open_asks_for(session, user_id)
        ),
        tuple(read_pages.answered_by(session, user_id)),
    )
