"""The value review's ask and note form as Block Kit: Sustain / Adjust / Retire instead of
Approve / Reject, the realised evidence, hostile text escaped, slack_sdk's validation passed
(render_blocks and render_view check it)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from lifecycle.proposal import load_proposal
from slack_out import messages
from slack_out.render import render_view
from store.models import Gate, Pilot, SignoffRequest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
AT = datetime(2027, 4, 1, 9, 0, tzinfo=UTC)


def _ask(title: str, how: str, stage: str = "production") -> list[dict[str, object]]:
    proposal = load_proposal(EXAMPLES / "helpdesk-assistant.yaml")
    pilot = Pilot(
        id="pg-1a2b3c4d",
        title=title,
        portfolio="it-operations",
        risk_tier="low",
        proposal=proposal.model_dump(mode="json"),
        stage=stage,
    )
    target = "production" if stage == "production" else "internal_rollout"
    metric = {
        "name": "resolution_minutes",
        "unit": "minutes",
        "baseline": 11,
        "target": 1,
        "better": "lower",
        "current": 1.2,
        "status": "not_met",
        "how": how,
    }
    gate = Gate(
        id=7,
        stage=stage,
        target=target,
        deadline=AT,
        evidence={"kind": "value_review", "metrics": [metric], "criteria": [], "warnings": [how]},
    )
    request = SignoffRequest(id=42, role="finance", round=0, on_behalf_of=None)
    return messages.request_blocks(pilot, gate, request)


def _buttons(blocks: list[dict[str, object]]) -> list[tuple[str, str]]:
    return [
        (e["action_id"], e["text"]["text"])  # type: ignore[index]
        for b in blocks
        if b.get("type") == "actions"
        for e in b["elements"]  # type: ignore[attr-defined]
    ]


def test_a_review_asks_sustain_adjust_or_retire_with_the_realised_figures() -> None:
    blocks = _ask("IT help-desk assistant", "median of the last 5 observations")
    assert _buttons(blocks) == [
        ("pilotgate_approve", "Sustain"),
        ("pilotgate_adjust", "Adjust"),
        ("pilotgate_retire", "Retire"),
    ]
    text = str(blocks)
    assert "IT help-desk assistant — value review" in text
    assert "baseline 11 → target 1 minutes" in text and "now: 1.2" in text
    assert "*Sustain* keeps it in production" in text
    # A stage gate keeps its Approve / Reject.
    stage_gate = _ask("IT help-desk assistant", "x", stage="readiness_review")
    assert [a for a, _ in _buttons(stage_gate)] == ["pilotgate_approve", "pilotgate_reject"]


@settings(max_examples=40, deadline=None)
@given(st.text(min_size=1, max_size=300), st.text(max_size=3000))
def test_hostile_text_is_escaped_and_the_blocks_stay_valid(title: str, how: str) -> None:
    hostile = f"<!channel> {title} <https://evil.example|click> &"
    blocks = _ask(hostile, how + " <!here>")
    # Slack reads mentions and links only in mrkdwn (a plain_text header shows them as typed).
    text = " ".join(_mrkdwn(blocks))
    assert "<!channel>" not in text and "<!here>" not in text
    assert "<https://evil.example|click>" not in text
    view = render_view("value_review_modal.json.j2", request_id=42, title=hostile, verdict="adjust")
    assert view["private_metadata"] == "adjust:42"
    assert "<!channel>" not in " ".join(_mrkdwn(view["blocks"]))


def _mrkdwn(node: object) -> list[str]:
    """Every mrkdwn text in a block tree."""
    if isinstance(node, dict):
        if node.get("type") == "mrkdwn" and isinstance(node.get("text"), str):
            return [node["text"]]
        return [t for v in node.values() for t in _mrkdwn(v)]
    if isinstance(node, list):
        return [t for v in node for t in _mrkdwn(v)]
    return []


def test_the_note_form_says_what_each_answer_does() -> None:
    adjust = render_view("value_review_modal.json.j2", request_id=9, title="T", verdict="adjust")
    retire = render_view("value_review_modal.json.j2", request_id=9, title="T", verdict="reject")
    assert (adjust["callback_id"], adjust["title"]["text"]) == ("pilotgate_review_note", "Adjust")
    assert (retire["private_metadata"], retire["title"]["text"]) == ("reject:9", "Retire")
    assert "reviewed again sooner" in str(adjust) and "like a termination" in str(retire)
    [field] = [b for b in adjust["blocks"] if b["type"] == "input"]
    assert field["element"]["min_length"] == 10


def test_the_home_offers_a_review_sustain_adjust_or_retire_and_a_stage_gate_approve_or_reject() -> (
    None
):
    from slack_out.home import home_blocks
    from store.read_home import Waiting

    def waiting(request_id: int, stage: str, target: str) -> Waiting:
        return Waiting(
            request_id=request_id,
            role="finance",
            on_behalf_of=None,
            gate_id=request_id,
            stage=stage,
            target=target,
            deadline=AT,
            pilot_id="pg-1a2b3c4d",
            title="Help-desk <assistant>",
        )

    blocks = [
        b.to_dict()
        for b in home_blocks(
            now=AT,
            waiting=[
                waiting(1, "production", "production"),
                waiting(2, "pilot", "readiness_review"),
            ],
            pilots=[],
            open_gates={},
            at_risk=None,
            base_url="https://pilotgate.example",
        )
    ]
    by_block = {
        b["block_id"]: [(e["action_id"], e["text"]["text"]) for e in b["elements"]]
        for b in blocks
        if b["type"] == "actions"
    }
    assert by_block == {
        "pilotgate_home_1": [
            ("pilotgate_approve", "Sustain"),
            ("pilotgate_adjust", "Adjust"),
            ("pilotgate_retire", "Retire"),
        ],
        "pilotgate_home_2": [("pilotgate_approve", "Approve"), ("pilotgate_reject", "Reject")],
    }
    lines = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    assert any("Help-desk &lt;assistant&gt;" in t and ": value review" in t for t in lines)
    assert any("pilot → readiness review" in t for t in lines)


def test_the_tally_counts_an_adjust_as_the_approval_it_is() -> None:
    from lifecycle.gates import Verdict
    from store.read_tally import RoleTally, Seat

    office = RoleTally(
        "programme_office",
        2,
        (Seat(1, "U0PMO0001", None, Verdict.ADJUST), Seat(2, "U0PMO0002", None, None)),
    )
    text = messages.tally_text([office], {"U0PMO0001": "Pat", "U0PMO0002": "Jordan"}, "https://x")
    assert text is not None
    assert "1 of 2 ✓ Pat" in text and "Jordan asked" in text
    assert "more" not in text  # nobody hidden
