"""Every figure of the portfolio report, checked against the register on a known dataset.

The dataset (report_dataset.py) is written through the real store functions at fixed
times, so each figure is known by hand; the figures are also recomputed with plain SQL, and
the HTML (charts' data-figures and tables), the Markdown and the JSON export must show the
same numbers.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from datetime import datetime
from typing import Any

import pytest
import report_dataset as ds
from report_html import ReportPage
from rich.console import Console
from sqlalchemy import text
from sqlalchemy.orm import Session

from lifecycle.policy import Policy
from lifecycle.proposal import load_proposal
from lifecycle.stages import Stage
from lifecycle.value import ValueEstimate
from pilotgate.report import (
    Report,
    Totals,
    ValueTotals,
    build_report,
    print_summary,
    render_html,
    render_markdown,
)
from store import pilots

H = 1 / 24  # an hour in days


@pytest.fixture
def report(session: Session, policy: Policy) -> Report:
    ds.build(session, policy)
    return build_report(session, policy, ds.NOW)


def rows(session: Session, sql: str, **params: Any) -> list[Any]:
    return list(session.execute(text(sql), params).all())


def aware(value: Any) -> datetime:
    """A timestamp read with plain SQL (SQLite gives strings, PostgreSQL datetimes)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=ds.T0.tzinfo)


# ---------------------------------------------------------------- the figures, by hand

FUNNEL = {
    "proposal": (4, 1),
    "pilot": (3, 0),
    "readiness_review": (2, 0),
    "internal_rollout": (1, 1),
    "customer_rollout": (0, 0),
    "production": (0, 0),
}
CAPS = {"clinical": (0, 5), "engineering": (0, 5), "it-operations": (2, 5)}
AGES = {
    "pg-help0001": (99.8, 182.0, 82.2, "running"),
    "pg-clin0001": (31.0, 182.0, None, "ended"),
    "pg-devp0001": (21.0, 182.0, None, "ended"),
}
STAGE_DAYS = {
    "pg-help0001": {
        "proposal": round(5 * H, 2),
        "pilot": round(61 - 5 * H, 2),
        "readiness_review": 0.25,
        "internal_rollout": 38.75,
    },
    "pg-clin0001": {"proposal": 1.0, "pilot": 29.0, "readiness_review": 2.0},
    "pg-devp0001": {"proposal": 1.0, "pilot": 21.0},
    "pg-wait0001": {"proposal": 10.0},
}
# gate id order as built: help g1-g4, clinical c1-c3, devprod d1-d2, waiting w1
LEADS = [
    (5.0, "approved"),
    (24.0, "approved"),
    (6.0, "approved"),
    (480.0, "open"),
    (24.0, "approved"),
    (24.0, "approved"),
    (48.0, "rejected"),
    (24.0, "approved"),
    (504.0, "expired"),
    (240.0, "open"),
]
GATE_STAGES = {  # gates, decided, median lead h, max lead h, approved, rejected, expired, open
    "proposal": (4, 3, 24.0, 24.0, 3, 0, 0, 1),
    "pilot": (3, 2, 24.0, 24.0, 2, 0, 1, 0),
    "readiness_review": (2, 2, 27.0, 48.0, 1, 1, 0, 0),
    "internal_rollout": (1, 0, None, None, 0, 0, 0, 1),
    "customer_rollout": (0, 0, None, None, 0, 0, 0, 0),
}
HEADLINE = {
    "pilots": 4,
    "active": 2,
    "production": 0,
    "terminated": 2,
    "open_gates": 2,
    "median_gate_lead_hours": 24.0,
    "value_delivering": {"hours/year": 7000.0},
}
# asked, answered, approved, rejected, waiting, never answered (still needed), not needed,
# median h. "Never answered" used to count every unanswered request of a closed gate (PMO1 3,
# PMO2 4, ARC1 1, ARC2 1); it now leaves out the requests made moot because colleagues met the
# role's quorum of an approved or rejected gate, which are counted as "not needed" instead, so
# the two columns add up to the old figure.
APPROVERS = {
    "U0PMO0001": (8, 3, 3, 0, 2, 1, 2, 12.0),
    "U0PMO0002": (8, 2, 2, 0, 2, 1, 3, 12.5),
    "U0FIN0001": (4, 3, 3, 0, 1, 0, 0, 24.0),
    "U0ARC0001": (2, 1, 1, 0, 0, 0, 1, 3.0),
    "U0ARC0002": (2, 1, 1, 0, 0, 0, 1, 24.0),
    "U0OPS0001": (3, 1, 1, 0, 1, 1, 0, 6.0),
    "U0SEC0001": (1, 1, 0, 1, 0, 0, 0, 48.0),
    "U0CMP0001": (1, 0, 0, 0, 0, 1, 0, None),
    "U0CLN0001": (1, 0, 0, 0, 0, 1, 0, None),
}


