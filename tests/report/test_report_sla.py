"""The approver SLA figures in the HTML and Markdown report, not only in `report --json`: time to
decision by approver, role and gate, reminders before a decision, the deadline hit rate, and
"never answered" counting only requests still needed; on the known dataset plus one hand-over
answered on behalf after a reminder (both databases)."""

from __future__ import annotations

from datetime import timedelta

import report_dataset as ds
from report_html import ReportPage
from sqlalchemy.orm import Session

from lifecycle.gates import Verdict
from lifecycle.policy import Policy
from pilotgate.report import build_report, render_html, render_markdown
from pilotgate.report.format import percent
from store import gates

FIN, CIO = "U0FIN0001", "U0CIO0001"


def _handed_over_and_answered_on_behalf(session: Session, portfolio: ds.Portfolio) -> None:
    """The waiting proposal's FIN request goes to the CIO at day 90.5; the CIO is reminded at
    day 90.75 and approves at day 91, on FIN's behalf: 12 hours after being asked."""
    [gate_id] = portfolio.gates[portfolio.waiting]
    [request] = [r for r in gates.requests_for(session, gate_id) if r.approver == FIN]
    new = gates.hand_over(
        session,
        request,
        to=CIO,
        now=ds.T0 + timedelta(days=90.5),
        actor="test",
        reason="annual leave",
        action="request.delegated",
    )
    assert gates.mark_reminder(session, new.id, 0.5, ds.T0 + timedelta(days=90.75))
    gates.record_decision(
        session,
        new,
        verdict=Verdict.APPROVE,
        reason=None,
        now=ds.T0 + timedelta(days=91),
        source="test",
    )


def test_sla_tables_in_html_and_markdown(session: Session, policy: Policy) -> None:
    portfolio = ds.build(session, policy)
    _handed_over_and_answered_on_behalf(session, portfolio)
    report = build_report(session, policy, ds.NOW)
    page = ReportPage(render_html(report))

    # approver, roles, answered, median, slowest, reminders, hit rate, never, not needed,
    # handed over, on behalf
    assert {r[0]: r[1:] for r in page.table("sla", 0)} == {
        "U0ARC0001": ["architecture", "1", "3 h", "3 h", "0", "100%", "0", "1", "0", "0"],
        "U0ARC0002": ["architecture", "1", "24 h", "24 h", "0", "100%", "0", "1", "0", "0"],
        CIO: ["finance", "1", "12 h", "12 h", "1", "100%", "0", "0", "0", "1"],
        "U0CLN0001": ["clinical_workflow", "0", "-", "-", "0", "0%", "1", "0", "0", "0"],
        "U0CMP0001": ["compliance", "0", "-", "-", "0", "0%", "1", "0", "0", "0"],
        FIN: ["finance", "3", "24 h", "24 h", "0", "100%", "0", "0", "1", "0"],
        "U0OPS0001": ["operations", "1", "6 h", "6 h", "0", "50%", "1", "0", "0", "0"],
        "U0PMO0001": ["programme_office", "3", "12 h", "24 h", "0", "75%", "1", "2", "0", "0"],
        "U0PMO0002": ["programme_office", "2", "12.5 h", "24 h", "0", "67%", "1", "3", "0", "0"],
        "U0SEC0001": ["security", "1", "2 days", "2 days", "0", "100%", "0", "0", "0", "0"],
    }
    # role: asked, answered, median, slowest, reminders, hit rate, never answered
    assert page.table("sla", 1) == [
        ["architecture", "4", "2", "13.5 h", "24 h", "0", "100%", "0"],
        ["clinical_workflow", "1", "0", "-", "-", "0", "0%", "1"],
        ["compliance", "1", "0", "-", "-", "0", "0%", "1"],
        ["finance", "4", "4", "18 h", "24 h", "1", "100%", "0"],
        ["operations", "3", "1", "6 h", "6 h", "0", "50%", "1"],
        ["programme_office", "16", "5", "12 h", "24 h", "0", "71%", "2"],
        ["security", "1", "1", "2 days", "2 days", "0", "100%", "0"],
    ]
    # the gate leaving each stage
    assert page.table("sla", 2) == [
        ["internal rollout", "3", "0", "-", "-", "0", "-", "0"],
        ["pilot", "6", "2", "24 h", "24 h", "0", "50%", "2"],
        ["proposal", "12", "7", "12 h", "24 h", "1", "100%", "0"],
        ["readiness review", "9", "4", "15 h", "2 days", "0", "57%", "3"],
    ]
    # The same figures as the JSON export.
    data = report.as_dict()
    cio = next(r for r in data["approvers"] if r["approver"] == CIO)
    assert (cio["on_behalf"], cio["reminders_before_decision"], cio["median_response_hours"]) == (
        1,
        1,
        12.0,
    )
    assert [percent(r["deadline_hit_rate"]) for r in data["sla_gates"]] == [
        row[6] for row in page.table("sla", 2)
    ]

    md = render_markdown(report)
    for line in [
        f"| {CIO} | finance | 1 | 12 h | 12 h | 1 | 100% | 0 | 0 | 0 | 1 |",
        f"| {FIN} | finance | 3 | 24 h | 24 h | 0 | 100% | 0 | 0 | 1 | 0 |",
        "| U0PMO0002 | programme_office | 2 | 12.5 h | 24 h | 0 | 67% | 1 | 3 | 0 | 0 |",
        "| programme_office | 16 | 5 | 12 h | 24 h | 0 | 71% | 2 |",
        "| finance | 4 | 4 | 18 h | 24 h | 1 | 100% | 0 |",
        "| proposal | 12 | 7 | 12 h | 24 h | 1 | 100% | 0 |",
        "| internal rollout | 3 | 0 | - | - | 0 | - | 0 |",
    ]:
        assert line in md, line


def test_an_empty_register_shows_empty_sla_tables(session: Session, policy: Policy) -> None:
    report = build_report(session, policy, ds.NOW)
    page = ReportPage(render_html(report))
    assert page.table("sla", 0) == [["Nobody has been asked to sign off yet."]]
    assert page.table("sla", 1) == [["No sign-off requests yet."]]
    assert page.table("sla", 2) == [["No sign-off requests yet."]]
    assert "## Approver SLA" in render_markdown(report)
