"""The report's figures as typed, frozen data, computed from the register at `now`.

`build_report` reads the register through `store.read_report` (no SQL here) and returns a
`Report`: every figure the HTML, the Markdown and the terminal summary show, so the three
renderings cannot disagree. Timestamps are aware datetimes; `Report.as_dict()` is the JSON
export (`pilotgate report --json`), with timestamps as ISO 8601 strings and lists for tuples.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, is_dataclass, replace
from datetime import datetime
from typing import Literal, TypeAlias

from sqlalchemy.orm import Session

from lifecycle import portfolio, sla
from lifecycle.evidence import Observation
from lifecycle.policy import Policy
from lifecycle.portfolio import PATH, CapRow, FunnelRow
from lifecycle.proposal import Proposal
from lifecycle.stages import ACTIVE, FORWARD, Stage, stage_label
from lifecycle.value import (
    DELIVERING_STAGES,
    PROJECTED_STAGES,
    Money,
    ValueEstimate,
    money,
    pilot_value,
    totals,
)
from lifecycle.value_series import PortfolioValue, ValueSeries, portfolio_totals, production_window
from lifecycle.value_series import value_series as series_since_go_live
from store import read_report, read_sla
from store.models import Decision, Gate, Pilot, SignoffRequest, StageChange

#: the stage names people read (PATH, the forward path, is `lifecycle.portfolio`'s).
LABELS = {s: stage_label(s) for s in Stage}
DAY = 86400.0
HOUR = 3600.0
GATE_STATUSES = ("approved", "rejected", "expired", "cancelled", "open")

JSONValue: TypeAlias = "str | int | float | bool | None | list[JSONValue] | dict[str, JSONValue]"
AgeState = Literal["running", "overdue", "ended"]


# ---------------------------------------------------------------- the data


@dataclass(frozen=True)
class AgeRow:
    """A started pilot's age against its deploy-or-terminate date (days)."""

    id: str
    title: str
    stage: str
    started: datetime | None
    deploy_by: datetime | None
    age_days: float
    limit_days: float
    #: None once the pilot has ended.
    days_left: float | None
    state: AgeState


@dataclass(frozen=True)
class StageSegment:
    """One stay in a stage, from the stage history; `ongoing` for the pilot's current stay."""

    stage: str
    days: float
    ongoing: bool


@dataclass(frozen=True)
class PilotStageTime:
    """Where one pilot's time went: each stay in order, and the days per stage."""

    id: str
    title: str
    stage: str
    segments: tuple[StageSegment, ...]
    by_stage: Mapping[str, float]
    total_days: float


@dataclass(frozen=True)
class StageTimeRow:
    """Time spent in one non-terminal stage, over every pilot that was in it."""

    stage: str
    label: str
    pilots: int
    median_days: float | None
    mean_days: float | None
    total_days: float


@dataclass(frozen=True)
class StageTime:
    pilots: tuple[PilotStageTime, ...]
    stages: tuple[StageTimeRow, ...]


@dataclass(frozen=True)
class GateRow:
    """One gate's lead time: first sign-off request (asked) to its decision, or to now."""

    id: int
    pilot_id: str
    title: str
    stage: str
    target: str
    status: str
    asked_at: datetime
    decided_at: datetime | None
    lead_hours: float
    open: bool
    escalated: bool
    extended: bool


@dataclass(frozen=True)
class GateStageRow:
    """The gates out of one stage of the forward path: counts per outcome and lead times."""

    stage: str
    label: str
    gates: int
    decided: int
    median_lead_hours: float | None
    max_lead_hours: float | None
    approved: int
    rejected: int
    expired: int
    cancelled: int
    open: int


@dataclass(frozen=True)
class ApproverRow:
    """One approver's responsiveness over every sign-off request sent to them."""

    approver: str
    roles: tuple[str, ...]
    asked: int
    answered: int
    approved: int
    rejected: int
    waiting: int
    #: never answered while still needed: the gate settled or expired without this answer and
    #: the role's quorum was not met by colleagues (requests made moot by them are `not_needed`).
    unanswered_closed: int
    median_response_hours: float | None
    max_response_hours: float | None
    response_rate: float
    #: unanswered when the gate settled, but colleagues had already met the role's quorum.
    not_needed: int = 0
    #: handed to a delegate or reassigned (not counted in `asked`).
    handed_over: int = 0
    #: answers given as a delegate / reassignee on behalf of someone else.
    on_behalf: int = 0
    #: reminders sent on the requests this approver then answered (a decision's nudges).
    reminders_before_decision: int = 0
    #: answered by the gate's deadline, over answered + never answered (None: nothing due).
    deadline_hit_rate: float | None = None


