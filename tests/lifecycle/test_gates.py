"""Gate planning (who is asked) and evaluation (pending, approved, rejected, expired)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lifecycle.gates import (
    Ask,
    DecisionView,
    GatePlan,
    GateState,
    GateStatus,
    GateUnsatisfiable,
    RequestView,
    Verdict,
    deadline_after,
    evaluate_gate,
    plan_gate,
)
from lifecycle.policy import Policy, load_policy
from lifecycle.proposal import Proposal, load_proposal
from lifecycle.stages import Stage

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"
POLICY = load_policy(EXAMPLES_DIR / "policy.yaml")
HELPDESK = load_proposal(EXAMPLES_DIR / "helpdesk-assistant.yaml")  # low risk, internal
CLINICAL = load_proposal(EXAMPLES_DIR / "clinical-documentation.yaml")  # high, customer-facing

S = Stage
APPROVE, REJECT = Verdict.APPROVE, Verdict.REJECT
OPENED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DEADLINE = deadline_after(OPENED, 14)

PMO1, PMO2, FIN = "U0PMO0001", "U0PMO0002", "U0FIN0001"
ARC1, ARC2, CIO = "U0ARC0001", "U0ARC0002", "U0CIO0001"


def variant(proposal: Proposal, **changes: Any) -> Proposal:
    return Proposal.model_validate({**proposal.model_dump(mode="json"), **changes})


def person(slack_id: str) -> dict[str, str]:
    return {"name": "Someone", "slack_id": slack_id}


def with_policy(**portfolio: Any) -> Policy:
    data = POLICY.model_dump(mode="json")
    data["portfolio"].update(portfolio)
    return Policy.model_validate(data)


# ---------------------------------------------------------------- plan_gate


def test_plan_asks_every_eligible_member_per_role() -> None:
    plan = plan_gate(POLICY, HELPDESK, S.PROPOSAL, S.PILOT)
    assert (plan.stage, plan.target) == (S.PROPOSAL, S.PILOT)
    assert plan.quorum == {"programme_office": 1, "finance": 1}
    assert set(plan.asks) == {Ask(PMO1, "programme_office"), Ask(PMO2, "programme_office"),
                              Ask(FIN, "finance")}
    assert len(plan.asks) == 3
    assert plan.any_rejection_rejects is True
    assert plan.excluded == {"U0PRO0001", "U0BIZ0001"}


def test_low_risk_internal_pilot_gets_no_extras() -> None:
    assert plan_gate(POLICY, HELPDESK, S.READINESS_REVIEW, S.INTERNAL_ROLLOUT).quorum == {
        "architecture": 1, "operations": 1}
    assert plan_gate(POLICY, HELPDESK, S.CUSTOMER_ROLLOUT, S.PRODUCTION).quorum == {
        "operations": 1, "programme_office": 1}


def test_high_risk_tier_adds_its_approvers() -> None:
    high = variant(CLINICAL, customer_facing=False, reviews=[])
    assert plan_gate(POLICY, high, S.READINESS_REVIEW, S.INTERNAL_ROLLOUT).quorum == {
        "architecture": 1, "operations": 1, "security": 1, "compliance": 1}
    assert plan_gate(POLICY, high, S.INTERNAL_ROLLOUT, S.CUSTOMER_ROLLOUT).quorum == {
        "programme_office": 1, "operations": 1, "security": 1, "compliance": 1}
    assert plan_gate(POLICY, high, S.CUSTOMER_ROLLOUT, S.PRODUCTION).quorum == {
        "operations": 1, "programme_office": 1, "security": 1, "compliance": 1}
    # No extras at gates the tier does not name.
    assert plan_gate(POLICY, high, S.PROPOSAL, S.PILOT).quorum == {
        "programme_office": 1, "finance": 1}


def test_customer_facing_adds_its_approvers_only_around_customer_rollout() -> None:
    facing = variant(HELPDESK, customer_facing=True)
    assert plan_gate(POLICY, facing, S.INTERNAL_ROLLOUT, S.CUSTOMER_ROLLOUT).quorum == {
        "programme_office": 1, "operations": 1, "security": 1, "compliance": 1}
    assert plan_gate(POLICY, facing, S.CUSTOMER_ROLLOUT, S.PRODUCTION).quorum == {
        "operations": 1, "programme_office": 1, "security": 1, "compliance": 1}
    assert plan_gate(POLICY, facing, S.READINESS_REVIEW, S.INTERNAL_ROLLOUT).quorum == {
        "architecture": 1, "operations": 1}


def test_proposal_reviews_join_readiness_and_the_gate_before_customers() -> None:
    reviewed = variant(HELPDESK, reviews=["clinical_workflow"])
    for stage, target in [(S.READINESS_REVIEW, S.INTERNAL_ROLLOUT),
                          (S.INTERNAL_ROLLOUT, S.CUSTOMER_ROLLOUT)]:
        plan = plan_gate(POLICY, reviewed, stage, target)
        assert plan.quorum["clinical_workflow"] == 1
        assert Ask("U0CLN0001", "clinical_workflow") in plan.asks
    for stage, target in [(S.PROPOSAL, S.PILOT), (S.CUSTOMER_ROLLOUT, S.PRODUCTION)]:
        assert "clinical_workflow" not in plan_gate(POLICY, reviewed, stage, target).quorum


def test_extras_take_the_larger_quorum_not_the_sum() -> None:
    data = POLICY.model_dump(mode="json")
    data["risk_tiers"]["high"]["extra_approvers"]["readiness_review"]["architecture"] = 2
    policy = Policy.model_validate(data)
    high = variant(CLINICAL, customer_facing=False, reviews=["architecture"])
    quorum = plan_gate(policy, high, S.READINESS_REVIEW, S.INTERNAL_ROLLOUT).quorum
    assert quorum["architecture"] == 2  # base 1, tier 2, review 1 -> 2


def test_separation_of_duties_excludes_proposer_and_business_owner() -> None:
    owned = variant(HELPDESK, proposer=person(PMO1))
    plan = plan_gate(POLICY, owned, S.PROPOSAL, S.PILOT)
    assert PMO1 in plan.excluded
    assert [a.approver for a in plan.asks if a.role == "programme_office"] == [PMO2]

    data = HELPDESK.model_dump(mode="json")
    data["business_owner"]["slack_id"] = PMO2
    plan = plan_gate(POLICY, Proposal.model_validate(data), S.PROPOSAL, S.PILOT)
    assert PMO2 in plan.excluded
    assert all(a.approver != PMO2 for a in plan.asks)


def test_separation_of_duties_can_make_a_gate_unsatisfiable() -> None:
    proposed_by_finance = variant(HELPDESK, proposer=person(FIN))
    with pytest.raises(GateUnsatisfiable,
                       match=r"role finance needs 1 approver\(s\) but only 0 member\(s\)"):
        plan_gate(POLICY, proposed_by_finance, S.PROPOSAL, S.PILOT)

    data = HELPDESK.model_dump(mode="json")
    data["proposer"]["slack_id"] = PMO1
    data["business_owner"]["slack_id"] = PMO2
    with pytest.raises(GateUnsatisfiable, match="role programme_office"):
        plan_gate(POLICY, Proposal.model_validate(data), S.PROPOSAL, S.PILOT)


def test_separation_of_duties_can_be_switched_off() -> None:
    policy = with_policy(separation_of_duties=False)
    plan = plan_gate(policy, variant(HELPDESK, proposer=person(FIN)), S.PROPOSAL, S.PILOT)
    assert plan.excluded == frozenset()
    assert Ask(FIN, "finance") in plan.asks


def test_member_of_two_roles_is_asked_once_per_role() -> None:
    data = POLICY.model_dump(mode="json")
    data["roles"]["finance"] = [FIN, PMO1]
    policy = Policy.model_validate(data)
    asks = plan_gate(policy, HELPDESK, S.PROPOSAL, S.PILOT).asks
    assert [a.role for a in asks if a.approver == PMO1] == ["programme_office", "finance"]


# ---------------------------------------------------------------- evaluate_gate


def setup(plan: GatePlan, **state: Any) -> tuple[GateState, list[RequestView]]:
    gate = GateState(quorum=dict(plan.quorum), deadline=DEADLINE,
                     any_rejection_rejects=plan.any_rejection_rejects, excluded=plan.excluded)
    if state:
        gate = GateState(**{**gate.__dict__, **state})
    requests = [RequestView(i, a.approver, a.role) for i, a in enumerate(plan.asks, start=1)]
    return gate, requests


PROPOSAL_PLAN = plan_gate(POLICY, HELPDESK, S.PROPOSAL, S.PILOT)


def decide(requests: list[RequestView], approver: str, verdict: Verdict, *,
           role: str | None = None, at: datetime = OPENED + timedelta(days=1),
           reason: str | None = None) -> DecisionView:
    request = next(r for r in requests if r.approver == approver and role in (None, r.role))
    return DecisionView(request.request_id, approver, verdict, at, reason)


NOW = OPENED + timedelta(days=2)


def test_pending_without_decisions() -> None:
    state, requests = setup(PROPOSAL_PLAN)
    ev = evaluate_gate(state, requests, [], NOW)
    assert ev.status is GateStatus.PENDING and not ev.resolved
    assert ev.missing == {"programme_office": 1, "finance": 1}


def test_approved_when_every_role_meets_its_quorum() -> None:
    state, requests = setup(PROPOSAL_PLAN)
    one = [decide(requests, PMO1, APPROVE)]
    assert evaluate_gate(state, requests, one, NOW).status is GateStatus.PENDING
    both = one + [decide(requests, FIN, APPROVE)]
    ev = evaluate_gate(state, requests, both, NOW)
    assert ev.status is GateStatus.APPROVED and ev.resolved
    assert ev.approvals == {"programme_office": [PMO1], "finance": [FIN]}
    assert ev.missing == {"programme_office": 0, "finance": 0}
    assert ev.reasons == ["quorum reached: programme_office 1/1, finance 1/1"]


def test_approvals_in_one_role_do_not_fill_another() -> None:
    state, requests = setup(PROPOSAL_PLAN)
    ev = evaluate_gate(state, requests, [decide(requests, PMO1, APPROVE),
                                         decide(requests, PMO2, APPROVE)], NOW)
    assert ev.status is GateStatus.PENDING
    assert ev.approvals["programme_office"] == [PMO1, PMO2]
    assert ev.missing == {"programme_office": 0, "finance": 1}


def test_same_approver_counts_once_per_role() -> None:
    state = GateState(quorum={"architecture": 2}, deadline=DEADLINE)
    requests = [RequestView(1, ARC1, "architecture"), RequestView(2, ARC2, "architecture"),
                RequestView(3, ARC1, "architecture", round=1)]
    twice = [DecisionView(1, ARC1, APPROVE, NOW), DecisionView(1, ARC1, APPROVE, NOW),
             DecisionView(3, ARC1, APPROVE, NOW)]
    ev = evaluate_gate(state, requests, twice, NOW)
    assert ev.status is GateStatus.PENDING
    assert ev.approvals == {"architecture": [ARC1]} and ev.missing == {"architecture": 1}
    ev = evaluate_gate(state, requests, [*twice, DecisionView(2, ARC2, APPROVE, NOW)], NOW)
    assert ev.status is GateStatus.APPROVED


def test_one_rejection_rejects() -> None:
    state, requests = setup(PROPOSAL_PLAN)
    decisions = [decide(requests, PMO1, APPROVE),
                 decide(requests, FIN, REJECT, reason="no budget this year")]
    ev = evaluate_gate(state, requests, decisions, NOW)
    assert ev.status is GateStatus.REJECTED
    assert ev.reasons == [f"{FIN} rejected: no budget this year"]
    assert [d.approver for d in ev.rejections] == [FIN]


def test_rejection_wins_over_a_reached_quorum() -> None:
    state, requests = setup(PROPOSAL_PLAN)
    decisions = [decide(requests, PMO1, APPROVE), decide(requests, FIN, APPROVE),
                 decide(requests, PMO2, REJECT)]
    assert evaluate_gate(state, requests, decisions, NOW).status is GateStatus.REJECTED


def test_without_any_rejection_rejects_only_an_unreachable_quorum_rejects() -> None:
    state = GateState(quorum={"architecture": 1}, deadline=DEADLINE, any_rejection_rejects=False)
    requests = [RequestView(1, ARC1, "architecture"), RequestView(2, ARC2, "architecture")]
    first = [DecisionView(1, ARC1, REJECT, NOW, "not ready")]
    assert evaluate_gate(state, requests, first, NOW).status is GateStatus.PENDING
    ev = evaluate_gate(state, requests, [*first, DecisionView(2, ARC2, REJECT, NOW)], NOW)
    assert ev.status is GateStatus.REJECTED
    assert ev.reasons[-1] == "quorum for architecture can no longer be reached"
    # The other one approving instead decides the gate.
    ev = evaluate_gate(state, requests, [*first, DecisionView(2, ARC2, APPROVE, NOW)], NOW)
    assert ev.status is GateStatus.APPROVED


def test_quorum_of_two_is_unreachable_after_one_rejection_of_two_members() -> None:
    state = GateState(quorum={"architecture": 2}, deadline=DEADLINE, any_rejection_rejects=False)
    requests = [RequestView(1, ARC1, "architecture"), RequestView(2, ARC2, "architecture")]
    ev = evaluate_gate(state, requests, [DecisionView(1, ARC1, REJECT, NOW)], NOW)
    assert ev.status is GateStatus.REJECTED


def test_decisions_after_the_deadline_are_ignored() -> None:
    state, requests = setup(PROPOSAL_PLAN)
    late = DEADLINE + timedelta(seconds=1)
    decisions = [decide(requests, PMO1, APPROVE, at=late), decide(requests, FIN, APPROVE, at=late)]
    ev = evaluate_gate(state, requests, decisions, late)
    assert ev.status is GateStatus.EXPIRED
    assert [why for _, why in ev.ignored] == ["decided after the deadline"] * 2
    assert ev.reasons == ["deadline passed with programme_office 1 short, finance 1 short"]
    # A rejection after the deadline is ignored too.
    ev = evaluate_gate(state, requests, [decide(requests, FIN, REJECT, at=late)], late)
    assert ev.status is GateStatus.EXPIRED


def test_decision_exactly_at_the_deadline_counts() -> None:
    state, requests = setup(PROPOSAL_PLAN)
    decisions = [decide(requests, PMO1, APPROVE, at=DEADLINE),
                 decide(requests, FIN, APPROVE, at=DEADLINE)]
    ev = evaluate_gate(state, requests, decisions, DEADLINE + timedelta(days=1))
    assert ev.status is GateStatus.APPROVED


def test_expired_only_after_the_deadline() -> None:
    state, requests = setup(PROPOSAL_PLAN)
    partial = [decide(requests, PMO1, APPROVE)]
    assert evaluate_gate(state, requests, partial, DEADLINE).status is GateStatus.PENDING
    ev = evaluate_gate(state, requests, partial, DEADLINE + timedelta(microseconds=1))
    assert ev.status is GateStatus.EXPIRED
    assert ev.reasons == ["deadline passed with finance 1 short"]


def test_excluded_approvers_are_ignored() -> None:
    state = GateState(quorum={"finance": 1}, deadline=DEADLINE, excluded=frozenset({FIN}))
    requests = [RequestView(1, FIN, "finance"), RequestView(2, "U0FIN0002", "finance")]
    ev = evaluate_gate(state, requests, [DecisionView(1, FIN, APPROVE, NOW)], NOW)
    assert ev.status is GateStatus.PENDING
    assert [why for _, why in ev.ignored] == ["separation of duties: proposer or business owner"]
    # An excluded approver's rejection does not reject either.
    ev = evaluate_gate(state, requests, [DecisionView(1, FIN, REJECT, NOW)], NOW)
    assert ev.status is GateStatus.PENDING


def test_decision_by_someone_other_than_the_requested_approver_is_ignored() -> None:
    state, requests = setup(PROPOSAL_PLAN)
    fin_request = next(r for r in requests if r.approver == FIN)
    forged = DecisionView(fin_request.request_id, PMO1, APPROVE, NOW)
    unknown = DecisionView(999, FIN, APPROVE, NOW)
    ev = evaluate_gate(state, requests, [decide(requests, PMO1, APPROVE), forged, unknown], NOW)
    assert ev.status is GateStatus.PENDING
    assert ev.approvals["finance"] == []
    assert [why for _, why in ev.ignored] == ["not a request made of this approver"] * 2
    # A forged rejection does not reject.
    forged_reject = DecisionView(fin_request.request_id, PMO2, REJECT, NOW)
    assert evaluate_gate(state, requests, [forged_reject], NOW).status is GateStatus.PENDING


def test_escalation_role_approval_decides() -> None:
    extended = DEADLINE + timedelta(days=5)
    state, requests = setup(PROPOSAL_PLAN, escalation_role="cio", deadline=extended)
    requests.append(RequestView(100, CIO, "cio", round=1))
    ev = evaluate_gate(state, requests, [DecisionView(100, CIO, APPROVE, extended)], extended)
    assert ev.status is GateStatus.APPROVED
    assert ev.reasons == [f"approved on escalation by {CIO}"]
    # Without an escalation on record the same answer decides nothing.
    state, _ = setup(PROPOSAL_PLAN, deadline=extended)
    ev = evaluate_gate(state, requests, [DecisionView(100, CIO, APPROVE, extended)], extended)
    assert ev.status is GateStatus.PENDING
    # An escalation approval does not override a rejection.
    state, _ = setup(PROPOSAL_PLAN, escalation_role="cio", deadline=extended)
    ev = evaluate_gate(state, requests, [decide(requests, FIN, REJECT),
                                         DecisionView(100, CIO, APPROVE, extended)], extended)
    assert ev.status is GateStatus.REJECTED


def test_firm_roles_are_the_pilots_own_reviews_and_the_guards_before_customers() -> None:
    entry = plan_gate(POLICY, CLINICAL, S.INTERNAL_ROLLOUT, S.CUSTOMER_ROLLOUT)
    assert entry.firm == {"security", "compliance", "operations", "clinical_workflow"}
    assert plan_gate(POLICY, HELPDESK, S.INTERNAL_ROLLOUT, S.CUSTOMER_ROLLOUT).firm == set()
    assert PROPOSAL_PLAN.firm == set()


def test_escalation_never_waives_security_compliance_or_operations() -> None:
    plan = plan_gate(POLICY, CLINICAL, S.INTERNAL_ROLLOUT, S.CUSTOMER_ROLLOUT)
    extended = DEADLINE + timedelta(days=7)
    state, requests = setup(plan, escalation_role="cio", deadline=extended, firm=plan.firm)
    requests.append(RequestView(100, CIO, "cio", round=1))
    cio = DecisionView(100, CIO, APPROVE, extended)
    ev = evaluate_gate(state, requests, [cio], extended)
    assert ev.status is GateStatus.PENDING  # the CIO cannot stand in for security & co.
    firm_answers = [decide(requests, a.approver, APPROVE, role=a.role) for a in plan.asks
                    if a.role in plan.firm]
    ev = evaluate_gate(state, requests, [*firm_answers, cio], extended)
    assert ev.status is GateStatus.APPROVED  # ...but may stand in for the programme office
    assert ev.missing["programme_office"] == 1


# ---------------------------------------------------------------- properties

PLANS = [PROPOSAL_PLAN, plan_gate(POLICY, CLINICAL, S.READINESS_REVIEW, S.INTERNAL_ROLLOUT),
         plan_gate(POLICY, CLINICAL, S.CUSTOMER_ROLLOUT, S.PRODUCTION)]


@st.composite
def late_decisions(draw: st.DrawFn) -> tuple[GatePlan, bool, list[DecisionView], datetime]:
    plan = draw(st.sampled_from(PLANS))
    any_rejection_rejects = draw(st.booleans())
    n = len(plan.asks)
    picks = draw(st.lists(st.tuples(st.integers(1, n), st.sampled_from(list(Verdict)),
                                    st.integers(1, 90 * 86400)), max_size=2 * n))
    decisions = [DecisionView(i, plan.asks[i - 1].approver, verdict,
                              DEADLINE + timedelta(seconds=secs)) for i, verdict, secs in picks]
    now = DEADLINE + timedelta(seconds=draw(st.integers(-30 * 86400, 120 * 86400)))
    return plan, any_rejection_rejects, decisions, now


@given(late_decisions())
def test_decisions_after_the_deadline_never_decide(case: tuple[GatePlan, bool,
                                                               list[DecisionView], datetime]
                                                   ) -> None:
    plan, any_rejection_rejects, decisions, now = case
    state, requests = setup(plan, any_rejection_rejects=any_rejection_rejects)
    ev = evaluate_gate(state, requests, decisions, now)
    assert ev.status is (GateStatus.EXPIRED if now > DEADLINE else GateStatus.PENDING)
    assert all(v == [] for v in ev.approvals.values())
    assert ev.missing == plan.quorum
    assert len(ev.ignored) == len(decisions)


@st.composite
def timely_decisions(draw: st.DrawFn) -> tuple[GatePlan, list[DecisionView], datetime, int]:
    plan = draw(st.sampled_from(PLANS))
    n = len(plan.asks)
    picks = draw(st.lists(st.tuples(st.integers(1, n), st.sampled_from(list(Verdict)),
                                    st.integers(0, 14 * 86400)), max_size=2 * n,
                          unique_by=lambda t: t[0]))
    decisions = [DecisionView(i, plan.asks[i - 1].approver, verdict,
                              OPENED + timedelta(seconds=secs)) for i, verdict, secs in picks]
    now = OPENED + timedelta(seconds=draw(st.integers(0, 30 * 86400)))
    return plan, decisions, now, draw(st.integers(0, 2**32))


@given(timely_decisions())
def test_evaluation_matches_a_simple_model_and_ignores_order(
        case: tuple[GatePlan, list[DecisionView], datetime, int]) -> None:
    plan, decisions, now, seed = case
    state, requests = setup(plan)
    ev = evaluate_gate(state, requests, decisions, now)
    shuffled = list(decisions)
    random.Random(seed).shuffle(shuffled)
    assert evaluate_gate(state, requests, shuffled, now).status is ev.status
    # Reference model for an any-rejection gate with every decision in time.
    role_of = {r.request_id: r.role for r in requests}
    approvers: dict[str, set[str]] = {role: set() for role in plan.quorum}
    for d in decisions:
        # a value review's Adjust counts toward the quorum as an approval does
        if d.verdict in (APPROVE, Verdict.ADJUST):
            approvers[role_of[d.request_id]].add(d.approver)
    if any(d.verdict is REJECT for d in decisions):
        expected = GateStatus.REJECTED
    elif all(len(approvers[r]) >= q for r, q in plan.quorum.items()):
        expected = GateStatus.APPROVED
    elif now > DEADLINE:
        expected = GateStatus.EXPIRED
    else:
        expected = GateStatus.PENDING
    assert ev.status is expected


def test_plan_with_reviews_from_the_example_is_satisfiable(policy: Policy) -> None:
    plan = plan_gate(policy, CLINICAL, S.READINESS_REVIEW, S.INTERNAL_ROLLOUT)
    assert plan.quorum == {"architecture": 1, "operations": 1, "security": 1, "compliance": 1,
                           "clinical_workflow": 1}

