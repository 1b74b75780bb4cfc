"""A policy's identity is its content, and a change is said in words.

The digest must not move when only the YAML's layout does (comments, key order, defaults
spelled out), must move when any rule does, and ignores the `version:` label (relabelling is
not a change of rules, though `diff` reports it).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lifecycle.errors import InputError
from lifecycle.policy import parse_policy
from lifecycle.policy_versions import describe_changes, stamp, tier_lines

EXAMPLE = (Path(__file__).resolve().parents[2] / "examples" / "policy.yaml").read_text()

SMALL = """
roles:
  programme_office: [U0PMO0001, U0PMO0002]
  finance: [U0FIN0001]
  security: [U0SEC0001]
  compliance: [U0CMP0001]
  operations: [U0OPS0001]
  cio: [U0CIO0001]
gates:
  proposal: {approvers: {programme_office: 1, finance: 1}}
  pilot: {approvers: {programme_office: 1}}
  readiness_review: {approvers: {operations: 1}}
  internal_rollout: {approvers: {security: 1, compliance: 1, operations: 1}}
  customer_rollout: {approvers: {operations: 1}}
"""

# The same rules, keys reordered, a comment added and two defaults written out.
SMALL_RELAID = """
# the same policy, laid out differently
gates:
  customer_rollout: {approvers: {operations: 1}}
  internal_rollout: {approvers: {operations: 1, compliance: 1, security: 1}}
  readiness_review: {approvers: {operations: 1}, deadline_days: 14}
  pilot: {approvers: {programme_office: 1}}
  proposal: {approvers: {finance: 1, programme_office: 1}, on_reject: terminate}
roles:
  cio: [U0CIO0001]
  operations: [U0OPS0001]
  compliance: [U0CMP0001]
  security: [U0SEC0001]
  finance: [U0FIN0001]
  programme_office: [U0PMO0001, U0PMO0002]
"""


def test_layout_does_not_change_the_digest() -> None:
    assert stamp(parse_policy(SMALL)).digest == stamp(parse_policy(SMALL_RELAID)).digest
    assert describe_changes(parse_policy(SMALL), parse_policy(SMALL_RELAID)) == []


def test_a_label_is_not_a_rule_change_but_is_reported() -> None:
    labelled = parse_policy("version: 2027-Q1\n" + SMALL)
    assert stamp(labelled).digest == stamp(parse_policy(SMALL)).digest
    assert stamp(labelled).label == "2027-Q1"
    assert str(stamp(labelled)) == f"2027-Q1 ({stamp(labelled).digest[:12]})"
    assert describe_changes(parse_policy(SMALL), labelled) == ["label (none) -> 2027-Q1"]


def test_an_empty_label_is_refused_with_the_field_named() -> None:
    with pytest.raises(InputError) as caught:
        parse_policy('version: ""\n' + SMALL)
    assert "version" in str(caught.value)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            ("proposal: {approvers: {programme_office: 1, finance: 1}}",
             "proposal: {approvers: {programme_office: 2, finance: 1}}"),
            "gate leaving proposal: quorum finance 1, programme_office 1 -> finance 1, "
            "programme_office 2",
        ),
        (
            ("finance: [U0FIN0001]", "finance: [U0FIN0001, U0FIN0002]"),
            "role finance: U0FIN0002 join(s)",
        ),
        (
            ("pilot: {approvers: {programme_office: 1}}",
             "pilot: {approvers: {programme_office: 1}, deadline_days: 7, "
             "on_timeout: {action: escalate, to_role: cio, days: 3}}"),
            "gate leaving pilot: deadline 14 -> 7 days",
        ),
        (
            ("pilot: {approvers: {programme_office: 1}}",
             "pilot: {approvers: {programme_office: 1}, "
             "on_timeout: {action: extend, days: 5}}"),
            "gate leaving pilot: on deadline terminate -> extend once by 5 days",
        ),
    ],
)
def test_each_rule_change_moves_the_digest_and_is_said(
    edit: tuple[str, str], expected: str
) -> None:
    old = parse_policy(SMALL)
    new = parse_policy(SMALL.replace(*edit))
    assert stamp(old).digest != stamp(new).digest
    assert expected in describe_changes(old, new)


def test_portfolio_and_tier_changes_are_said() -> None:
    old = parse_policy(EXAMPLE)
    text = (
        EXAMPLE.replace("max_active_pilots: 5 ", "max_active_pilots: 3 ")
        .replace("deploy_or_terminate_days: 182", "deploy_or_terminate_days: 120")
        .replace("separation_of_duties: true", "separation_of_duties: false")
        .replace("readiness_review: {security: 1, compliance: 1}",
                 "readiness_review: {security: 1, compliance: 1, cio: 1}")
        .replace("missing_evidence: warn", "missing_evidence: block")
    )
    changes = describe_changes(old, parse_policy(text))
    assert changes == [
        "cap on active pilots per portfolio 5 -> 3",
        "deploy or terminate within 182 -> 120 days of the pilot's start",
        "separation of duties is now OFF",
        "risk tier high at the gate leaving readiness review: extra sign-offs compliance 1, "
        "security 1 -> cio 1, compliance 1, security 1",
        "evidence.missing_evidence: 'warn' -> 'block'",
    ]


def test_policy_check_lists_what_each_tier_adds() -> None:
    lines = tier_lines(parse_policy(EXAMPLE))
    assert lines[:3] == [
        "risk tier high, before leaving internal rollout: requires human_oversight_plan "
        "(Human-oversight plan (who can override or stop the system, and how); compliance "
        "confirms)",
        "risk tier high, before leaving internal rollout: requires impact_assessment "
        "(Fundamental-rights / impact assessment; compliance confirms)",
        "risk tier high, gate leaving readiness review: also compliance 1, security 1",
    ]
    assert (
        "customer-facing pilots, gate leaving customer rollout: also compliance 1, "
        "operations 1, security 1"
    ) in lines
    assert len(lines) == 7


def test_sections_not_worded_are_still_reported() -> None:
    old = parse_policy(EXAMPLE)
    new = parse_policy(
        EXAMPLE.replace("window_hours: 48", "window_hours: 24").replace(
            "- name: impact_assessment", "- name: impact_review"
        )
    )
    changes = describe_changes(old, new)
    assert "warnings.window_hours: 48 -> 24" in changes
    assert (
        "risk tier high now requires impact_review (compliance confirms, before leaving "
        "internal rollout)"
    ) in changes
    assert "risk tier high no longer requires impact_assessment" in changes


def test_naming_people_is_not_a_rule_change() -> None:
    named = parse_policy(SMALL + "people:\n  U0FIN0001: {name: Dana Smith}\n")
    assert stamp(named).digest == stamp(parse_policy(SMALL)).digest
    assert describe_changes(parse_policy(SMALL), named) == [
        "people.U0FIN0001: None -> {'name': 'Dana Smith'}"
    ]