def test_headline_funnel_and_caps(session: Session, report: Report) -> None:
    assert report.totals == Totals(
        pilots=4,
        active=2,
        production=0,
        terminated=2,
        open_gates=2,
        median_gate_lead_hours=24.0,
        value_delivering={"hours/year": 7000.0},
    )
    assert report.as_dict()["totals"] == HEADLINE
    assert {r.stage: (r.reached, r.current) for r in report.funnel} == FUNNEL
    for r in report.funnel:  # the same from SQL
        reached = rows(
            session,
            "SELECT count(DISTINCT pilot_id) FROM stage_history WHERE to_stage = :s",
            s=r.stage,
        )[0][0]
        current = rows(session, "SELECT count(*) FROM pilots WHERE stage = :s", s=r.stage)[0][0]
        assert (r.reached, r.current) == (reached, current)
    assert {r.portfolio: (r.active, r.cap) for r in report.caps} == CAPS
    active = dict(
        rows(
            session,
            "SELECT portfolio, count(*) FROM pilots WHERE stage NOT IN "
            "('production', 'terminated') GROUP BY portfolio",
        )
    )
    assert {r.portfolio: r.active for r in report.caps if r.active} == active


def test_ages_and_time_in_stage(session: Session, report: Report) -> None:
    assert {r.id: (r.age_days, r.limit_days, r.days_left, r.state) for r in report.ages} == AGES
    for pid, started, deploy_by, ended in rows(
        session,
        "SELECT id, pilot_started_at, deploy_by, ended_at FROM pilots "
        "WHERE pilot_started_at IS NOT NULL",
    ):
        row = next(r for r in report.ages if r.id == pid)
        end = aware(ended) if ended else ds.NOW
        assert row.age_days == round((end - aware(started)).total_seconds() / 86400, 1)
        assert row.limit_days == round((aware(deploy_by) - aware(started)).days, 1)

    got = {r.id: r.by_stage for r in report.stage_time.pilots}
    assert got == STAGE_DAYS
    # recomputed from stage_history with SQL rows
    history: dict[str, list[tuple[str, datetime]]] = defaultdict(list)
    for pid, to_stage, at in rows(
        session, "SELECT pilot_id, to_stage, at FROM stage_history ORDER BY at, id"
    ):
        history[pid].append((to_stage, aware(at)))
    for pid, changes in history.items():
        spent: dict[str, float] = defaultdict(float)
        for i, (stage, at) in enumerate(changes):
            if stage in ("production", "terminated"):
                continue
            end = changes[i + 1][1] if i + 1 < len(changes) else ds.NOW
            spent[stage] += (end - at).total_seconds() / 86400
        assert got[pid] == {k: round(v, 2) for k, v in spent.items()}
    stages = {r.stage: r for r in report.stage_time.stages}
    proposal_days = [5 * H, 1.0, 1.0, 10.0]
    assert stages["proposal"].pilots == 4
    assert stages["proposal"].median_days == round(statistics.median(proposal_days), 2)
    assert stages["proposal"].mean_days == round(statistics.fmean(proposal_days), 2)
    assert stages["pilot"].median_days == 29.0
    assert stages["readiness_review"].total_days == 2.25
    assert stages["customer_rollout"].pilots == 0
    assert stages["customer_rollout"].median_days is None


