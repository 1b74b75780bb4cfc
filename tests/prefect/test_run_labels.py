"""The names, tags and artifact keys Prefect shows, and the gate report's escaping, without a
server: the builders in config.names, tasks.run_tags' fallbacks, tasks.artifacts' rendering."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from config.names import ArtifactKeys, RunNames, Tags, tag_value
from lifecycle.stages import Stage
from tasks.artifacts import md, render_gate_report
from tasks.run_tags import labels_for, run_name_for, tags_for

#: Prefect's rule for artifact keys (prefect.types.names.raise_on_name_alphanumeric_dashes_only)
ARTIFACT_KEY = re.compile(r"^[a-z0-9-]*$")
TAG = re.compile(r"^[a-z0-9_.:-]{1,80}$")


def test_tags_are_single_tokens() -> None:
    assert Tags.pilot("pg-1a2b3c4d") == "pilot:pg-1a2b3c4d"
    assert Tags.portfolio("IT Operations / EMEA") == "portfolio:it-operations-emea"
    assert Tags.stage(Stage.READINESS_REVIEW) == "stage:readiness_review"
    assert Tags.gate(12) == "gate:12"
    assert Tags.sweep() == ["sweep"] and Tags.sweep(dry_run=True) == ["sweep", "dry-run"]
    assert tag_value("  ") == "unknown" and len(tag_value("x" * 500)) == 64
    for tag in (Tags.portfolio("a,b c\nd"), Tags.pilot("PG-1A2B<script>")):
        assert TAG.match(tag), tag


def test_run_names_and_artifact_keys() -> None:
    assert RunNames.for_pilot("readiness-review", "pg-1a2b3c4d") == (
        "readiness-review · pg-1a2b3c4d"
    )
    assert RunNames.resolve_gate(12, "pg-1a2b3c4d") == "resolve-gate · pg-1a2b3c4d gate 12"
    assert RunNames.resolve_gate(12) == "resolve-gate · gate 12"
    assert RunNames.sweep() == "sweep" and RunNames.sweep(True) == "sweep (dry run)"
    assert ArtifactKeys.gate("pg-1a2b3c4d") == "gate-pg-1a2b3c4d"
    for key in (
        ArtifactKeys.gate("PG_1a2b 3c4d"),
        ArtifactKeys.SWEEP_REPORT,
        ArtifactKeys.SWEEP_DRY_RUN,
    ):
        assert ARTIFACT_KEY.match(key), key


def test_labels_need_no_database_for_what_the_parameters_say() -> None:
    # no runtime database here: the lookup fails quietly and the parameters still name the run
    assert run_name_for("proposal", {"pilot_id": "pg-1a2b3c4d"}) == "proposal · pg-1a2b3c4d"
    assert run_name_for("terminate", {"pilot_id": "pg-1a2b3c4d", "reason": "x"}) == (
        "terminate · pg-1a2b3c4d"
    )
    assert run_name_for("sweep", {"dry_run": True}) == "sweep (dry run)"
    assert run_name_for("sweep", {}) == "sweep"
    assert run_name_for("resolve-gate", {"gate_id": "not a number"}) == "resolve-gate"
    assert tags_for("sweep", {"dry_run": False}) == ["sweep"]
    labels = labels_for("readiness-review", {})
    assert (labels.name, labels.tags) == ("readiness-review", ["stage:readiness_review"])


def test_markdown_escaping_keeps_people_text_on_one_line_and_shows_html_as_text() -> None:
    assert md("Pipe | <b>x</b>\nnew line") == "Pipe \\| &lt;b&gt;x&lt;/b&gt; new line"
    assert md("[click](http://x) *bold* `code` _u_ ~s~ # & \\") == (
        "\\[click\\](http://x) \\*bold\\* \\`code\\` \\_u\\_ \\~s\\~ \\# &amp; \\\\"
    )
    assert md(None) == ""


def _context(**gate: object) -> dict[str, object]:
    at = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
    return {
        "title": "Gate settled",
        "event": "settled",
        "pilot": {
            "id": "pg-1a2b3c4d",
            "title": "Pipe | <b>x</b>\nnew line",
            "portfolio": "it-operations",
            "stage": "terminated",
        },
        "gate": {
            "id": 3,
            "stage_label": "readiness review",
            "target_label": "internal rollout",
            "status": "rejected",
            "opened_at": at,
            "deadline": at,
            "extended_at": None,
            "escalated_at": None,
            "escalation_role": None,
            "resolved_at": at,
            "on_timeout": "escalate to cio",
            **gate,
        },
        "asked": [
            {
                "approver": "U0ARC0001",
                "role": "architecture",
                "round": 0,
                "asked_at": at,
                "answer": "rejected",
                "decided_at": at,
                "reason": "no | way\n<img src=x onerror=alert(1)>",
            }
        ],
        "quorum": [{"role": "architecture", "needed": 1, "approved": [], "missing": 1}],
        "quorum_summary": "U0ARC0001 rejected: no | way",
        "evidence": {
            "rule": "median of the last 5",
            "warnings": ["metric x: no evidence"],
            "metrics": [
                {
                    "name": "resolution_minutes",
                    "unit": "min",
                    "baseline": 11.0,
                    "target": 2.0,
                    "better": "lower",
                    "current": None,
                    "status": "missing",
                    "n": 0,
                }
            ],
            "criteria": [
                {"name": "runbook | ready", "status": "met", "detail": ""},
                {"name": "rollback", "status": "missing", "detail": "none\nyet"},
            ],
        },
        "outcome": "U0ARC0001 rejected: no | way",
    }


def test_the_gate_report_renders_hostile_text_inside_its_tables() -> None:
    text = render_gate_report(_context())
    assert text.startswith("## Gate settled: readiness review → internal rollout\n\n")
    assert "**Pipe \\| &lt;b&gt;x&lt;/b&gt; new line** · pg-1a2b3c4d" in text
    assert "<b>" not in text and "<img" not in text
    assert (
        "| U0ARC0001 | architecture | 2026-05-01 09:00 UTC | rejected, 2026-05-01 09:00 UTC "
        "| no \\| way &lt;img src=x onerror=alert(1)&gt; |"
    ) in text
    assert "| resolution\\_minutes | 11 min | 2 (lower is better) | n/a | 0 | missing |" in text
    assert (
        "\n- met: runbook \\| ready\n- missing: rollback (none yet)\n"
        "- warning: metric x: no evidence\n\n"
    ) in text
    assert "**rejected**: U0ARC0001 rejected: no \\| way" in text
    assert "\n\n\n" not in text
