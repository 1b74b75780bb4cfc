"""Proposals: the examples load; a proposal without owner, metrics or a sane target does not."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lifecycle.errors import InputError
from lifecycle.policy import Policy, RiskTier
from lifecycle.proposal import Proposal, load_proposal, parse_proposal

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"
ROLES = ("architecture, cio, clinical_workflow, compliance, finance, operations, "
         "programme_office, security")

ProposalData = Callable[[str], dict[str, Any]]
MakeProposal = Callable[[dict[str, Any]], Proposal]


def problems_of(make_proposal: MakeProposal, data: dict[str, Any]) -> str:
    with pytest.raises(InputError) as exc:
        make_proposal(data)
    assert exc.value.source == "proposal.yaml"
    return "\n".join(exc.value.problems)


@pytest.mark.parametrize("name,risk,metrics", [
    ("helpdesk-assistant", RiskTier.LOW, ["resolution_minutes", "first_contact_resolution"]),
    ("developer-productivity", RiskTier.MEDIUM,
     ["merged_prs_per_engineer_week", "change_failure_rate"]),
    ("clinical-documentation", RiskTier.HIGH,
     ["documentation_minutes_per_visit", "note_error_rate"]),
])
def test_examples_load_and_meet_the_policy(name: str, risk: RiskTier, metrics: list[str],
                                           policy: Policy) -> None:
    proposal = load_proposal(EXAMPLES_DIR / f"{name}.yaml")
    assert proposal.risk_tier is risk
    assert [m.name for m in proposal.success_metrics] == metrics
    assert proposal.business_owner.budget > 0
    proposal.check_against(policy, name)
    # The store keeps the proposal as JSON and reads it back: the round trip must be exact.
    assert Proposal.model_validate(proposal.model_dump(mode="json")) == proposal


def test_helpdesk_example_details() -> None:
    p = load_proposal(EXAMPLES_DIR / "helpdesk-assistant.yaml")
    m = p.metric("resolution_minutes")
    assert m is not None and (m.baseline, m.target, m.better) == (11, 1, "lower")
    assert p.metric("nope") is None
    assert p.operations_owner is not None and p.operations_owner.slack_id == "U0OPS0001"


def test_missing_business_owner(proposal_data: ProposalData, make_proposal: MakeProposal) -> None:
    data = proposal_data("helpdesk-assistant")
    del data["business_owner"]
    assert "business_owner: Field required" in problems_of(make_proposal, data)


def test_business_owner_needs_a_budget(proposal_data: ProposalData,
                                       make_proposal: MakeProposal) -> None:
    data = proposal_data("helpdesk-assistant")
    del data["business_owner"]["budget"]
    assert "business_owner.budget: Field required" in problems_of(make_proposal, data)
    data["business_owner"]["budget"] = 0
    msg = problems_of(make_proposal, data)
    assert "business_owner.budget: Input should be greater than 0" in msg


def test_no_success_metric(proposal_data: ProposalData, make_proposal: MakeProposal) -> None:
    data = proposal_data("helpdesk-assistant")
    data["success_metrics"] = []
    msg = problems_of(make_proposal, data)
    assert "success_metrics: List should have at least 1 item" in msg
    del data["success_metrics"]
    assert "success_metrics: Field required" in problems_of(make_proposal, data)


@pytest.mark.parametrize("index,target,better,message", [
    (0, 12, "lower", "target 12.0 must be below baseline 11.0 when lower is better"),
    (0, 11, "lower", "target 11.0 must be below baseline 11.0 when lower is better"),
    (1, 50, "higher", "target 50.0 must be above baseline 58.0 when higher is better"),
])
def test_target_on_the_wrong_side_of_baseline(proposal_data: ProposalData,
                                              make_proposal: MakeProposal, index: int,
                                              target: float, better: str, message: str) -> None:
    data = proposal_data("helpdesk-assistant")
    data["success_metrics"][index]["target"] = target
    data["success_metrics"][index]["better"] = better
    assert f"success_metrics[{index}]: {message}" in problems_of(make_proposal, data)


def test_duplicate_metric_names(proposal_data: ProposalData, make_proposal: MakeProposal) -> None:
    data = proposal_data("helpdesk-assistant")
    data["success_metrics"][1]["name"] = "resolution_minutes"
    data["success_metrics"][1].update(baseline=11, target=2, better="lower")
    msg = problems_of(make_proposal, data)
    assert "success_metrics: metric names must be unique; repeated: resolution_minutes" in msg


def test_non_slack_ids_are_named(proposal_data: ProposalData, make_proposal: MakeProposal) -> None:
    data = proposal_data("helpdesk-assistant")
    data["business_owner"]["slack_id"] = "tom.becker"
    data["technical_lead"]["slack_id"] = "u0tec0001"
    msg = problems_of(make_proposal, data)
    assert "business_owner.slack_id: 'tom.becker' is not a Slack user id (like U0123ABCD)" in msg
    assert "technical_lead.slack_id: 'u0tec0001' is not a Slack user id" in msg


def test_unknown_risk_tier_and_extra_field(proposal_data: ProposalData,
                                           make_proposal: MakeProposal) -> None:
    data = proposal_data("helpdesk-assistant")
    data["risk_tier"] = "extreme"
    data["sponsor"] = "someone"
    msg = problems_of(make_proposal, data)
    assert "risk_tier: Input should be 'low', 'medium' or 'high'" in msg
    assert "sponsor: Extra inputs are not permitted" in msg


def test_short_pilot_rejected(proposal_data: ProposalData, make_proposal: MakeProposal) -> None:
    data = proposal_data("helpdesk-assistant")
    data["pilot_duration_days"] = 7
    assert "pilot_duration_days: Input should be greater than or equal to 14" in problems_of(
        make_proposal, data)


def test_duration_above_policy_limit(proposal_data: ProposalData, make_proposal: MakeProposal,
                                     policy: Policy) -> None:
    data = proposal_data("helpdesk-assistant")
    data["pilot_duration_days"] = 200
    proposal = make_proposal(data)  # valid on its own; the policy sets the limit
    with pytest.raises(InputError) as exc:
        proposal.check_against(policy, "proposal.yaml")
    assert exc.value.problems == [
        "pilot_duration_days: 200 is above the deploy-or-terminate limit of 182 days"]
    data["pilot_duration_days"] = 182
    make_proposal(data).check_against(policy, "proposal.yaml")


def test_unknown_review_role(proposal_data: ProposalData, make_proposal: MakeProposal,
                             policy: Policy) -> None:
    data = proposal_data("clinical-documentation")
    data["reviews"] = ["security", "legal"]
    data["pilot_duration_days"] = 400
    with pytest.raises(InputError) as exc:
        make_proposal(data).check_against(policy, "clinical.yaml")
    assert exc.value.problems == [
        "pilot_duration_days: 400 is above the deploy-or-terminate limit of 182 days",
        f"reviews[1]: unknown role 'legal' (roles defined: {ROLES})",
    ]
    assert str(exc.value).startswith("clinical.yaml:\n  - pilot_duration_days")


def test_invalid_yaml_names_line_and_column() -> None:
    text = "title: Broken\nproblem: x\nportfolio: it\n  risk_tier: low\n"
    with pytest.raises(InputError, match=r"^p\.yaml: line 4, column 12: invalid YAML"):
        parse_proposal(text, "p.yaml")