def test_gate_lead_times_and_approvers(session: Session, report: Report) -> None:
    gates = sorted(report.gates, key=lambda g: g.id)
    assert [(g.lead_hours, g.status) for g in gates] == LEADS
    for gate_id, status, resolved in rows(session, "SELECT id, status, resolved_at FROM gates"):
        asked = min(
            aware(a)
            for (a,) in rows(
                session,
                "SELECT asked_at FROM signoff_requests WHERE gate_id = :g AND round = 0",
                g=gate_id,
            )
        )
        end = aware(resolved) if status != "open" else ds.NOW
        g = next(x for x in gates if x.id == gate_id)
        assert g.lead_hours == round((end - asked).total_seconds() / 3600, 2)
        assert g.status == status
    assert {
        r.stage: (
            r.gates,
            r.decided,
            r.median_lead_hours,
            r.max_lead_hours,
            r.approved,
            r.rejected,
            r.expired,
            r.open,
        )
        for r in report.gate_stages
    } == GATE_STAGES

    assert {
        r.approver: (
            r.asked,
            r.answered,
            r.approved,
            r.rejected,
            r.waiting,
            r.unanswered_closed,
            r.not_needed,
            r.median_response_hours,
        )
        for r in report.approvers
    } == APPROVERS
    asked = dict(rows(session, "SELECT approver, count(*) FROM signoff_requests GROUP BY approver"))
    answered = dict(
        rows(
            session,
            "SELECT r.approver, count(*) FROM signoff_requests r JOIN "
            "decisions d ON d.request_id = r.id GROUP BY r.approver",
        )
    )
    for r in report.approvers:
        assert r.asked == asked[r.approver]
        assert r.answered == answered.get(r.approver, 0)
    times: dict[str, list[float]] = defaultdict(list)
    for approver, asked_at, decided_at in rows(
        session,
        "SELECT r.approver, r.asked_at, d.decided_at FROM signoff_requests r "
        "JOIN decisions d ON d.request_id = r.id",
    ):
        times[approver].append((aware(decided_at) - aware(asked_at)).total_seconds() / 3600)
    for r in report.approvers:
        if times[r.approver]:
            assert r.median_response_hours == round(statistics.median(times[r.approver]), 2)
            assert r.max_response_hours == round(max(times[r.approver]), 2)


def test_terminations_and_value(session: Session, report: Report) -> None:
    assert [
        (r.id, r.from_stage, r.at and r.at.date().isoformat(), r.after_days, r.by)
        for r in report.terminations
    ] == [
        ("pg-devp0001", "pilot", "2026-01-29", 22.0, "gate"),
        ("pg-clin0001", "readiness_review", "2026-02-07", 32.0, "gate"),
    ]
    reasons = dict(rows(session, "SELECT id, end_reason FROM pilots WHERE stage = 'terminated'"))
    assert {r.id: r.reason for r in report.terminations} == reasons
    assert ds.REJECTION in reasons["pg-clin0001"]

    value = {p.id: p for p in report.value.pilots}
    assert set(value) == {"pg-help0001", "pg-clin0001"}
    (help_,) = value["pg-help0001"].estimates
    assert isinstance(help_, ValueEstimate)
    assert value["pg-help0001"].status == "delivering"
    assert (help_.metric, help_.current, help_.per_year, help_.per_year_unit) == (
        "resolution_minutes",
        1.0,
        7000.0,
        "hours/year",
    )
    assert help_.formula == "(11 - 1) minutes x 42,000 per year / 60 = 7,000 hours/year"
    (clin,) = value["pg-clin0001"].estimates
    assert value["pg-clin0001"].status == "terminated, not counted"
    assert (clin.current, clin.per_year) == (12.0, 8000.0)  # (16 - 12) x 120,000 / 60
    latest = [
        v
        for (v,) in rows(
            session,
            "SELECT value FROM metric_observations WHERE "
            "pilot_id = 'pg-help0001' AND metric = "
            "'resolution_minutes' ORDER BY observed_at DESC "
            "LIMIT 5",
        )
    ]
    assert help_.current == statistics.median(latest)
    assert report.value.totals == ValueTotals(delivering={"hours/year": 7000.0}, projected={})


