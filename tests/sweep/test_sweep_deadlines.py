"""The sweep against real Prefect, the Slack emulator and both databases: the deploy-or-terminate
date, expired gates (escalate once, extend once, then terminate), reminders and the digest."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sweep_scene import (
    CIO,
    OWNER,
    audit_actions,
    digests,
    dms,
    flow_requests,
    gates,
    has_buttons,
    history,
    open_gate,
    pilot,
    reminders_of,
    request_message,
    requests,
    sweep,
    terminations,
    text_of,
    to_pilot,
    to_readiness_review,
)


def test_pilot_past_its_deploy_or_terminate_date_is_terminated(stack: Any) -> None:
    pilot_id = to_pilot(stack)
    deploy_by = pilot(stack, pilot_id).deploy_by
    # A week before the date the pilot asks to move on; nobody has answered yet.
    stack.clock.advance(days=175)
    stack.advance(pilot_id)
    stack.dispatcher.drain()
    gate = open_gate(stack, pilot_id)
    asked = requests(stack, gate.id)
    assert asked and all(has_buttons(request_message(stack, r)) for r in asked)
    # Another pilot whose proposal gate falls due within the digest's 7 days.
    stack.clock.advance(days=1)
    other = stack.propose(title="Contract clause finder")
    stack.advance(other)
    stack.dispatcher.drain()

    stack.clock.advance(days=7)  # 183 days after the pilot started
    owner_dms_before = len(dms(stack, OWNER))
    result = sweep(stack)

    assert [p["pilot_id"] for p in result["plan"]["overdue_pilots"]] == [pilot_id]
    ended = pilot(stack, pilot_id)
    assert ended.stage == "terminated"
    assert f"deploy-or-terminate date {deploy_by:%Y-%m-%d}" in ended.end_reason
    last = history(stack, pilot_id)[-1]
    assert (last.to_stage, last.actor, last.reason) == ("terminated", "sweep", ended.end_reason)
    # Its open gate is cancelled and nobody can still click on its requests.
    assert [g.status for g in gates(stack, pilot_id)] == ["approved", "cancelled"]
    for request in asked:
        message = request_message(stack, request)
        assert message.update_count >= 1 and not has_buttons(message), text_of(message)
        assert "terminated" in text_of(message).lower()
    # The business owner hears about it.
    notices = dms(stack, OWNER)[owner_dms_before:]
    assert any("terminated" in text_of(m) and "deploy-or-terminate" in text_of(m)
               for m in notices), [m.text for m in notices]
    # The portfolio digest: what was terminated and why, what comes due, the cap.
    [digest] = digests(stack)
    words = text_of(digest)
    assert pilot_id in words and "deploy-or-terminate date" in words
    assert other in words.split("Due in the next 7 days")[1]
    assert "it-operations: 1/5 active" in words
    # The other pilot is untouched.
    assert pilot(stack, other).stage == "proposal"
    assert open_gate(stack, other) is not None


def test_expired_gate_escalates_once_then_terminates(stack: Any) -> None:
    pilot_id = to_readiness_review(stack)
    gate = open_gate(stack, pilot_id)
    first_deadline = gate.deadline
    assert not dms(stack, CIO)

    stack.clock.advance(days=10, seconds=3600)  # an hour past the gate's deadline
    now = stack.clock()
    result = sweep(stack, now)
    [action] = result["deadline_actions"]
    assert action["action"] == "escalated"
    escalated = open_gate(stack, pilot_id)
    assert escalated.id == gate.id and escalated.escalated_at is not None
    assert escalated.deadline == now + timedelta(days=5) > first_deadline
    [cio_request] = [r for r in requests(stack, gate.id) if r.approver == CIO]
    assert cio_request.role == "cio"
    [ask] = dms(stack, CIO)
    assert has_buttons(ask) and ask.ts == request_message(stack, cio_request).ts
    assert len(audit_actions(stack, "gate.escalated", pilot_id)) == 1

    # A second sweep shortly after does nothing more.
    stack.clock.advance(seconds=120)
    again = sweep(stack)
    assert again["deadline_actions"] == [] and again["terminated"] == []
    assert len(dms(stack, CIO)) == 1
    assert len(audit_actions(stack, "gate.escalated", pilot_id)) == 1
    assert again["reminders"] == 0
    assert open_gate(stack, pilot_id).deadline == escalated.deadline
    assert pilot(stack, pilot_id).stage == "readiness_review"

    # The escalation is a new window: halfway through it, the CIO is reminded in a new message
    # with the buttons, as 50% of the CIO's window (not of the gate's whole life).
    stack.clock.advance(days=2.5)
    assert sweep(stack)["reminders"] >= 1
    [reminder] = reminders_of(stack, cio_request)
    assert reminder.thread_ts is None and reminder.ts != ask.ts and has_buttons(reminder)
    assert "50% of the window" in text_of(reminder)

    # After the second deadline, the sweep ends the pilot through the terminate flow.
    stack.clock.advance(days=2.5, seconds=3600)
    final = sweep(stack)
    assert [a["action"] for a in final["deadline_actions"]] == ["expired"]
    ended = pilot(stack, pilot_id)
    assert ended.stage == "terminated"
    last = history(stack, pilot_id)[-1]
    assert last.actor == "gate" and last.reason.startswith("deadline passed at readiness review")
    assert len(terminations(stack, pilot_id)) == 1
    assert [g.status for g in gates(stack, pilot_id)][-1] == "expired"
    flows = [(fr.flow, fr.status) for fr in flow_requests(stack, pilot_id)]
    assert ("resolve-gate", "done") in flows and ("terminate", "done") in flows
    assert not has_buttons(request_message(stack, cio_request))


def test_expired_gate_extends_once_on_record_then_terminates(stack: Any) -> None:
    pilot_id = to_pilot(stack)
    stack.advance(pilot_id)  # the pilot gate: on timeout, extend by 7 days
    stack.dispatcher.drain()
    gate = open_gate(stack, pilot_id)
    waiting = requests(stack, gate.id)

    stack.clock.advance(days=14, seconds=3600)
    now = stack.clock()
    result = sweep(stack, now)
    assert [a["action"] for a in result["deadline_actions"]] == ["extended"]
    extended = open_gate(stack, pilot_id)
    assert extended.extended_at is not None and extended.deadline == now + timedelta(days=7)
    [entry] = audit_actions(stack, "gate.extended", pilot_id)
    assert entry.actor == "sweep" and entry.data["gate_id"] == gate.id
    for request in waiting:
        assert any("extended once" in text_of(m) for m in dms(stack, request.approver))

    stack.clock.advance(seconds=120)
    assert sweep(stack)["deadline_actions"] == []
    assert len(audit_actions(stack, "gate.extended", pilot_id)) == 1
    assert pilot(stack, pilot_id).stage == "pilot"

    stack.clock.advance(days=7, seconds=3600)
    final = sweep(stack)
    assert [a["action"] for a in final["deadline_actions"]] == ["expired"]
    assert pilot(stack, pilot_id).stage == "terminated"
    [ended] = terminations(stack, pilot_id)
    assert ended.actor == "gate" and "deadline passed" in ended.reason
    assert len(audit_actions(stack, "gate.extended", pilot_id)) == 1
    for request in waiting:
        assert not has_buttons(request_message(stack, request))


def test_reminders_once_per_point_threaded_and_not_to_who_answered(stack: Any) -> None:
    pilot_id = stack.propose()
    stack.advance(pilot_id)
    [finance] = [r for r in stack.open_requests(pilot_id) if r.role == "finance"]
    assert stack.click(finance).status_code == 200  # finance answers; programme office has not
    stack.dispatcher.drain()
    gate = open_gate(stack, pilot_id)
    assert gate is not None
    waiting = [r for r in requests(stack, gate.id) if r.role == "programme_office"]
    assert len(waiting) == 2

    def replies() -> dict[str, int]:
        return {r.approver: len(reminders_of(stack, r)) for r in requests(stack, gate.id)}

    stack.clock.advance(days=6)  # 43% of the window: nothing yet
    assert sweep(stack)["reminders"] == 0
    assert set(replies().values()) == {0}

    stack.clock.advance(days=1, seconds=60)  # just past 50%
    now = stack.clock()
    assert sweep(stack, now)["reminders"] == 2
    assert sweep(stack, now)["reminders"] == 0  # the same time point again: no duplicate
    stack.clock.advance(seconds=600)
    assert sweep(stack)["reminders"] == 0
    assert replies() == {**{r.approver: 1 for r in waiting}, finance.approver: 0}
    for request in waiting:
        [reminder] = reminders_of(stack, request)
        assert reminder.thread_ts is None and reminder.ts != request_message(stack, request).ts
        assert "50% of the window" in text_of(reminder) and has_buttons(reminder)

    stack.clock.advance(days=4.2)  # past 80%
    now = stack.clock()
    assert sweep(stack, now)["reminders"] == 2
    assert sweep(stack, now)["reminders"] == 0
    assert replies() == {**{r.approver: 2 for r in waiting}, finance.approver: 0}
    for request in waiting:
        assert "80% of the window" in text_of(reminders_of(stack, request)[-1])
    assert open_gate(stack, pilot_id).id == gate.id  # reminders change no decision
