"""Readiness evidence: measured outcomes against the targets written down before the pilot began.

The organisations that escaped pilot purgatory judged a pilot by what it measurably changed,
against a baseline and a target fixed in the proposal, and by readiness criteria agreed up
front (monitoring, a fallback path, an operations owner, a security review, a business case).
This module turns a proposal, its metric observations, the policy's evidence rules and `now`
into that judgement, so the same figures reach the Slack request, `pilotgate advance` and the
portfolio report. It is pure: no database, no Slack, no clock.

The figure compared with a target is always stated in words (`how`), e.g. "median of the last
5 observations within the last 14 days", so an approver knows what the number means.
"""

from __future__ import annotations

import hashlib
import json
import re
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from lifecycle.policy import EvidenceRules, RiskTier
from lifecycle.proposal import Proposal, SuccessMetric

MET = "met"
NOT_MET = "not_met"
MISSING = "missing"
#: declared in the proposal, not yet confirmed by the person the policy names (see
#: lifecycle.confirmations).
NOT_CONFIRMED = "not_confirmed"

#: Words in readiness_criteria.operational that count as naming monitoring / a fallback path.
MONITORING_WORDS = re.compile(r"monitor|alert|observab", re.IGNORECASE)
FALLBACK_WORDS = re.compile(
    r"fall[ -]?back|kill[ -]?switch|roll[ -]?back|fail[ -]?over", re.IGNORECASE
)


@dataclass(frozen=True)
class Observation:
    """One measured value of a success metric (as recorded by `pilotgate metric`)."""

    metric: str
    value: float
    unit: str
    observed_at: datetime


@dataclass(frozen=True)
class MetricEvidence:
    name: str
    unit: str
    baseline: float
    target: float
    better: str
    current: float | None
    status: str
    how: str
    #: the observations the figure was computed from, oldest first.
    values: tuple[float, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "unit": self.unit,
            "baseline": self.baseline,
            "target": self.target,
            "better": self.better,
            "current": self.current,
            "status": self.status,
            "how": self.how,
            "n": len(self.values),
            "values": list(self.values),
        }

    def problem(self) -> str | None:
        if self.status == MISSING:
            return f"metric {self.name}: no evidence ({self.how})"
        if self.status == NOT_MET:
            return (
                f"metric {self.name}: target not met ({_fmt(self.current)} {self.unit}, "
                f"target {_fmt(self.target)} or {self.better})"
            )
        return None


@dataclass(frozen=True)
class CriterionCheck:
    name: str
    status: str
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "detail": self.detail}

    def problem(self) -> str | None:
        if self.status == MET:
            return None
        word = {MISSING: "missing", NOT_CONFIRMED: "not confirmed"}.get(self.status, "not met")
        return f"criterion {self.name}: {word} ({self.detail})"


@dataclass(frozen=True)
class Evidence:
    """What a gate shows its approvers; `to_dict()` is what `gate.evidence` stores."""

    kind: str
    computed_at: datetime
    rule: str
    metrics: list[MetricEvidence]
    criteria: list[CriterionCheck]
    warnings: list[str] = field(default_factory=list)
    blocking: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        found = [m.problem() for m in self.metrics] + [c.problem() for c in self.criteria]
        return [p for p in found if p]

    @property
    def complete(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "computed_at": self.computed_at.isoformat(),
            "rule": self.rule,
            "metrics": [m.to_dict() for m in self.metrics],
            "criteria": [c.to_dict() for c in self.criteria],
            "warnings": list(self.warnings),
            "blocking": list(self.blocking),
        }