#: the JSON export's structure (`pilotgate report --json`): the keys of each section's rows.
JSON_KEYS = {
    "funnel": ["stage", "label", "reached", "current"],
    "caps": ["portfolio", "active", "cap", "free", "at_cap"],
    "ages": [
        "id",
        "title",
        "stage",
        "started",
        "deploy_by",
        "age_days",
        "limit_days",
        "days_left",
        "state",
    ],
    "gates": [
        "id",
        "pilot_id",
        "title",
        "stage",
        "target",
        "status",
        "asked_at",
        "decided_at",
        "lead_hours",
        "open",
        "escalated",
        "extended",
    ],
    "gate_stages": [
        "stage",
        "label",
        "gates",
        "decided",
        "median_lead_hours",
        "max_lead_hours",
        "approved",
        "rejected",
        "expired",
        "cancelled",
        "open",
    ],
    "approvers": [
        "approver",
        "roles",
        "asked",
        "answered",
        "approved",
        "rejected",
        "waiting",
        "unanswered_closed",
        "median_response_hours",
        "max_response_hours",
        "response_rate",
        # the approver SLA figures (issue 14)
        "not_needed",
        "handed_over",
        "on_behalf",
        "reminders_before_decision",
        "deadline_hit_rate",
    ],
    "sla_roles": [
        "key",
        "asked",
        "answered",
        "median_response_hours",
        "max_response_hours",
        "reminders_before_decision",
        "unanswered_closed",
        "deadline_hit_rate",
    ],
    "terminations": ["id", "title", "portfolio", "from_stage", "at", "by", "after_days", "reason"],
}


def test_the_json_export_holds_every_figure_as_plain_data(report: Report) -> None:
    data = json.loads(report.to_json())
    assert data == report.as_dict()  # JSON-safe: a round trip changes nothing
    assert list(data) == [
        "generated_at",
        "funnel",
        "caps",
        "ages",
        "stage_time",
        "gates",
        "gate_stages",
        "approvers",
        "terminations",
        "value",
        "totals",
        "sla_roles",
        "sla_gates",
        "value_over_time",  # added after the others: the keys before it are unchanged
    ]
    for section, keys in JSON_KEYS.items():
        assert data[section], section
        assert all(list(row) == keys for row in data[section]), section
    assert data["generated_at"] == "2026-04-15T09:00:00+00:00"
    assert data["totals"] == HEADLINE
    assert {r["stage"]: (r["reached"], r["current"]) for r in data["funnel"]} == FUNNEL
    assert {r["portfolio"]: (r["active"], r["cap"]) for r in data["caps"]} == CAPS
    assert {
        r["id"]: (r["age_days"], r["limit_days"], r["days_left"], r["state"]) for r in data["ages"]
    } == AGES
    assert data["ages"][0]["started"] == "2026-01-05T14:00:00+00:00"
    stage_time = data["stage_time"]
    assert list(stage_time) == ["pilots", "stages"]
    assert {r["id"]: r["by_stage"] for r in stage_time["pilots"]} == STAGE_DAYS
    assert stage_time["pilots"][0]["segments"][-1] == {
        "stage": "internal_rollout",
        "days": 38.75,
        "ongoing": True,
    }
    assert list(stage_time["stages"][0]) == [
        "stage",
        "label",
        "pilots",
        "median_days",
        "mean_days",
        "total_days",
    ]
    gates = sorted(data["gates"], key=lambda g: g["id"])
    assert [(g["lead_hours"], g["status"]) for g in gates] == LEADS
    assert (gates[0]["asked_at"], gates[0]["decided_at"]) == (
        "2026-01-05T09:00:00+00:00",
        "2026-01-05T14:00:00+00:00",
    )
    assert gates[3]["decided_at"] is None and gates[3]["open"] is True
    approvers = {r["approver"]: r for r in data["approvers"]}
    assert approvers["U0ARC0001"]["roles"] == ["architecture"]
    assert approvers["U0ARC0001"]["response_rate"] == 0.5
    assert [(r["id"], r["at"]) for r in data["terminations"]] == [
        ("pg-devp0001", "2026-01-29T09:00:00+00:00"),
        ("pg-clin0001", "2026-02-07T09:00:00+00:00"),
    ]
    assert list(data["value"]) == ["pilots", "totals"]
    help_ = data["value"]["pilots"][0]
    assert list(help_) == ["id", "title", "stage", "status", "estimates", "money"]
    assert help_["estimates"] == [e.to_dict() for e in report.value.pilots[0].estimates]
    assert data["value"]["totals"] == {"delivering": {"hours/year": 7000.0}, "projected": {}}
    # 7,000 hours a year at the example policy's 55 USD an hour, against a 180,000 USD budget.
    assert help_["money"] == {
        "per_year": 385000.0,
        "currency": "USD",
        "budget": 180000.0,
        "budget_currency": "USD",
        "payback_months": 5.6,
        "formula": "7,000 hours/year x 55 USD/hour; budget 180,000 USD / 385,000 per year x 12 "
        "= 5.6 months",
    }