@dataclass(frozen=True)
class SlaRow:
    """Time to decision over one group of requests: a role, or a gate's stage."""

    key: str
    asked: int
    answered: int
    median_response_hours: float | None
    max_response_hours: float | None
    reminders_before_decision: int
    unanswered_closed: int
    deadline_hit_rate: float | None


@dataclass(frozen=True)
class TerminationRow:
    """A terminated pilot: the stage it ended in, when, by whom, after how long, and why."""

    id: str
    title: str
    portfolio: str
    from_stage: str | None
    at: datetime | None
    by: str | None
    after_days: float | None
    reason: str


@dataclass(frozen=True)
class PilotValue:
    """A pilot's value estimates (figures rounded to 2 decimals) and whether they count."""

    id: str
    title: str
    stage: str
    #: "delivering", "projected" or "<stage>, not counted".
    status: str
    estimates: tuple[ValueEstimate, ...]
    #: the estimates' hours priced at the policy's `value.hour_rate`, against the budget.
    money: Money | None = None


@dataclass(frozen=True)
class ValueTotals:
    """Value per year per unit (hours/year, USD/year, ...), delivering and projected."""

    delivering: Mapping[str, float]
    projected: Mapping[str, float]


@dataclass(frozen=True)
class ValueReport:
    pilots: tuple[PilotValue, ...]
    totals: ValueTotals


@dataclass(frozen=True)
class PilotValueSeries:
    """A pilot that went live: its value since go-live, period by period."""

    id: str
    title: str
    portfolio: str
    stage: str
    series: ValueSeries


@dataclass(frozen=True)
class ValueOverTime:
    """Value realised since go-live: per pilot that reached production, and per portfolio."""

    pilots: tuple[PilotValueSeries, ...] = ()
    portfolios: tuple[PortfolioValue, ...] = ()
    realised_hours: float = 0.0
    #: None without the policy's `value.hour_rate`.
    realised_money: float | None = None
    currency: str = "USD"


@dataclass(frozen=True)
class Totals:
    """The headline figures."""

    pilots: int
    active: int
    production: int
    terminated: int
    open_gates: int
    median_gate_lead_hours: float | None
    value_delivering: Mapping[str, float]


@dataclass(frozen=True)
class Report:
    """Every figure of the portfolio report, as of `generated_at`."""

    generated_at: datetime
    funnel: tuple[FunnelRow, ...]
    caps: tuple[CapRow, ...]
    ages: tuple[AgeRow, ...]
    stage_time: StageTime
    gates: tuple[GateRow, ...]
    gate_stages: tuple[GateStageRow, ...]
    approvers: tuple[ApproverRow, ...]
    terminations: tuple[TerminationRow, ...]
    value: ValueReport
    totals: Totals
    #: approver SLA by role and by gate stage (same definitions as `approvers`).
    sla_roles: tuple[SlaRow, ...] = ()
    sla_gates: tuple[SlaRow, ...] = ()
    #: value since go-live (a key added after the others: the older keys are unchanged).
    value_over_time: ValueOverTime = field(default_factory=ValueOverTime)

    def as_dict(self) -> dict[str, JSONValue]:
        """The report as JSON-safe data: field names as keys, in field order."""
        out = plain(self)
        assert isinstance(out, dict)
        return out

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.as_dict(), indent=indent)


def plain(value: object) -> JSONValue:
    """Report data as JSON-safe values: dataclasses to dicts, tuples to lists, datetimes ISO."""
    if isinstance(value, ValueEstimate):
        return plain(value.to_dict())
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if value is None or isinstance(value, str | int | float):
        return value
    raise TypeError(f"not report data: {value!r}")


# ---------------------------------------------------------------- figures


