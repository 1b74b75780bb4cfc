"""Policy loading: the example loads, and every mistake names the field and what is allowed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lifecycle.errors import InputError
from lifecycle.policy import Policy, RiskTier, load_policy, parse_policy
from lifecycle.stages import FORWARD, Stage

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"

ROLES = ("architecture, cio, clinical_workflow, compliance, finance, operations, "
         "programme_office, security")

MakePolicy = Callable[[dict[str, Any]], Policy]


def problems_of(make_policy: MakePolicy, data: dict[str, Any]) -> str:
    with pytest.raises(InputError) as exc:
        make_policy(data)
    assert exc.value.source == "policy.yaml"
    assert str(exc.value).startswith("policy.yaml:")
    return "\n".join(exc.value.problems)


def test_example_policy_loads() -> None:
    policy = load_policy(EXAMPLES_DIR / "policy.yaml")
    assert set(policy.gates) == set(FORWARD)
    assert policy.members("finance") == ["U0FIN0001"]
    assert policy.portfolio.max_active_pilots == 5
    assert policy.portfolio.cap_for("anything") == 5
    assert policy.portfolio.deploy_or_terminate_days == 182
    assert policy.gate(Stage.READINESS_REVIEW).on_timeout.to_role == "cio"
    assert policy.gate(Stage.PILOT).open_on_entry is False
    high = policy.risk_tiers[RiskTier.HIGH].extra_approvers[Stage.CUSTOMER_ROLLOUT]
    assert high == {"security": 1, "compliance": 1, "operations": 1}


def test_invalid_yaml_names_line_and_column() -> None:
    text = "roles:\n  finance: [U0FIN0001\ngates: {}\n"
    with pytest.raises(InputError) as exc:
        parse_policy(text, "p.yaml")
    assert str(exc.value) == ("p.yaml: line 3, column 6: invalid YAML "
                              "(expected ',' or ']', but got ':')")


def test_tab_indentation_names_line_and_column() -> None:
    with pytest.raises(InputError, match=r"line 2, column 1: invalid YAML \(found character"):
        parse_policy("roles:\n\tfinance: [U0FIN0001]\n", "p.yaml")


@pytest.mark.parametrize("text", ["", "- a\n- b\n", "just a string\n"])
def test_top_level_must_be_a_mapping(text: str) -> None:
    with pytest.raises(InputError, match="expected a mapping of fields at the top level"):
        parse_policy(text, "p.yaml")


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"missing\.yaml: cannot read the file"):
        load_policy(tmp_path / "missing.yaml")


def test_unknown_role_in_gate_lists_defined_roles(policy_data: dict[str, Any],
                                                  make_policy: MakePolicy) -> None:
    policy_data["gates"]["proposal"]["approvers"]["legal"] = 1
    msg = problems_of(make_policy, policy_data)
    assert f"gates.proposal.approvers: unknown role 'legal' (roles defined: {ROLES})" in msg


def test_unknown_escalation_role(policy_data: dict[str, Any], make_policy: MakePolicy) -> None:
    policy_data["gates"]["readiness_review"]["on_timeout"]["to_role"] = "board"
    msg = problems_of(make_policy, policy_data)
    assert (f"gates.readiness_review.on_timeout.to_role: unknown role 'board' "
            f"(roles defined: {ROLES})") in msg


@pytest.mark.parametrize("where", ["risk_tiers", "customer_facing"])
def test_unknown_role_in_extra_approvers(policy_data: dict[str, Any], make_policy: MakePolicy,
                                         where: str) -> None:
    rules = policy_data["risk_tiers"]["high"] if where == "risk_tiers" else policy_data[where]
    rules["extra_approvers"]["customer_rollout"]["legal"] = 1
    prefix = "risk_tiers.high" if where == "risk_tiers" else "customer_facing"
    msg = problems_of(make_policy, policy_data)
    assert (f"{prefix}.extra_approvers.customer_rollout: unknown role 'legal' "
            f"(roles defined: {ROLES})") in msg


def test_quorum_larger_than_role(policy_data: dict[str, Any], make_policy: MakePolicy) -> None:
    policy_data["gates"]["proposal"]["approvers"]["finance"] = 2
    msg = problems_of(make_policy, policy_data)
    assert "gates.proposal.approvers.finance: quorum 2 but the role has 1 member(s)" in msg


@pytest.mark.parametrize("where", ["risk_tiers", "customer_facing"])
def test_extra_quorum_larger_than_role(policy_data: dict[str, Any], make_policy: MakePolicy,
                                       where: str) -> None:
    # Otherwise every high-risk (or customer-facing) pilot fails at its gate weeks later.
    rules = policy_data["risk_tiers"]["high"] if where == "risk_tiers" else policy_data[where]
    rules["extra_approvers"]["customer_rollout"]["security"] = 3
    prefix = "risk_tiers.high" if where == "risk_tiers" else "customer_facing"
    msg = problems_of(make_policy, policy_data)
    assert (f"{prefix}.extra_approvers.customer_rollout.security: quorum 3 but the role has "
            f"1 member(s)") in msg


def test_zero_quorum(policy_data: dict[str, Any], make_policy: MakePolicy) -> None:
    policy_data["gates"]["pilot"]["approvers"]["programme_office"] = 0
    msg = problems_of(make_policy, policy_data)
    assert ("gates.pilot.approvers: role 'programme_office' needs a quorum of at least 1, "
            "got 0") in msg


def test_zero_extra_quorum(policy_data: dict[str, Any], make_policy: MakePolicy) -> None:
    policy_data["risk_tiers"]["high"]["extra_approvers"]["readiness_review"]["security"] = 0
    msg = problems_of(make_policy, policy_data)
    assert ("risk_tiers.high.extra_approvers: readiness_review.security: needs a quorum of at "
            "least 1, got 0") in msg


def test_non_slack_user_id(policy_data: dict[str, Any], make_policy: MakePolicy) -> None:
    policy_data["roles"]["finance"] = ["alice@example.com"]
    msg = problems_of(make_policy, policy_data)
    assert ("roles: role 'finance': 'alice@example.com' is not a Slack user id (like U0123ABCD)"
            in msg)


def test_non_slack_channel_id(policy_data: dict[str, Any], make_policy: MakePolicy) -> None:
    policy_data["portfolio"]["digest_channel"] = "#portfolio"
    msg = problems_of(make_policy, policy_data)
    assert "portfolio.digest_channel: '#portfolio' is not a Slack channel id" in msg


def test_member_listed_twice_and_empty_role(policy_data: dict[str, Any],
                                            make_policy: MakePolicy) -> None:
    policy_data["roles"]["finance"] = ["U0FIN0001", "U0FIN0001"]
    assert "role 'finance' lists a member twice" in problems_of(make_policy, policy_data)
    policy_data["roles"]["finance"] = []
    assert "role 'finance' has no members" in problems_of(make_policy, policy_data)


def test_escalate_without_to_role(policy_data: dict[str, Any], make_policy: MakePolicy) -> None:
    policy_data["gates"]["readiness_review"]["on_timeout"] = {"action": "escalate", "days": 5}
    msg = problems_of(make_policy, policy_data)
    assert ("gates.readiness_review.on_timeout: escalate needs to_role "
            "(the role asked after the deadline)") in msg


def test_extend_without_days_and_terminate_with_days(policy_data: dict[str, Any],
                                                     make_policy: MakePolicy) -> None:
    policy_data["gates"]["pilot"]["on_timeout"] = {"action": "extend"}
    assert "gates.pilot.on_timeout: extend needs days" in problems_of(make_policy, policy_data)
    policy_data["gates"]["pilot"]["on_timeout"] = {"action": "terminate", "days": 3}
    assert ("gates.pilot.on_timeout: terminate takes neither to_role nor days"
            in problems_of(make_policy, policy_data))


def test_unknown_timeout_action(policy_data: dict[str, Any], make_policy: MakePolicy) -> None:
    policy_data["gates"]["pilot"]["on_timeout"] = {"action": "ignore"}
    msg = problems_of(make_policy, policy_data)
    assert ("gates.pilot.on_timeout.action: Input should be 'terminate', 'escalate' or "
            "'extend'") in msg


def test_missing_gate(policy_data: dict[str, Any], make_policy: MakePolicy) -> None:
    del policy_data["gates"]["pilot"]
    del policy_data["gates"]["internal_rollout"]
    msg = problems_of(make_policy, policy_data)
    assert "gates: missing gate(s) for pilot, internal_rollout" in msg


def test_gate_for_terminal_stage(policy_data: dict[str, Any], make_policy: MakePolicy) -> None:
    policy_data["gates"]["production"] = {"approvers": {"operations": 1}}
    msg = problems_of(make_policy, policy_data)
    assert (
        "gates.production: production has no stage gate; its value review is set under "
        "value.review"
    ) in msg
    policy_data["gates"].pop("production")
    policy_data["gates"]["terminated"] = {"approvers": {"operations": 1}}
    assert "gates.terminated: terminated is terminal and has no gate" in problems_of(
        make_policy, policy_data
    )


def test_unknown_gate_stage(policy_data: dict[str, Any], make_policy: MakePolicy) -> None:
    policy_data["gates"]["pilott"] = {"approvers": {"operations": 1}}
    msg = problems_of(make_policy, policy_data)
    assert "gates.pilott" in msg and "'readiness_review'" in msg


def test_send_back_where_impossible(policy_data: dict[str, Any], make_policy: MakePolicy) -> None:
    policy_data["gates"]["proposal"]["on_reject"] = "send_back"
    msg = problems_of(make_policy, policy_data)
    assert ("gates.proposal.on_reject: send_back is not possible from proposal (possible from "
            "readiness_review, internal_rollout, customer_rollout)") in msg


def test_unknown_field_is_named(policy_data: dict[str, Any], make_policy: MakePolicy) -> None:
    policy_data["gates"]["pilot"]["deadline"] = 14
    msg = problems_of(make_policy, policy_data)
    assert "gates.pilot.deadline: Extra inputs are not permitted" in msg


@pytest.mark.parametrize("missing", ["security", "compliance", "operations"])
def test_high_risk_needs_guards_before_customer_rollout(policy_data: dict[str, Any],
                                                        make_policy: MakePolicy,
                                                        missing: str) -> None:
    del policy_data["risk_tiers"]["high"]["extra_approvers"]["internal_rollout"][missing]
    # operations is also in the base internal_rollout gate, so it is still guarded there.
    policy_data["gates"]["internal_rollout"]["approvers"].pop(missing, None)
    msg = problems_of(make_policy, policy_data)
    assert f"risk_tiers.high.extra_approvers.internal_rollout: must include {missing}" in msg
    assert "customer_facing.extra_approvers" not in msg


def test_missing_high_tier_needs_guards(policy_data: dict[str, Any],
                                        make_policy: MakePolicy) -> None:
    del policy_data["risk_tiers"]
    msg = problems_of(make_policy, policy_data)
    assert ("risk_tiers.high.extra_approvers.internal_rollout: must include security, "
            "compliance") in msg


def test_customer_facing_needs_guards(policy_data: dict[str, Any],
                                      make_policy: MakePolicy) -> None:
    del policy_data["customer_facing"]["extra_approvers"]["internal_rollout"]["compliance"]
    msg = problems_of(make_policy, policy_data)
    assert "customer_facing.extra_approvers.internal_rollout: must include compliance" in msg


def test_guards_in_the_base_gate_are_enough(policy_data: dict[str, Any],
                                            make_policy: MakePolicy) -> None:
    policy_data["gates"]["internal_rollout"]["approvers"] = {
        "security": 1, "compliance": 1, "operations": 1}
    del policy_data["risk_tiers"]
    del policy_data["customer_facing"]
    policy = make_policy(policy_data)
    assert policy.risk_tiers == {}


def test_several_problems_reported_at_once(policy_data: dict[str, Any],
                                           make_policy: MakePolicy) -> None:
    policy_data["gates"]["proposal"]["approvers"]["legal"] = 1
    policy_data["gates"]["pilot"]["approvers"]["board"] = 1
    msg = problems_of(make_policy, policy_data)
    assert "'legal'" in msg and "'board'" in msg


# ---------------------------------------------------------------- people: names for ids


def test_the_policy_may_name_people(policy_data: dict[str, Any], make_policy: MakePolicy) -> None:
    policy_data["people"] = {"U0FIN0001": {"name": "  Dana   Smith "}, "W0EXT0001": {"name": "Jo"}}
    policy = make_policy(policy_data)
    assert policy.name_of("U0FIN0001") == "Dana Smith"  # spaces tidied
    assert policy.name_of("W0EXT0001") == "Jo"  # not in a role: still named (e.g. an owner)
    assert policy.name_of("U0ARC0001") is None
    del policy_data["people"]
    assert make_policy(policy_data).people == {}  # optional


@pytest.mark.parametrize(
    ("people", "expected"),
    [
        ({"dana": {"name": "Dana"}}, "people: 'dana' is not a Slack user id (U or W followed by"),
        ({"U0FIN0001": {"name": ""}}, "people.U0FIN0001.name: String should have at least 1"),
        ({"U0FIN0001": {"name": "   "}}, "people.U0FIN0001.name: name is blank; write the"),
        ({"U0FIN0001": {"name": "Dana\nSmith"}}, "name holds control characters or line breaks"),
        ({"U0FIN0001": {"name": "x" * 201}}, "people.U0FIN0001.name: String should have at most"),
        ({"U0FIN0001": {"name": "Dana", "email": "d@x"}}, "people.U0FIN0001.email: Extra inputs"),
        ({"U0FIN0001": "Dana Smith"}, "people.U0FIN0001: Input should be a valid dictionary"),
    ],
)
def test_bad_people_entries_name_the_field(
    policy_data: dict[str, Any], make_policy: MakePolicy, people: Any, expected: str
) -> None:
    policy_data["people"] = people
    assert expected in problems_of(make_policy, policy_data)