def test_html_and_markdown_show_the_same_figures(report: Report) -> None:
    page = ReportPage(render_html(report))
    assert page.scripts == 0 and page.external == []  # self-contained
    charts = [
        "chart-funnel",
        "chart-caps",
        "chart-ages",
        "chart-stage-time",
        "chart-gate-lead",
        "chart-approvers",
        "chart-terminations",
        "chart-value",
    ]
    assert page.svgs == charts  # each chart is an inline <svg> inside its figure
    f = page.figures
    assert f["chart-funnel"] == {s: reached for s, (reached, _) in FUNNEL.items()}
    assert f["chart-caps"] == {p: {"active": a, "cap": c} for p, (a, c) in CAPS.items()}
    assert f["chart-ages"] == {
        p: {"age_days": a, "limit_days": limit} for p, (a, limit, _, _) in AGES.items()
    }
    assert f["chart-stage-time"] == STAGE_DAYS
    assert [
        (v["lead_hours"], v["status"])
        for _, v in sorted(f["chart-gate-lead"].items(), key=lambda kv: int(kv[0]))
    ] == LEADS
    assert {
        a: (v["asked"], v["answered"], v["median_response_hours"])
        for a, v in f["chart-approvers"].items()
    } == {a: (x[0], x[1], x[7]) for a, x in APPROVERS.items()}
    assert f["chart-terminations"] == {"pilot": 1, "readiness_review": 1}
    assert f["chart-value"] == {
        "pg-help0001:resolution_minutes": 7000.0,
        "pg-clin0001:documentation_minutes_per_visit": 8000.0,
    }
    assert f["value:totals"] == {"delivering": {"hours/year": 7000.0}, "projected": {}}
    assert f["value:totals"] == report.as_dict()["value"]["totals"]
    assert f["headline"] == HEADLINE

    assert page.table("funnel") == [
        [r.label, str(r.reached), str(r.current)] for r in report.funnel
    ]
    assert page.table("caps") == [
        ["clinical", "0", "5", "5"],
        ["engineering", "0", "5", "5"],
        ["it-operations", "2", "5", "3"],
    ]
    assert [r[4:] for r in page.table("ages")] == [
        ["99.8", "182", "82.2"],
        ["31", "182", "-"],
        ["21", "182", "-"],
    ]
    assert page.table("stage-time")[0] == ["proposal", "4", "1", "3", "12.2"]
    assert page.table("gate-lead")[2] == [
        "readiness review -> internal rollout",
        "2",
        "2",
        "27 h",
        "2 days",
        "1",
        "1",
        "0",
        "0",
        "0",
    ]
    approvers = {r[0]: r for r in page.table("gate-lead", 1)}
    # never answered while still needed: 1 (was 4 before the 3 made moot by PMO1 were left out)
    assert approvers["U0PMO0002"][2:] == ["8", "2", "2", "0", "2", "1", "12.5 h", "24 h"]
    assert approvers["U0SEC0001"][2:] == ["1", "1", "0", "1", "0", "0", "2 days", "2 days"]
    terminated = page.table("terminations")
    assert [r[2:5] for r in terminated] == [
        ["pilot", "2026-01-29", "22"],
        ["readiness review", "2026-02-07", "32"],
    ]
    assert ds.REJECTION in terminated[1][6]
    value = page.table("value")
    assert value[0][:5] == [
        "IT help-desk assistant pg-help0001 (delivering)",
        "resolution_minutes",
        "11 minutes",
        "1 minutes",
        "7,000 hours/year",
    ]
    assert value[0][5].startswith("(11 - 1) minutes x 42,000 per year / 60 = 7,000 hours/year")

    md = render_markdown(report)
    for line in [
        "| proposal | 4 | 1 |",
        "| it-operations | 2 | 5 |",
        "| IT help-desk assistant (`pg-help0001`) | internal rollout | 99.8 | 182 | 82.2 |",
        "| readiness review -> internal rollout | 2 | 2 | 27 h | 2 days | 0 |",
        "| U0PMO0001 | programme_office | 8 | 3 | 2 | 12 h |",
        "| IT help-desk assistant (delivering) | resolution_minutes | 7,000 hours/year |",
        "Delivering: 7,000 hours/year.",
    ]:
        assert line in md, line
    assert f"after 32 days: rejected at readiness review: U0SEC0001 rejected: {ds.REJECTION}" in md


