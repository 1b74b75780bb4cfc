"""The readiness evidence reaches the approvers: the Slack request the emulator received shows
each metric met or not met with its numbers, how the figure was computed, and the criteria.
With `missing_evidence: block` the gate does not open on entry, and `advance` names what is
missing, through the real flows (Prefect), listener and emulator."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from lifecycle.policy import EvidenceRules
from store import flow_queue, gates, metrics
from tasks.evidence import EvidenceBlocked

# The stack is slow to drive; the evidence JSON round-trips on both backends in
# test_evidence_gate.py, so these run on SQLite only.
pytestmark = pytest.mark.parametrize("backend", ["sqlite"])


def record(stack: Any, pilot_id: str, metric: str, unit: str, values: list[float]) -> None:
    now = stack.clock()
    with stack.db.session() as session:
        for i, value in enumerate(reversed(values)):
            metrics.record_metric(
                session,
                pilot_id,
                metric=metric,
                value=value,
                unit=unit,
                observed_at=now - timedelta(days=i + 1),
                source="test",
                now=now,
                actor="test",
            )


def to_pilot(stack: Any) -> str:
    pilot_id = stack.propose("helpdesk-assistant")
    stack.advance(pilot_id)
    stack.approve_gate(pilot_id)
    assert stack.stage(pilot_id) == "pilot"
    return pilot_id


def texts(blocks: list[dict[str, Any]]) -> list[str]:
    found = []
    for block in blocks:
        if "text" in block:
            found.append(block["text"]["text"])
        for element in block.get("elements", []):
            if element.get("type") == "mrkdwn":
                found.append(element["text"])
    return found


def readiness_requests(stack: Any) -> list[Any]:
    return [
        m
        for m in stack.emulator.messages
        if (m.versions[0].text or "").startswith("Sign-off requested")
        and "(readiness review -> internal rollout)" in (m.versions[0].text or "")
    ]


def test_slack_request_shows_the_evidence(stack: Any) -> None:
    pilot_id = to_pilot(stack)
    stack.clock.advance(days=60)
    record(stack, pilot_id, "resolution_minutes", "minutes", [1.4, 1.1, 0.9, 1.0, 0.8])
    record(stack, pilot_id, "first_contact_resolution", "percent", [70, 72, 71])
    stack.advance(pilot_id)  # the pilot gate
    stack.approve_gate(pilot_id)
    assert stack.stage(pilot_id) == "readiness_review"  # its gate opened on entry
    stack.dispatcher.drain()

    asked = readiness_requests(stack)
    assert len(asked) == 3  # two architects and operations, each in a DM
    for message in asked:
        lines = texts(message.versions[0].blocks)
        rm = next(t for t in lines if "*resolution_minutes*" in t)
        assert rm.startswith(
            ":white_check_mark: *resolution_minutes*: baseline 11 → target 1 "
            "minutes (lower is better); now: 1 — median of the last 5 "
            "observations within the last 14 days (5 used"
        )
        fcr = next(t for t in lines if "*first_contact_resolution*" in t)
        assert fcr.startswith(
            ":x: *first_contact_resolution*: baseline 58 → target 80 percent "
            "(higher is better); now: 71 — median of the last 5 observations "
            "within the last 14 days (only 3 found"
        )
        criteria = [
            t
            for t in lines
            if t.startswith(":white_check_mark: ") and ": " in t[19:] and "*" not in t
        ]
        assert {t.split(":")[2].strip() for t in criteria} >= {
            "monitoring",
            "fallback path",
            "operations owner",
            "security review",
            "business case",
        }
        assert any(
            t.startswith(":warning: metric first_contact_resolution: target not met") for t in lines
        )
    # what Slack showed is what the gate recorded
    with stack.db.session() as session:
        gate = gates.open_gate_for(session, pilot_id)
        assert gate is not None and gate.stage == "readiness_review"
        assert [m["current"] for m in gate.evidence["metrics"]] == [1.0, 71]


def test_block_policy_keeps_the_gate_shut_until_evidence_exists(stack: Any) -> None:
    block = stack.policy.model_copy(
        update={"evidence": EvidenceRules(missing_evidence="block", last_n=5, window_days=14)}
    )
    stack.runtime.__dict__["policy"] = block  # the runtime's cached policy, for every part
    pilot_id = to_pilot(stack)
    stack.clock.advance(days=60)
    stack.advance(pilot_id)
    stack.approve_gate(pilot_id)
    assert stack.stage(pilot_id) == "readiness_review"
    # the gate that should have opened on entry was blocked: nobody was asked
    with stack.db.session() as session:
        assert gates.open_gate_for(session, pilot_id) is None
        failed = [fr for fr in flow_queue.flow_requests(session, pilot_id) if fr.status == "failed"]
        assert [fr.flow for fr in failed] == ["readiness-review"]
    assert readiness_requests(stack) == []

    # `advance` (the same flow) says exactly what is missing
    with pytest.raises(EvidenceBlocked) as caught:
        stack.advance(pilot_id)
    message = str(caught.value)
    assert "metric resolution_minutes: no evidence" in message
    assert "metric first_contact_resolution: no evidence" in message

    record(stack, pilot_id, "resolution_minutes", "minutes", [1.0, 0.9, 0.8])
    record(stack, pilot_id, "first_contact_resolution", "percent", [81, 82, 83])
    stack.advance(pilot_id)
    stack.dispatcher.drain()
    asked = readiness_requests(stack)
    assert len(asked) == 3
    assert not any(t.startswith(":warning:") for t in texts(asked[0].versions[0].blocks))
