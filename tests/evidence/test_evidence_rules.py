"""Readiness evidence on known observations: met, not met, missing, the median of the last N
within the window, direction, criteria, internal-rollout evidence and the value estimate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lifecycle.evidence import (
    MET,
    MISSING,
    NOT_MET,
    Observation,
    internal_rollout_evidence,
    metric_evidence,
    readiness_criteria,
    readiness_evidence,
)
from lifecycle.policy import EvidenceRules
from lifecycle.proposal import Person, Proposal, SuccessMetric, load_proposal
from lifecycle.value import estimate, pilot_value, totals

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NOW = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)
RULES = EvidenceRules(missing_evidence="warn", last_n=3, window_days=14)
LOWER = SuccessMetric(
    name="resolution_minutes",
    unit="minutes",
    baseline=11,
    target=1,
    better="lower",
    volume_per_year=42000,
)
HIGHER = SuccessMetric(
    name="first_contact_resolution",
    unit="percent",
    baseline=58,
    target=80,
    better="higher",
    volume_per_year=42000,
)


def obs(metric: str, value: float, days_ago: float, unit: str = "minutes") -> Observation:
    return Observation(metric, value, unit, NOW - timedelta(days=days_ago))


def helpdesk(**changes: object) -> Proposal:
    proposal = load_proposal(EXAMPLES / "helpdesk-assistant.yaml")
    return proposal.model_copy(update=changes) if changes else proposal


def test_median_of_the_last_n_within_the_window() -> None:
    series = [
        obs("resolution_minutes", v, d)
        for v, d in [
            (0.2, 20),  # outside the 14-day window: ignored
            (5.0, 10),
            (0.9, 6),  # 5.0 is not among the last 3
            (1.2, 4),
            (0.8, 2),
            (3.0, 1),
            (0.1, -1),  # in the future: ignored
        ]
    ]
    e = metric_evidence(LOWER, series, RULES, NOW)
    assert e.values == (1.2, 0.8, 3.0)
    assert e.current == 1.2
    assert e.status == NOT_MET  # 1.2 minutes is above the target of 1 (lower is better)
    assert e.how.startswith("median of the last 3 observations within the last 14 days")
    assert "3 used" in e.how


def test_met_when_the_median_reaches_a_lower_target() -> None:
    series = [obs("resolution_minutes", v, d) for v, d in [(1.4, 5), (0.9, 3), (1.0, 1)]]
    e = metric_evidence(LOWER, series, RULES, NOW)
    assert (e.current, e.status) == (1.0, MET)  # exactly on target counts


def test_direction_higher_is_better() -> None:
    good = [
        obs("first_contact_resolution", v, d, "percent") for v, d in [(79, 3), (82, 2), (84, 1)]
    ]
    bad = [obs("first_contact_resolution", v, d, "percent") for v, d in [(70, 3), (85, 2), (75, 1)]]
    assert metric_evidence(HIGHER, good, RULES, NOW).status == MET  # median 82 >= 80
    e = metric_evidence(HIGHER, bad, RULES, NOW)
    assert (e.current, e.status) == (75, NOT_MET)
    assert e.problem() == (
        "metric first_contact_resolution: target not met (75 percent, target 80 or higher)"
    )


def test_missing_when_nothing_is_recent_and_other_units_are_ignored() -> None:
    series = [obs("resolution_minutes", 0.5, 30), obs("resolution_minutes", 30, 1, "seconds")]
    e = metric_evidence(LOWER, series, RULES, NOW)
    assert (e.current, e.status) == (None, MISSING)
    assert "none found (latest observation 2026-03-02)" in e.how
    assert "1 observation(s) in another unit ignored" in e.how
    assert metric_evidence(LOWER, [], RULES, NOW).how.endswith("none found (nothing recorded)")


def test_fewer_than_n_are_used_and_said() -> None:
    e = metric_evidence(LOWER, [obs("resolution_minutes", 0.7, 2)], RULES, NOW)
    assert (e.current, e.status) == (0.7, MET)
    assert "only 1 found" in e.how


def test_readiness_evidence_serialises_to_what_the_gate_stores() -> None:
    series = [obs("resolution_minutes", v, d) for v, d in [(1.4, 5), (0.9, 3), (1.0, 1)]]
    evidence = readiness_evidence(helpdesk(), series, RULES, NOW)
    data = evidence.to_dict()
    assert set(data) >= {"metrics", "criteria", "warnings", "blocking"}
    rm, fcr = data["metrics"]
    assert {
        k: rm[k] for k in ("name", "unit", "baseline", "target", "better", "current", "status")
    } == {
        "name": "resolution_minutes",
        "unit": "minutes",
        "baseline": 11,
        "target": 1,
        "better": "lower",
        "current": 1.0,
        "status": "met",
    }
    assert rm["how"].startswith("median of the last 3 observations within the last 14 days")
    assert fcr["status"] == "missing" and fcr["current"] is None
    assert [c["name"] for c in data["criteria"]] == [
        "monitoring",
        "fallback path",
        "operations owner",
        "security review",
        "business case",
    ]
    assert all(c["status"] == "met" for c in data["criteria"])
    # warn: what is missing is listed as a warning, nothing blocks
    assert data["blocking"] == []
    assert len(data["warnings"]) == 1 and "first_contact_resolution" in data["warnings"][0]


def test_block_policy_moves_problems_to_blocking() -> None:
    rules = EvidenceRules(missing_evidence="block", last_n=3, window_days=14)
    evidence = readiness_evidence(helpdesk(), [], rules, NOW)
    assert evidence.warnings == []
    assert [p.split(":")[0] for p in evidence.blocking] == [
        "metric resolution_minutes",
        "metric first_contact_resolution",
    ]


def test_criteria_missing_and_not_met() -> None:
    clinical = load_proposal(EXAMPLES / "clinical-documentation.yaml")
    checks = {c.name: c for c in readiness_criteria(clinical)}
    assert checks["operations owner"].status == MISSING
    assert checks["security review"].status == MET  # high risk, security in reviews
    assert checks["monitoring"].detail == "monitoring of draft quality"
    assert checks["fallback path"].detail == "fallback to manual notes"

    no_security = clinical.model_copy(update={"reviews": ["compliance"]})
    assert {c.name: c.status for c in readiness_criteria(no_security)}["security review"] == MISSING
    lead = clinical.technical_lead
    same = clinical.model_copy(
        update={"operations_owner": Person(name=lead.name, slack_id=lead.slack_id)}
    )
    assert {c.name: c.status for c in readiness_criteria(same)}["operations owner"] == NOT_MET

    bare = helpdesk(
        readiness_criteria=helpdesk().readiness_criteria.model_copy(
            update={"operational": ["on-call rota"]}
        )
    )
    statuses = {c.name: c.status for c in readiness_criteria(bare)}
    assert statuses["monitoring"] == MISSING and statuses["fallback path"] == MISSING


def test_internal_rollout_evidence_counts_only_the_rollout_window() -> None:
    rules = EvidenceRules(missing_evidence="warn", last_n=3, window_days=14)
    entered = NOW - timedelta(days=20)
    series = [
        obs("resolution_minutes", v, d)
        for v, d in [
            (9.0, 25),  # before internal rollout began: ignored
            (4.0, 16),  # during rollout but outside the last 14 days: ignored
            (0.8, 12),
            (1.1, 8),
            (0.9, 4),
            (0.7, 1),
        ]
    ]
    evidence = internal_rollout_evidence(helpdesk(), series, rules, NOW, entered)
    rm = evidence.metrics[0]
    assert rm.values == (0.8, 1.1, 0.9, 0.7)  # all of them, not the last N
    assert rm.current == pytest.approx(0.85) and rm.status == MET
    assert "3 of 4 met the target" in rm.how
    window = {c.name: c for c in evidence.criteria}["internal rollout window"]
    assert window.status == MET and "20.0 of the 14 days" in window.detail

    short = internal_rollout_evidence(helpdesk(), series, rules, NOW, NOW - timedelta(days=5))
    rm = short.metrics[0]
    assert rm.values == (0.9, 0.7)  # only what was observed after entering, 5 days ago
    assert {c.name: c.status for c in short.criteria}["internal rollout window"] == NOT_MET
    assert any("internal rollout window" in w for w in short.warnings)

    never = internal_rollout_evidence(helpdesk(), series, rules, NOW, None)
    assert all(m.status == MISSING for m in never.metrics)


@pytest.mark.parametrize(
    "unit,current,per_year,per_unit",
    [
        ("minutes", 1.0, 7000.0, "hours/year"),  # (11 - 1) min x 42,000 / 60
        ("seconds", 5.0, 70.0, "hours/year"),  # (11 - 5) s x 42,000 / 3,600
        ("hours", 10.0, 42000.0, "hours/year"),
        ("USD", 12.0, -42000.0, "USD/year"),  # worse than baseline: negative
    ],
)
def test_value_estimate_units_and_formula(
    unit: str, current: float, per_year: float, per_unit: str
) -> None:
    metric = LOWER.model_copy(update={"unit": unit})
    e = estimate(metric, current, "test")
    assert e is not None
    assert e.per_year == pytest.approx(per_year) and e.per_year_unit == per_unit
    assert e.formula.endswith(f"= {per_year:,.0f} {per_unit}")


def test_value_formula_reads_as_a_sum_and_totals_add_up() -> None:
    e = estimate(LOWER, 1.0, "median")
    assert e is not None
    assert e.formula == "(11 - 1) minutes x 42,000 per year / 60 = 7,000 hours/year"
    p = estimate(HIGHER, 83, "median")
    assert p is not None
    assert p.formula == "(83 - 58) percent / 100 x 42,000 per year = 10,500 occurrences/year"
    assert estimate(LOWER.model_copy(update={"volume_per_year": None}), 1.0, "x") is None
    series = [obs("resolution_minutes", v, d) for v, d in [(2.0, 40), (1.0, 30), (3.0, 20)]]
    values = pilot_value(helpdesk(), series, last_n=2)
    assert [v.metric for v in values] == ["resolution_minutes"]  # fcr has no observations
    assert values[0].current == 2.0  # median of the last 2 (1.0, 3.0), however old
    assert totals(values + [e]) == {"hours/year": pytest.approx(6300 + 7000)}  # (11-2)x42000/60