def _days(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() / DAY


def _hours(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() / HOUR


def _median(values: Sequence[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


def _value_status(stage: str) -> str:
    if stage in DELIVERING_STAGES:
        return "delivering"
    if stage in PROJECTED_STAGES:
        return "projected"
    return f"{stage.replace('_', ' ')}, not counted"


def build_report(session: Session, policy: Policy, now: datetime) -> Report:
    """Every figure of the report, computed from the database at `now`."""
    pilots = list(read_report.pilots(session))
    history: dict[str, list[StageChange]] = defaultdict(list)
    for change in read_report.stage_changes(session):
        history[change.pilot_id].append(change)
    gates = list(read_report.gates(session))
    requests: dict[int, list[SignoffRequest]] = defaultdict(list)
    for r in read_report.signoff_requests(session):
        requests[r.gate_id].append(r)
    decided = {d.request_id: d for d in read_report.decisions(session)}
    reminded: dict[int, int] = defaultdict(int)
    for sent in read_report.reminders(session):
        reminded[sent.request_id] += 1
    observations: dict[str, list[Observation]] = defaultdict(list)
    for o in read_report.metric_observations(session):
        observations[o.pilot_id].append(Observation(o.metric, o.value, o.unit, o.observed_at))
    by_id = {p.id: p for p in pilots}

    gate_rows, gate_stages = _gates(gates, requests, by_id, now)
    value = _value(pilots, observations, policy)
    sla_facts = _sla_facts(gates, requests, decided, reminded)
    return Report(
        generated_at=now,
        funnel=_funnel(pilots, history),
        caps=_caps(pilots, policy),
        ages=_ages(pilots, history, now),
        stage_time=_stage_time(pilots, history, now),
        gates=gate_rows,
        gate_stages=gate_stages,
        approvers=_approvers(sla_facts),
        sla_roles=_sla_rows(sla_facts, lambda f: f.ask.role),
        sla_gates=_sla_rows(sla_facts, lambda f: f.stage),
        terminations=_terminations(pilots, history),
        value=value,
        value_over_time=_value_over_time(pilots, history, observations, policy, now),
        totals=Totals(
            pilots=len(pilots),
            active=sum(1 for p in pilots if Stage(p.stage) in ACTIVE),
            production=sum(1 for p in pilots if p.stage == Stage.PRODUCTION.value),
            terminated=sum(1 for p in pilots if p.stage == Stage.TERMINATED.value),
            open_gates=sum(1 for g in gates if g.status == "open"),
            median_gate_lead_hours=_median(
                [g.lead_hours for g in gate_rows if g.status in ("approved", "rejected")]
            ),
            value_delivering=value.totals.delivering,
        ),
    )


def _funnel(
    pilots: Sequence[Pilot], history: Mapping[str, list[StageChange]]
) -> tuple[FunnelRow, ...]:
    reached: dict[str, int] = defaultdict(int)
    for changes in history.values():
        for stage in {c.to_stage for c in changes}:
            reached[stage] += 1
    current: dict[str, int] = defaultdict(int)
    for p in pilots:
        current[p.stage] += 1
    return portfolio.funnel(reached, current)


def _caps(pilots: Sequence[Pilot], policy: Policy) -> tuple[CapRow, ...]:
    names = sorted({p.portfolio for p in pilots} | set(policy.portfolio.caps))
    active: dict[str, int] = defaultdict(int)
    for p in pilots:
        if Stage(p.stage) in ACTIVE:
            active[p.portfolio] += 1
    return portfolio.caps(names, active, policy.portfolio)


def _ages(
    pilots: Sequence[Pilot], history: Mapping[str, list[StageChange]], now: datetime
) -> tuple[AgeRow, ...]:
    rows = []
    for p in pilots:
        if p.pilot_started_at is None or p.deploy_by is None:
            continue
        # A pilot's age runs to the end of its piloting: a retired pilot's ended_at is its
        # retirement, long after it went live, so its age stops at go-live instead.
        live = next(
            (c.at for c in history.get(p.id, []) if c.to_stage == Stage.PRODUCTION.value), None
        )
        end = live or p.ended_at or now
        ended = p.ended_at is not None
        overdue = not ended and now > p.deploy_by
        state: AgeState = "ended" if ended else ("overdue" if overdue else "running")
        rows.append(
            AgeRow(
                id=p.id,
                title=p.title,
                stage=p.stage,
                started=p.pilot_started_at,
                deploy_by=p.deploy_by,
                age_days=round(_days(p.pilot_started_at, end), 1),
                limit_days=round(_days(p.pilot_started_at, p.deploy_by), 1),
                days_left=None if ended else round(_days(now, p.deploy_by), 1),
                state=state,
            )
        )
    return tuple(rows)


def _stage_time(
    pilots: Sequence[Pilot], history: Mapping[str, list[StageChange]], now: datetime
) -> StageTime:
    per_pilot = []
    spent: dict[str, list[float]] = defaultdict(list)
    for p in pilots:
        changes = history.get(p.id, [])
        totals_: dict[str, float] = defaultdict(float)
        segments = []
        for i, change in enumerate(changes):
            if Stage(change.to_stage) not in ACTIVE:
                continue
            end = changes[i + 1].at if i + 1 < len(changes) else now
            days = _days(change.at, end)
            segments.append(
                StageSegment(
                    stage=change.to_stage, days=round(days, 2), ongoing=i + 1 == len(changes)
                )
            )
            totals_[change.to_stage] += days
        for stage, days in totals_.items():
            spent[stage].append(days)
        per_pilot.append(
            PilotStageTime(
                id=p.id,
                title=p.title,
                stage=p.stage,
                segments=tuple(segments),
                by_stage={k: round(v, 2) for k, v in totals_.items()},
                total_days=round(sum(totals_.values()), 2),
            )
        )
    stages = []
    for stage in PATH:
        if stage not in ACTIVE:
            continue
        values = spent.get(stage.value, [])
        stages.append(
            StageTimeRow(
                stage=stage.value,
                label=LABELS[stage],
                pilots=len(values),
                median_days=_median(values),
                mean_days=round(statistics.fmean(values), 2) if values else None,
                total_days=round(sum(values), 2),
            )
        )
    return StageTime(pilots=tuple(per_pilot), stages=tuple(stages))


def _gates(
    gates: Sequence[Gate],
    requests: Mapping[int, list[SignoffRequest]],
    pilots: Mapping[str, Pilot],
    now: datetime,
) -> tuple[tuple[GateRow, ...], tuple[GateStageRow, ...]]:
    rows: list[GateRow] = []
    for g in gates:
        first = [r.asked_at for r in requests.get(g.id, []) if r.round == 0]
        asked = min(first) if first else g.opened_at
        closed = g.status != "open"
        end = (g.resolved_at or now) if closed else now
        rows.append(
            GateRow(
                id=g.id,
                pilot_id=g.pilot_id,
                title=pilots[g.pilot_id].title,
                stage=g.stage,
                target=g.target,
                status=g.status,
                asked_at=asked,
                decided_at=g.resolved_at if closed else None,
                lead_hours=round(_hours(asked, end), 2),
                open=not closed,
                escalated=g.escalated_at is not None,
                extended=g.extended_at is not None,
            )
        )
    summary = []
    for stage in PATH:
        if stage not in FORWARD:
            continue
        mine = [r for r in rows if r.stage == stage.value]
        decided_ = [r.lead_hours for r in mine if r.status in ("approved", "rejected")]
        count = {status: sum(1 for r in mine if r.status == status) for status in GATE_STATUSES}
        summary.append(
            GateStageRow(
                stage=stage.value,
                label=f"{LABELS[stage]} -> {LABELS[FORWARD[stage]]}",
                gates=len(mine),
                decided=len(decided_),
                median_lead_hours=_median(decided_),
                max_lead_hours=round(max(decided_), 2) if decided_ else None,
                approved=count["approved"],
                rejected=count["rejected"],
                expired=count["expired"],
                cancelled=count["cancelled"],
                open=count["open"],
            )
        )
    return tuple(rows), tuple(summary)


def _sla_facts(
    gates: Sequence[Gate],
    requests: Mapping[int, list[SignoffRequest]],
    decided: Mapping[int, Decision],
    reminded: Mapping[int, int],
) -> list[sla.Fact]:
    """The register's requests as SLA facts (store.read_sla, shared with the portfolio page)."""
    flat = [r for rows in requests.values() for r in rows]
    return read_sla.sla_facts(gates, flat, decided.values(), reminded)


def _approvers(facts: Sequence[sla.Fact]) -> tuple[ApproverRow, ...]:
    return tuple(
        ApproverRow(
            approver=r.approver,
            roles=r.roles,
            asked=r.asked,
            answered=r.answered,
            approved=r.approved,
            rejected=r.rejected,
            waiting=r.waiting,
            unanswered_closed=r.never,
            median_response_hours=r.median_hours,
            max_response_hours=r.max_hours,
            response_rate=r.response_rate,
            not_needed=r.not_needed,
            handed_over=r.handed_over,
            on_behalf=r.on_behalf,
            reminders_before_decision=r.reminders_before_decision,
            deadline_hit_rate=r.deadline_hit_rate,
        )
        for r in sla.by_approver(facts)
    )


def _sla_rows(facts: Sequence[sla.Fact], key: Callable[[sla.Fact], str]) -> tuple[SlaRow, ...]:
    return tuple(
        SlaRow(
            key=r.key,
            asked=r.asked,
            answered=r.answered,
            median_response_hours=r.median_hours,
            max_response_hours=r.max_hours,
            reminders_before_decision=r.reminders_before_decision,
            unanswered_closed=r.never,
            deadline_hit_rate=r.deadline_hit_rate,
        )
        for r in sla.by_group(facts, key)
    )


def _terminations(
    pilots: Sequence[Pilot], history: Mapping[str, list[StageChange]]
) -> tuple[TerminationRow, ...]:
    rows = []
    for p in pilots:
        if p.stage != Stage.TERMINATED.value:
            continue
        last = next(
            (c for c in reversed(history.get(p.id, [])) if c.to_stage == Stage.TERMINATED.value),
            None,
        )
        at = p.ended_at or (last.at if last else None)
        rows.append(
            TerminationRow(
                id=p.id,
                title=p.title,
                portfolio=p.portfolio,
                from_stage=last.from_stage if last else None,
                at=at,
                by=last.actor if last else None,
                after_days=round(_days(p.created_at, at), 1) if at else None,
                reason=p.end_reason or (last.reason if last else ""),
            )
        )
    # undated first, then oldest first (UTC timestamps: the order of their ISO strings)
    rows.sort(key=lambda r: (r.at is not None, r.at))
    return tuple(rows)


def _value(
    pilots: Sequence[Pilot], observations: Mapping[str, list[Observation]], policy: Policy
) -> ValueReport:
    rows = []
    by_status: dict[str, list[ValueEstimate]] = {"delivering": [], "projected": []}
    for p in pilots:
        proposal = Proposal.model_validate(p.proposal)
        estimates = pilot_value(proposal, observations.get(p.id, []), policy.evidence.last_n)
        if not estimates:
            continue
        status = _value_status(p.stage)
        if status in by_status:
            by_status[status].extend(estimates)
        rows.append(
            PilotValue(
                id=p.id,
                title=p.title,
                stage=p.stage,
                status=status,
                estimates=tuple(_rounded(e) for e in estimates),
                money=money(estimates, proposal, policy.value),
            )
        )
    summed = {k: {u: round(v, 1) for u, v in totals(v_).items()} for k, v_ in by_status.items()}
    return ValueReport(
        pilots=tuple(rows),
        totals=ValueTotals(delivering=summed["delivering"], projected=summed["projected"]),
    )


def _value_over_time(
    pilots: Sequence[Pilot],
    history: Mapping[str, list[StageChange]],
    observations: Mapping[str, list[Observation]],
    policy: Policy,
    now: datetime,
) -> ValueOverTime:
    """Each pilot that reached production, its value since go-live; portfolio totals."""
    rows = []
    for p in pilots:
        changes = [(Stage(c.to_stage).value, c.at) for c in history.get(p.id, [])]
        window = production_window(changes, Stage.PRODUCTION.value)
        if window is None:
            continue
        proposal = Proposal.model_validate(p.proposal)
        series = series_since_go_live(
            proposal, observations.get(p.id, []), window[0], policy.value, now, window[1]
        )
        rows.append(PilotValueSeries(p.id, p.title, p.portfolio, p.stage, series))
    hours = round(sum(r.series.realised_hours for r in rows), 2)
    rate = policy.value.hour_rate
    return ValueOverTime(
        pilots=tuple(rows),
        portfolios=portfolio_totals(((r.portfolio, r.series) for r in rows), policy.value),
        realised_hours=hours,
        realised_money=None if rate is None else round(hours * rate, 2),
        currency=policy.value.currency,
    )


def _rounded(e: ValueEstimate) -> ValueEstimate:
    """The estimate with its figures rounded to 2 decimals (its formula keeps the exact sum)."""
    return replace(
        e,
        baseline=round(e.baseline, 2),
        current=round(e.current, 2),
        volume_per_year=round(e.volume_per_year, 2),
        improvement=round(e.improvement, 2),
        per_year=round(e.per_year, 2),
    )
