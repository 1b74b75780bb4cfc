"""The value review as pure rules: the policy's `value.review`, when a review is due, what a
settled one decided and what it does to the pilot, how `policy diff` words a change of it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lifecycle.errors import InputError
from lifecycle.gates import GateStatus, Verdict, check_satisfiable
from lifecycle.outcomes import NextStep, Step, next_step
from lifecycle.policy import Policy, ValueReview
from lifecycle.policy_versions import canonical, describe_changes, stamp
from lifecycle.proposal import Proposal
from lifecycle.stages import Stage
from lifecycle.value_review import (
    PastReview,
    ReviewOutcome,
    is_due,
    review_due,
    review_outcome,
)

MakePolicy = Callable[[dict[str, Any]], Policy]
LIVE = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
RULE = ValueReview(after_days=90, every_days=180, adjust_after_days=60, approvers={"finance": 1})


def problems(make_policy: MakePolicy, data: dict[str, Any]) -> str:
    with pytest.raises(InputError) as exc:
        make_policy(data)
    return "\n".join(exc.value.problems)


# ---------------------------------------------------------------- policy


def test_the_example_policy_reviews_value_and_its_gate_follows_the_review(
    policy_data: dict[str, Any], make_policy: MakePolicy
) -> None:
    policy = make_policy(policy_data)
    review = policy.value.review
    assert review is not None
    assert (review.after_days, review.every_days, review.adjust_after_days) == (90, 180, 60)
    gate = policy.gate(Stage.PRODUCTION)
    assert gate.approvers == {"finance": 1, "operations": 1}
    assert gate.deadline_days == 14
    assert (gate.on_timeout.action, gate.on_timeout.to_role, gate.on_timeout.days) == (
        "escalate",
        "cio",
        7,
    )
    assert gate.open_on_entry is False
    # The stage gates are as they were: production is not among them.
    assert Stage.PRODUCTION not in policy.gates


@pytest.mark.parametrize(
    ("review", "expected"),
    [
        ({"approvers": {"finance": 1}}, "value.review.after_days: Field required"),
        (
            {"after_days": 0, "approvers": {"finance": 1}},
            "value.review.after_days: Input should be greater than or equal to 1",
        ),
        ({"after_days": 90}, "value.review.approvers: Field required"),
        (
            {"after_days": 90, "approvers": {"finance": 0}},
            "value.review.approvers: role 'finance' needs a quorum of at least 1",
        ),
        (
            {"after_days": 90, "approvers": {"treasury": 1}},
            "value.review.approvers: unknown role 'treasury' (roles defined: ",
        ),
        (
            {"after_days": 90, "approvers": {"architecture": 3}},
            "value.review.approvers.architecture: quorum 3 but the role has 2 member(s)",
        ),
        (
            {"after_days": 90, "every_days": 30, "adjust_after_days": 60, "approvers": {"cio": 1}},
            "adjust_after_days (60) is after every_days (30): an adjusted pilot is reviewed "
            "again sooner, not later",
        ),
        (
            {"after_days": 90, "approvers": {"cio": 1}, "on_timeout": {"action": "terminate"}},
            "value.review.on_timeout: terminate is not allowed: a value review "
            "nobody answers never retires a pilot",
        ),
        (
            {
                "after_days": 90,
                "approvers": {"cio": 1},
                "on_timeout": {"action": "escalate", "to_role": "board", "days": 3},
            },
            "value.review.on_timeout.to_role: unknown role 'board'",
        ),
        (
            {"after_days": 90, "approvers": {"cio": 1}, "every": 10},
            "value.review.every: Extra inputs are not permitted",
        ),
        (
            {"after_days": 90, "approvers": {"cio": 1}, "reminders": [0.5, 1.2]},
            "value.review.reminders: reminder point 1.2 must be between 0 and 1",
        ),
    ],
)
def test_a_bad_review_is_refused_naming_the_field(
    policy_data: dict[str, Any], make_policy: MakePolicy, review: dict[str, Any], expected: str
) -> None:
    policy_data["value"]["review"] = review
    assert expected in problems(make_policy, policy_data)


def test_without_a_review_the_digest_is_what_it_was(
    policy_data: dict[str, Any], make_policy: MakePolicy
) -> None:
    del policy_data["value"]["review"]
    policy = make_policy(policy_data)
    assert policy.value.review is None
    # No "review" key in the canonical text: a policy that never had reviews keeps its digest.
    assert '"review"' not in canonical(policy)
    # The production gate of a policy without reviews (an open review left from before):
    # programme office, one, default deadline; its expiry sustains (see below).
    assert policy.gate(Stage.PRODUCTION).approvers == {"programme_office": 1}


def test_policy_diff_words_the_review(policy_data: dict[str, Any], make_policy: MakePolicy) -> None:
    on = make_policy(policy_data)
    del policy_data["value"]["review"]
    off = make_policy(policy_data)
    assert stamp(on).digest != stamp(off).digest
    line = (
        "value review 90 days after production, then every 180 days (60 after an adjust); "
        "sustained by finance 1, operations 1; one retire retires; 14 days to answer, then "
        "escalate 7 days to cio"
    )
    assert describe_changes(off, on) == [f"value reviews are on: {line}"]
    assert describe_changes(on, off) == [
        "value reviews are off (pilots in production are no longer reviewed)"
    ]
    policy_data["value"]["review"] = {"after_days": 30, "approvers": {"finance": 1}}
    sooner = make_policy(policy_data)
    assert describe_changes(on, sooner) == [
        f"value review: {line} -> value review 30 days after production, then every 180 days "
        "(60 after an adjust); sustained by finance 1; one retire retires; 14 days to answer, "
        "then sustained and asked again"
    ]


def test_a_proposal_whose_review_cannot_be_met_is_refused_at_the_door(
    policy_data: dict[str, Any],
    make_policy: MakePolicy,
    proposal_data: Callable[[str], dict[str, Any]],
    make_proposal: Callable[[dict[str, Any]], Proposal],
) -> None:
    policy_data["value"]["review"]["approvers"] = {"cio": 1}
    policy = make_policy(policy_data)
    data = proposal_data("helpdesk-assistant")
    data["business_owner"]["slack_id"] = "U0CIO0001"  # the only cio owns it
    assert check_satisfiable(policy, make_proposal(data)) == [
        "value review in production: role cio needs 1 approver(s) but only 0 member(s) may "
        "sign off on this pilot (proposer and business owner are excluded)"
    ]


# ---------------------------------------------------------------- when it is due


def test_first_review_after_go_live_then_by_outcome() -> None:
    due = review_due(RULE, live_since=LIVE, last=None, open_review=False)
    assert due == LIVE + timedelta(days=90)
    settled = LIVE + timedelta(days=95)
    after = {
        outcome: review_due(
            RULE, live_since=LIVE, last=PastReview(settled, outcome), open_review=False
        )
        for outcome in ReviewOutcome
    }
    assert after == {
        ReviewOutcome.SUSTAINED: settled + timedelta(days=180),
        ReviewOutcome.ADJUSTED: settled + timedelta(days=60),
        ReviewOutcome.UNANSWERED: settled,  # asked again at once
        ReviewOutcome.RETIRED: None,
    }


def test_no_review_without_a_rule_a_go_live_or_while_one_is_open() -> None:
    assert review_due(None, live_since=LIVE, last=None, open_review=False) is None
    assert review_due(RULE, live_since=None, last=None, open_review=False) is None
    assert review_due(RULE, live_since=LIVE, last=None, open_review=True) is None
    # A review from before the pilot last went live does not count.
    old = PastReview(LIVE - timedelta(days=1), ReviewOutcome.SUSTAINED)
    assert review_due(RULE, live_since=LIVE, last=old, open_review=False) == LIVE + timedelta(
        days=90
    )


@given(
    st.integers(0, 2000),
    st.sampled_from([None, *ReviewOutcome]),
    st.integers(0, 800),
    st.booleans(),
    st.integers(1, 400),
    st.integers(1, 400),
)
def test_due_is_monotone_in_now_and_never_before_go_live(
    now_days: int,
    outcome: ReviewOutcome | None,
    settled_days: int,
    open_review: bool,
    every: int,
    adjust: int,
) -> None:
    rule = ValueReview(
        after_days=90,
        every_days=max(every, adjust),
        adjust_after_days=adjust,
        approvers={"finance": 1},
    )
    last = None if outcome is None else PastReview(LIVE + timedelta(days=settled_days), outcome)
    now = LIVE + timedelta(days=now_days)
    due = review_due(rule, live_since=LIVE, last=last, open_review=open_review)
    if due is not None:
        assert due >= LIVE
        assert due > LIVE or outcome is ReviewOutcome.UNANSWERED
    later = now + timedelta(days=1)
    kw: dict[str, Any] = {"live_since": LIVE, "last": last, "open_review": open_review}
    if is_due(rule, now=now, **kw):
        assert is_due(rule, now=later, **kw)  # once due, due until it is opened
    if open_review or outcome is ReviewOutcome.RETIRED:
        assert not is_due(rule, now=later, **kw)
    # An adjust always brings the next review no later than a sustain would.
    if last is not None:
        sustained = review_due(
            rule,
            live_since=LIVE,
            last=PastReview(last.settled_at, ReviewOutcome.SUSTAINED),
            open_review=False,
        )
        adjusted = review_due(
            rule,
            live_since=LIVE,
            last=PastReview(last.settled_at, ReviewOutcome.ADJUSTED),
            open_review=False,
        )
        assert adjusted is not None and sustained is not None and adjusted <= sustained


# ---------------------------------------------------------------- what it decided and does


@pytest.mark.parametrize(
    ("status", "verdicts", "expected"),
    [
        (GateStatus.APPROVED, [Verdict.APPROVE, Verdict.APPROVE], ReviewOutcome.SUSTAINED),
        (GateStatus.APPROVED, [Verdict.APPROVE, Verdict.ADJUST], ReviewOutcome.ADJUSTED),
        (GateStatus.APPROVED, ["adjust"], ReviewOutcome.ADJUSTED),
        (GateStatus.REJECTED, [Verdict.ADJUST, Verdict.REJECT], ReviewOutcome.RETIRED),
        (GateStatus.EXPIRED, [Verdict.ADJUST], ReviewOutcome.UNANSWERED),
    ],
)
def test_review_outcome(status: GateStatus, verdicts: list[Any], expected: ReviewOutcome) -> None:
    assert review_outcome(status, verdicts) is expected


def test_an_open_review_has_no_outcome() -> None:
    with pytest.raises(ValueError, match="not settled"):
        review_outcome(GateStatus.PENDING, [])


def step(status: GateStatus, pilot_stage: Stage = Stage.PRODUCTION) -> NextStep:
    return next_step(
        status,
        stage=Stage.PRODUCTION,
        target=Stage.PRODUCTION,
        pilot_stage=pilot_stage,
        on_reject="terminate",
        outcome_reason="why",
    )


def test_a_settled_review_sustains_retires_and_never_retires_by_silence() -> None:
    assert step(GateStatus.APPROVED) == NextStep(Step.SUSTAIN, Stage.PRODUCTION, "why")
    assert step(GateStatus.APPROVED).outcome == "sustained"
    assert step(GateStatus.REJECTED) == NextStep(
        Step.RETIRE, Stage.RETIRED, "retired at value review: why"
    )
    expired = step(GateStatus.EXPIRED)
    assert expired.step is Step.SUSTAIN and expired.target is Stage.PRODUCTION
    assert expired.reason == (
        "value review unanswered (why): the pilot stays in production and the review is asked again"
    )
    # Already ended (retired another way): the review is history.
    assert step(GateStatus.REJECTED, Stage.RETIRED).step is Step.NONE


@given(st.sampled_from([GateStatus.APPROVED, GateStatus.REJECTED, GateStatus.EXPIRED]))
def test_only_a_rejection_ends_a_live_pilot(status: GateStatus) -> None:
    got = step(status)
    assert (got.target is Stage.RETIRED) is (status is GateStatus.REJECTED)
    assert got.step is not Step.TERMINATE
