"""Value reviews due: the sweep opens each one in its own transaction (`pilotgate review`
opens one at once through the value-review flow).

When a review is due is `lifecycle.value_review.review_due`'s answer from the facts
`store.value_reviews` reads; the review itself is an ordinary gate at production, opened by
`tasks.gates.open_gate_in` (its asks, evidence, deadline and reminders as every gate's).
"""

from __future__ import annotations

from datetime import datetime

from prefect import task
from sqlalchemy.orm import Session

from lifecycle.stages import Stage
from store import value_reviews
from tasks.gates import open_gate_in
from tasks.inputs import DueReview, OpenGateInput, ReviewsOpened, ValueReviewsInput
from tasks.logs import run_logger
from tasks.runtime import get_runtime


def due_reviews(session: Session, now: datetime) -> list[DueReview]:
    """Every review due at `now` (none without `value.review` in the policy)."""
    rule = get_runtime().policy.value.review
    if rule is None:
        return []
    return [
        DueReview(pilot_id=facts.pilot_id, title=facts.title, due=at)
        for facts, at in value_reviews.due(session, rule, now)
    ]


@task(name="open-value-reviews", persist_result=False)
def open_value_reviews(inp: ValueReviewsInput) -> ReviewsOpened:
    """Open each value review due at `inp.now` (a dry run only lists them), one transaction
    per review: a failure is logged and the review stays due for the next sweep."""
    db = get_runtime().db
    logger = run_logger()
    with db.session() as session:
        due = due_reviews(session, inp.now)
    if inp.dry_run:
        return ReviewsOpened(reviews=due)
    opened: list[DueReview] = []
    for item in due:
        try:
            with db.session() as session:
                gate = open_gate_in(
                    session,
                    OpenGateInput(
                        pilot_id=item.pilot_id, stage=Stage.PRODUCTION, actor="sweep", now=inp.now
                    ),
                )
        except Exception as exc:  # logged with its pilot; the next sweep finds it still due
            logger.error("value review of %s not opened: %s", item.pilot_id, exc)
            continue
        opened.append(item.model_copy(update={"gate_id": gate.gate_id, "asked": gate.asked}))
        logger.info(
            "value review of pilot %s opened (gate %d), due %s; asked %s",
            item.pilot_id,
            gate.gate_id,
            f"{item.due:%Y-%m-%d}",
            ", ".join(a.approver for a in gate.asked) or "nobody",
        )
    return ReviewsOpened(reviews=opened)
