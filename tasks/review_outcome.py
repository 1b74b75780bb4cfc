"""What a settled value review does, in the settling transaction: a sustain or an adjust keeps
the pilot in production and schedules its next review; an unanswered review keeps it too and
is asked again; a retirement is the pilot's recorded end, the very one a termination is
(`tasks.terminate.terminate_in` with `end=retired`: stage, gates, buttons, people told,
audit rows).

Separate from tasks/value_review.py (which opens reviews through tasks.gates) so that
tasks.gates can call it without an import cycle.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from config.names import Keys
from lifecycle.gates import Verdict
from lifecycle.outcomes import NextStep, Step
from lifecycle.stages import Stage, stage_label
from lifecycle.value_review import PastReview, ReviewOutcome, review_due, review_outcome
from slack_out import messages
from store import audit, gates, pilots
from store.models import Gate, Pilot
from store.value_reviews import counted_verdicts
from tasks import home
from tasks.inputs import TerminateInput, TransitionApplied
from tasks.runtime import get_runtime
from tasks.terminate import terminate_in

#: the business owner's headline for each outcome that keeps the pilot.
_HEADLINE = {
    ReviewOutcome.SUSTAINED: "{title} was sustained at its value review.",
    ReviewOutcome.ADJUSTED: "{title} is to be adjusted, its value review says.",
    ReviewOutcome.UNANSWERED: "Nobody answered the value review of {title} in time; it stays "
    "in production and the review is asked again.",
}


def adjust_notes(session: Session, gate: Gate) -> list[str]:
    """The notes of the adjust answers that counted, as "<approver>: note"."""
    counted = set(counted_verdicts(session, gate))
    if Verdict.ADJUST not in counted:
        return []
    return [
        f"{d.approver}: {d.reason}"
        for d in gates.decisions_for(session, gate.id)
        if Verdict(d.verdict) is Verdict.ADJUST and d.reason
    ]


def settle_review_in(
    session: Session, gate: Gate, pilot: Pilot, step: NextStep, now: datetime
) -> TransitionApplied:
    """Carry out a settled review's step (SUSTAIN or RETIRE) for `pilot`."""
    rt = get_runtime()
    if step.step is Step.RETIRE:
        ended = terminate_in(
            session,
            TerminateInput(
                pilot_id=pilot.id, reason=step.reason, actor="gate", now=now, end=Stage.RETIRED
            ),
        )
        return TransitionApplied(
            gate_id=gate.id,
            pilot_id=pilot.id,
            claimed=True,
            outcome=ReviewOutcome.RETIRED.value if ended.terminated else "none",
            stage=Stage.RETIRED if ended.terminated else None,
            reason=step.reason if ended.terminated else ended.reason,
        )
    outcome = review_outcome(str(gate.status), counted_verdicts(session, gate))
    stage = Stage(gate.stage)
    next_due = review_due(
        rt.policy.value.review,
        live_since=pilots.entered_stage_at(session, pilot.id, stage),
        last=PastReview(settled_at=gate.resolved_at or now, outcome=outcome),
        open_review=False,
    )
    notes = adjust_notes(session, gate)
    detail = step.reason
    if notes:
        detail += "; adjust: " + "; ".join(notes)
    if next_due is not None:
        detail += f"; next review due {next_due:%Y-%m-%d}"
    audit.append(
        session,
        actor="gate",
        action="value_review.settled",
        pilot_id=pilot.id,
        data={
            "gate_id": gate.id,
            "outcome": outcome.value,
            "notes": notes,
            "next_due": next_due.isoformat() if next_due else None,
        },
        now=now,
    )
    told = [pilot.business_owner]
    if outcome is ReviewOutcome.UNANSWERED:
        told += [m for m in rt.policy.programme_office_members() if m not in told]
    for person in told:
        messages.notify(
            session,
            person,
            _HEADLINE[outcome].format(title=pilot.title),
            detail,
            now,
            dedupe_key=Keys.reviewed(gate.id, person),
            pilot_id=pilot.id,
        )
    home.refresh_pilot(session, pilot.id, now)
    return TransitionApplied(
        gate_id=gate.id,
        pilot_id=pilot.id,
        claimed=True,
        outcome=outcome.value,
        stage=stage,
        reason=f"{outcome.value} at {stage_label(stage)}: {detail}",
    )