def test_an_empty_register_still_renders_every_chart(session: Session, policy: Policy) -> None:
    data = build_report(session, policy, ds.NOW)
    assert data.totals.pilots == 0
    page = ReportPage(render_html(data))
    assert len(page.svgs) == 8
    assert "no data yet" in render_html(data)
    assert "No pilot has been terminated." in render_markdown(data)


XSS = "<script>alert(1)</script> & Co"


def test_user_written_text_stays_text_in_the_html(session: Session, policy: Policy) -> None:
    proposal = load_proposal(ds.EXAMPLES / "helpdesk-assistant.yaml").model_copy(
        update={"title": XSS}
    )
    pid = pilots.create_pilot(
        session, proposal, policy, actor="test", now=ds.at(0), pilot_id="pg-xss00001"
    ).id
    gate = ds._open(session, policy, pid, ds.at(0))
    ds._decide(session, gate, "U0PMO0001", ds.at(0, 2))
    ds._decide(session, gate, "U0FIN0001", ds.at(0, 5))
    ds._move(session, policy, pid, gate, Stage.PILOT, ds.at(0, 5))
    session.flush()
    data = build_report(session, policy, ds.NOW)
    assert [r.title for r in data.ages] == [XSS]

    html = render_html(data)
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co"
    assert "<script" not in html and "alert(1)</script>" not in html
    assert f'text-anchor="end">{escaped}</text>' in html  # a chart label
    assert f"<title>{escaped} (pg-xss00001)</title>" in html  # its tooltip
    page = ReportPage(html)
    assert page.scripts == 0
    assert page.table("ages")[0][0] == f"{XSS} pg-xss00001"  # shown as the text typed
    assert page.table("stage-time")  # the page still parses into its sections


def test_user_written_text_is_not_rich_markup_in_the_terminal_summary(
    session: Session, policy: Policy
) -> None:
    title = "[bold red]Loud[/] [link=https://evil.example]pilot[/link]"
    proposal = load_proposal(ds.EXAMPLES / "helpdesk-assistant.yaml").model_copy(
        update={"title": title}
    )
    pid = pilots.create_pilot(
        session, proposal, policy, actor="test", now=ds.at(0), pilot_id="pg-markup01"
    ).id
    gate = ds._open(session, policy, pid, ds.at(0))
    ds._decide(session, gate, "U0PMO0001", ds.at(0, 2))
    ds._decide(session, gate, "U0FIN0001", ds.at(0, 5))
    ds._move(session, policy, pid, gate, Stage.PILOT, ds.at(0, 5))
    session.flush()
    console = Console(record=True, width=300, color_system=None)
    print_summary(build_report(session, policy, ds.NOW), console)
    assert f"{title} (pg-markup01)" in console.export_text()  # printed as typed, not styled


def test_value_in_money_shows_in_html_and_markdown(report: Report) -> None:
    from pilotgate.report import render_markdown

    markdown = render_markdown(report)
    assert "### In money, against each pilot's budget" in markdown
    assert "| 385,000 USD | 180,000 USD | 5.6 months |" in markdown
