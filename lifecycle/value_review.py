"""When a pilot in production is reviewed for its value, and what a settled review was.

A pilot in production keeps its place in the register but not under the cap; the policy's
`value.review` says when its approvers look again at what it delivers (the gate's evidence:
each metric's current figure against the proposal's own baseline and target) and sustain it,
adjust it (a written note: reviewed again sooner) or retire it (a recorded end). Pure: the
sweep, `pilotgate review` and the dry run read the same answer from the same facts and `now`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from lifecycle.evidence import Evidence, Observation, metric_evidence
from lifecycle.gates import GateStatus, Verdict
from lifecycle.policy import EvidenceRules, ValueReview
from lifecycle.proposal import Proposal


class ReviewOutcome(StrEnum):
    """What a settled value review decided."""

    SUSTAINED = "sustained"
    ADJUSTED = "adjusted"
    RETIRED = "retired"
    #: the deadline passed with the quorum short: the pilot stays, the review is asked again.
    UNANSWERED = "unanswered"


@dataclass(frozen=True)
class PastReview:
    """The latest settled value review of a pilot."""

    settled_at: datetime
    outcome: ReviewOutcome


def review_outcome(status: GateStatus | str, counted: Iterable[Verdict | str]) -> ReviewOutcome:
    """A settled review's outcome from its gate status and the verdicts that counted toward
    its quorum: approved with any adjust among them is ADJUSTED (one approver's "change this"
    is not outvoted by another's "keep it"), approved otherwise SUSTAINED, rejected RETIRED,
    expired UNANSWERED."""
    value = GateStatus(status)
    if value is GateStatus.REJECTED:
        return ReviewOutcome.RETIRED
    if value is GateStatus.EXPIRED:
        return ReviewOutcome.UNANSWERED
    if value is GateStatus.APPROVED:
        if any(Verdict(v) is Verdict.ADJUST for v in counted):
            return ReviewOutcome.ADJUSTED
        return ReviewOutcome.SUSTAINED
    raise ValueError(f"gate status {value.value!r} is not settled")


def review_due(
    rule: ValueReview | None,
    *,
    live_since: datetime | None,
    last: PastReview | None,
    open_review: bool,
) -> datetime | None:
    """When the pilot's next value review is due, or None when none is:

    - no `value.review` in the policy, the pilot not live (`live_since` None), or a review
      already open: None;
    - no review since it went live: `after_days` after going live;
    - after a sustain: `every_days` after it settled; after an adjust: `adjust_after_days`;
    - after an unanswered review: at once (it settled at its deadline; it is asked again);
    - after a retirement: None (the pilot has ended).
    """
    if rule is None or live_since is None or open_review:
        return None
    if last is None or last.settled_at < live_since:
        return live_since + timedelta(days=rule.after_days)
    if last.outcome is ReviewOutcome.RETIRED:
        return None
    if last.outcome is ReviewOutcome.SUSTAINED:
        return last.settled_at + timedelta(days=rule.every_days)
    if last.outcome is ReviewOutcome.ADJUSTED:
        return last.settled_at + timedelta(days=rule.adjust_after_days)
    return last.settled_at


def is_due(
    rule: ValueReview | None,
    *,
    live_since: datetime | None,
    last: PastReview | None,
    open_review: bool,
    now: datetime,
) -> bool:
    """Whether the review is due at `now` (its due time has come)."""
    due = review_due(rule, live_since=live_since, last=last, open_review=open_review)
    return due is not None and due <= now


def value_review_evidence(
    proposal: Proposal, observations: Iterable[Observation], rules: EvidenceRules, now: datetime
) -> Evidence:
    """The realised evidence a value review shows: every success metric's current figure
    (the readiness rule: the median of the last N observations within the window) against the
    proposal's own baseline and target. A metric missing or not met is a warning, never a
    block: the review is where that is judged, so it must open either way."""
    observations = list(observations)
    metrics = [metric_evidence(m, observations, rules, now) for m in proposal.success_metrics]
    rule = (
        f"median of the last {rules.last_n} observations within the last {rules.window_days} "
        "days, in production"
    )
    found = Evidence("value_review", now, rule, metrics, [])
    return Evidence("value_review", now, rule, metrics, [], warnings=found.problems)