def _fmt(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def meets(metric: SuccessMetric, value: float) -> bool:
    """Direction-aware: at or below the target when lower is better, at or above otherwise."""
    return value <= metric.target if metric.better == "lower" else value >= metric.target


def _own(
    metric: SuccessMetric, observations: Iterable[Observation]
) -> tuple[list[Observation], int]:
    """The metric's observations in its unit, oldest first, and how many had another unit."""
    mine = [o for o in observations if o.metric == metric.name]
    same = [o for o in mine if o.unit == metric.unit]
    return sorted(same, key=lambda o: o.observed_at), len(mine) - len(same)


def _judged(metric: SuccessMetric, used: Sequence[Observation], how: str) -> MetricEvidence:
    """The metric judged on the median of `used` (missing when there is nothing to judge)."""
    if not used:
        return MetricEvidence(
            metric.name,
            metric.unit,
            metric.baseline,
            metric.target,
            metric.better,
            None,
            MISSING,
            how,
        )
    current = float(statistics.median(o.value for o in used))
    return MetricEvidence(
        metric.name,
        metric.unit,
        metric.baseline,
        metric.target,
        metric.better,
        current,
        MET if meets(metric, current) else NOT_MET,
        how,
        tuple(o.value for o in used),
    )


def _other_units(count: int) -> str:
    return f"; {count} observation(s) in another unit ignored" if count else ""


def metric_evidence(
    metric: SuccessMetric, observations: Iterable[Observation], rules: EvidenceRules, now: datetime
) -> MetricEvidence:
    """The median of the last N observations within the last window_days days, vs the target."""
    series, foreign = _own(metric, observations)
    start = now - timedelta(days=rules.window_days)
    recent = [o for o in series if start < o.observed_at <= now]
    used = recent[-rules.last_n :]
    rule = (
        f"median of the last {rules.last_n} observations within the last {rules.window_days} days"
    )
    if not used:
        earlier = [o for o in series if o.observed_at <= now]
        latest = (
            f"latest observation {earlier[-1].observed_at:%Y-%m-%d}"
            if earlier
            else "nothing recorded"
        )
        return _judged(metric, used, f"{rule}: none found ({latest}){_other_units(foreign)}")
    found = f"{len(used)} used" if len(used) == rules.last_n else f"only {len(used)} found"
    return _judged(
        metric,
        used,
        f"{rule} ({found}, {used[0].observed_at:%Y-%m-%d} to "
        f"{used[-1].observed_at:%Y-%m-%d}){_other_units(foreign)}",
    )


def _mentions(items: Sequence[str], pattern: re.Pattern[str]) -> str | None:
    return next((item for item in items if pattern.search(item)), None)


def readiness_criteria(proposal: Proposal) -> list[CriterionCheck]:
    """Monitoring, fallback path, operations owner, security review, business case."""
    operational = proposal.readiness_criteria.operational
    checks: list[CriterionCheck] = []
    for name, pattern in (("monitoring", MONITORING_WORDS), ("fallback path", FALLBACK_WORDS)):
        item = _mentions(operational, pattern)
        checks.append(
            CriterionCheck(name, MET, item)
            if item
            else CriterionCheck(name, MISSING, "readiness_criteria.operational does not name one")
        )
    owner = proposal.operations_owner
    if owner is None:
        checks.append(
            CriterionCheck("operations owner", MISSING, "no operations_owner named in the proposal")
        )
    elif owner.slack_id == proposal.technical_lead.slack_id:
        checks.append(
            CriterionCheck(
                "operations owner",
                NOT_MET,
                f"{owner.name} is also the technical lead; production "
                "needs a separate operations owner",
            )
        )
    else:
        checks.append(CriterionCheck("operations owner", MET, owner.name))
    if proposal.risk_tier is RiskTier.HIGH:
        if "security" in proposal.reviews:
            checks.append(
                CriterionCheck("security review", MET, "security signs off (high risk tier)")
            )
        else:
            checks.append(
                CriterionCheck(
                    "security review",
                    MISSING,
                    "high risk tier, but reviews does not include security",
                )
            )
    else:
        checks.append(
            CriterionCheck(
                "security review", MET, f"not required for risk tier {proposal.risk_tier.value}"
            )
        )
    case = proposal.readiness_criteria.business_case.strip()
    checks.append(
        CriterionCheck("business case", MET, case)
        if case
        else CriterionCheck("business case", MISSING, "readiness_criteria.business_case is empty")
    )
    return checks


def _judge(
    kind: str,
    rule: str,
    metrics: list[MetricEvidence],
    criteria: list[CriterionCheck],
    rules: EvidenceRules,
    now: datetime,
) -> Evidence:
    evidence = Evidence(kind, now, rule, metrics, criteria)
    problems = evidence.problems
    if rules.missing_evidence == "block":
        return Evidence(kind, now, rule, metrics, criteria, blocking=problems)
    return Evidence(kind, now, rule, metrics, criteria, warnings=problems)


def readiness_evidence(
    proposal: Proposal, observations: Iterable[Observation], rules: EvidenceRules, now: datetime
) -> Evidence:
    """Evidence for the gate that leaves readiness review: every metric, every criterion."""
    observations = list(observations)
    metrics = [metric_evidence(m, observations, rules, now) for m in proposal.success_metrics]
    rule = (
        f"median of the last {rules.last_n} observations within the last {rules.window_days} days"
    )
    return _judge("readiness", rule, metrics, readiness_criteria(proposal), rules, now)


def internal_rollout_evidence(
    proposal: Proposal,
    observations: Iterable[Observation],
    rules: EvidenceRules,
    now: datetime,
    entered_at: datetime | None,
) -> Evidence:
    """Evidence for the gate into customer rollout: targets held during internal rollout.

    The window is the last `window_days` days, and only observations made after the pilot
    entered internal rollout count. A metric holds when the median of all of them meets its
    target; the rollout must also have run for the whole window.
    """
    observations = list(observations)
    days = rules.window_days
    rule = (
        f"median of all observations since internal rollout began, within the last "
        f"{days} days; internal rollout must have run {days} days"
    )
    metrics: list[MetricEvidence] = []
    start = now - timedelta(days=days)
    if entered_at is not None and entered_at > start:
        start = entered_at
    for metric in proposal.success_metrics:
        series, foreign = _own(metric, observations)
        used = [o for o in series if start < o.observed_at <= now] if entered_at is not None else []
        began = f"{entered_at:%Y-%m-%d}" if entered_at else "never"
        if not used:
            how = (
                f"median of all observations since internal rollout began ({began}), "
                f"within the last {days} days: none found{_other_units(foreign)}"
            )
        else:
            held = sum(1 for o in used if meets(metric, o.value))
            how = (
                f"median of all {len(used)} observations since internal rollout began "
                f"({began}), within the last {days} days; {held} of {len(used)} met the "
                f"target{_other_units(foreign)}"
            )
        metrics.append(_judged(metric, used, how))
    criteria: list[CriterionCheck] = []
    if entered_at is None:
        criteria.append(
            CriterionCheck(
                "internal rollout window",
                MISSING,
                "the pilot has no record of entering internal rollout",
            )
        )
    else:
        ran = (now - entered_at).total_seconds() / 86400
        status = MET if ran >= days else NOT_MET
        criteria.append(
            CriterionCheck(
                "internal rollout window",
                status,
                f"internal rollout has run {ran:.1f} of the {days} days targets must hold",
            )
        )
    owner = next(c for c in readiness_criteria(proposal) if c.name == "operations owner")
    criteria.append(owner)
    return _judge("internal_rollout", rule, metrics, criteria, rules, now)


def verdict_digest(evidence: dict[str, Any] | None) -> str | None:
    """A digest of what a gate's evidence *says* (each metric's and criterion's status), not
    of its figures or when it was computed: an approval is bound to this, so new measurements
    that leave every verdict as it was do not make anyone answer again. None without evidence."""
    if not evidence:
        return None
    said = {
        "kind": evidence.get("kind"),
        "metrics": sorted((m["name"], m["status"]) for m in evidence.get("metrics", [])),
        "criteria": sorted((c["name"], c["status"]) for c in evidence.get("criteria", [])),
    }
    text = json.dumps(said, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()

