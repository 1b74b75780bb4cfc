"""Termination: the one way a pilot ends without reaching production; and, with
`end=retired`, the way a pilot in production ends after its value review retires it (the same
recorded end: tasks.review_outcome).

The same task serves a programme manager's `pilotgate terminate`, a rejected gate, an expired
gate and the sweep's deploy-or-terminate rule, so every termination closes the same things:
the pilot's stage, its open gates, the buttons on its Slack messages, and its place under the
portfolio cap; and tells the same people.
"""

from __future__ import annotations

from prefect import task
from sqlalchemy.orm import Session

from config.clock import utcnow
from config.names import Keys
from lifecycle.stages import ENDS, Stage
from lifecycle.statuses import GatePhase
from slack_out import messages
from store import gates as gates_store
from store import pilots
from tasks import home
from tasks.inputs import Terminated, TerminateInput
from tasks.logs import run_logger
from tasks.runtime import get_runtime


@task(name="terminate-pilot", persist_result=False)
def terminate_pilot(inp: TerminateInput) -> Terminated:
    with get_runtime().db.session() as session:
        ended = terminate_in(session, inp)
    log_ended(ended)
    return ended


def log_ended(ended: Terminated) -> None:
    """Say what a termination did, once it is committed: `terminate_in` runs inside its
    caller's transaction, and a sweep batch that is rolled back and tried again item by item
    would otherwise have said it twice, the first time about work that did not happen."""
    logger = run_logger()
    if not ended.terminated:
        logger.info("pilot %s not ended: %s", ended.pilot_id, ended.reason)
        return
    logger.info(
        "pilot %s %s from %s by %s: %s; closed %d open gate(s) %s; "
        "queued notices to the business owner and %d approver(s)",
        ended.pilot_id,
        ended.end.value,
        ended.from_stage.value if ended.from_stage else "?",
        ended.actor,
        ended.reason,
        ended.gates_closed,
        ended.closed_gate_ids,
        ended.approvers_told,
    )


def terminate_in(session: Session, inp: TerminateInput) -> Terminated:
    """The termination in the caller's transaction: the terminate flow's task runs it alone,
    the sweep runs it for each due pilot of a batch (and after a gate it expired), so both end
    a pilot the same way and commit it with whatever else the caller recorded."""
    rt = get_runtime()
    now = inp.now or utcnow()
    reason = inp.reason.strip()
    if not reason:
        raise ValueError("a termination needs a reason")
    pilot = pilots.get_pilot(session, inp.pilot_id)
    stage = Stage(pilot.stage)
    # inp.end: terminated (from a pre-production stage) or retired (from production, after a
    # value review): the same recorded end either way.
    if stage not in ENDS[inp.end]:
        return Terminated(
            pilot_id=pilot.id,
            terminated=False,
            from_stage=stage,
            reason=f"already {stage.value}",
        )
    if not pilots.move_stage(
        session,
        pilot.id,
        expected=stage,
        target=inp.end,
        actor=inp.actor,
        reason=reason,
        now=now,
        policy=rt.policy,
    ):
        return Terminated(
            pilot_id=pilot.id,
            terminated=False,
            from_stage=None,
            reason="the pilot changed stage at the same moment; nothing done",
        )
    closed: list[int] = []
    people: set[str] = set()
    gates = gates_store.gates_for(session, pilot.id)
    if gates:
        # The approvers of the latest gate are the ones who were waiting on, or just
        # decided, this pilot.
        people.update(r.approver for r in gates_store.requests_for(session, gates[-1].id))
    for gate in gates:
        if gate.status == GatePhase.OPEN:
            gates_store.resolve_gate(
                session,
                gate,
                GatePhase.CANCELLED,
                f"pilot {inp.end.value}: {reason}",
                now=now,
                actor=inp.actor,
            )
            gates_store.claim_continuation(session, gate.id, now)
            closed.append(gate.id)
            for request in gates_store.unanswered_requests(session, gate.id):
                messages.close_request(
                    session,
                    request,
                    messages.gate_outcome(GatePhase.CANCELLED, reason),
                    now,
                )
    home.refresh_pilot(session, pilot.id, now)
    messages.notify(
        session,
        pilot.business_owner,
        f"{pilot.title} was {inp.end.value}.",
        reason,
        now,
        dedupe_key=Keys.terminated(pilot.id, "owner"),
        pilot_id=pilot.id,
    )
    for person in sorted(people - {pilot.business_owner}):
        messages.notify(
            session,
            person,
            f"{pilot.title} was {inp.end.value}; your sign-off is no longer needed.",
            reason,
            now,
            dedupe_key=Keys.terminated(pilot.id, person),
            pilot_id=pilot.id,
        )
    return Terminated(
        pilot_id=pilot.id,
        terminated=True,
        from_stage=stage,
        reason=reason,
        gates_closed=len(closed),
        closed_gate_ids=closed,
        end=inp.end,
        actor=inp.actor,
        approvers_told=len(people - {pilot.business_owner}),
    )
