"""Typed inputs and results of the tasks."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from lifecycle.stages import Stage


class TaskModel(BaseModel):
    model_config = ConfigDict(frozen=True)


class OpenGateInput(TaskModel):
    pilot_id: str
    stage: Stage
    actor: str = "pilotgate"
    now: datetime | None = None


class Asked(TaskModel):
    approver: str
    role: str


class GateOpened(TaskModel):
    gate_id: int
    pilot_id: str
    stage: Stage
    target: Stage
    deadline: datetime
    asked: list[Asked]
    warnings: list[str] = []
    #: a re-run found the gate already open (nobody was asked again).
    already_open: bool = False


class RequestSignoffsInput(TaskModel):
    gate_id: int


class SignoffsSent(TaskModel):
    sent: int
    waiting: int
    errors: list[str] = []


class GateInput(TaskModel):
    gate_id: int
    now: datetime | None = None
    actor: str = "pilotgate"


class GateReading(TaskModel):
    gate_id: int
    status: str
    evaluation: str
    missing: dict[str, int]
    reasons: list[str]


class DeadlineAction(TaskModel):
    gate_id: int
    pilot_id: str
    action: str  # none | extended | escalated | expired
    new_deadline: datetime | None = None
    detail: str = ""
    #: who an escalation asked.
    asked: list[Asked] = []


class TransitionApplied(TaskModel):
    gate_id: int
    pilot_id: str
    claimed: bool
    # advanced | sent_back | terminate | none; a value review: sustained | adjusted |
    # unanswered | retired
    outcome: str
    stage: Stage | None = None
    next_flow: str | None = None
    reason: str = ""


class TerminateInput(TaskModel):
    pilot_id: str
    reason: str
    actor: str = "pilotgate"
    now: datetime | None = None
    #: the recorded end: terminated (pre-production) or retired (production, by a value review).
    end: Stage = Stage.TERMINATED


class Terminated(TaskModel):
    pilot_id: str
    terminated: bool
    from_stage: Stage | None
    reason: str
    gates_closed: int = 0
    #: the gates this termination cancelled (each gets a last report).
    closed_gate_ids: list[int] = []
    #: how it ended (terminated, or retired after a value review), by whom, and how many
    #: approvers were told besides the owner: what is logged once it is committed.
    end: Stage = Stage.TERMINATED
    actor: str = ""
    approvers_told: int = 0


class WarningsInput(TaskModel):
    """The sweep's owner warnings at `now`; a dry run says what it would send and sends nothing."""

    now: datetime
    dry_run: bool = False


class OwnerWarned(TaskModel):
    """One gate's warning: who has not answered, the time left, who was told."""

    gate_id: int
    pilot_id: str
    title: str
    deadline: datetime
    time_left: str
    #: "Dana Smith (architecture)", or the Slack id where the policy names nobody.
    waiting: list[str]
    #: Slack ids told now (a dry run: who would be).
    told: list[str]


class OwnerWarnings(TaskModel):
    warned: list[OwnerWarned] = []

    def report_rows(self, dry_run: bool = False) -> list[dict[str, object]]:
        """The sweep report's rows, one per gate."""
        return [
            {
                "action": "would warn" if dry_run else "warned",
                "pilot": w.pilot_id,
                "gate": w.gate_id,
                "detail": f"{', '.join(w.told)}: not answered {', '.join(w.waiting) or 'nobody'}"
                f"; {w.time_left} left",
            }
            for w in self.warned
        ]


class ValueReviewsInput(TaskModel):
    """The sweep's value-review step: open every review due at `now` (or, dry, say which)."""

    now: datetime
    dry_run: bool = False


class DueReview(TaskModel):
    """One value review that was due: opened now (gate_id) or, in a dry run, would be."""

    pilot_id: str
    title: str
    due: datetime
    gate_id: int | None = None
    asked: list[Asked] = []


class ReviewsOpened(TaskModel):
    reviews: list[DueReview] = []

    def report_rows(self, dry_run: bool = False) -> list[dict[str, object]]:
        """The sweep report's rows, one per review."""
        return [
            {
                "action": "would open value review" if dry_run else "value review opened",
                "pilot": r.pilot_id,
                "gate": r.gate_id if r.gate_id is not None else "",
                "detail": f"due {r.due:%Y-%m-%d %H:%M} UTC"
                + (f"; asked {', '.join(a.approver for a in r.asked)}" if r.asked else ""),
            }
            for r in self.reviews
        ]
