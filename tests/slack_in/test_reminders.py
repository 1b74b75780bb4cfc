"""A reminder can be answered: a new DM message (not a thread reply) that says how long is
left and who else the gate waits on, with the ask's own buttons, answered through the real
listener and closed with the ask."""

from __future__ import annotations

from typing import Any

from listener_scene import FIN, PMO1, PMO2, Ask, Scene
from sqlalchemy import select

from config.clock import utcnow
from lifecycle.policy import Policy
from lifecycle.proposal import Proposal
from slack_out import messages
from store import gates, pilots
from store.models import Decision, Gate
from tasks.gates import apply_transition_in
from tasks.inputs import GateInput

Asks = dict[str, Ask]
HOSTILE = "<!channel> Budget & <https://evil.example|click>"


def remind(scene: Scene, gate_id: int, approver: str, point: float = 0.5) -> None:
    """Remind `approver` at `point` of the window, as tasks.sweep.send_reminders does."""
    with scene.db.session() as session:
        gate = session.get(Gate, gate_id)
        assert gate is not None
        pilot = pilots.get_pilot(session, gate.pilot_id)
        [request] = [r for r in gates.requests_for(session, gate_id) if r.approver == approver]
        now = utcnow()
        assert gates.mark_reminder(session, request.id, point, now)  # as the sweep does
        messages.remind(session, pilot, gate, request, point, now)
    assert scene.relay().errors == []


def reminders(scene: Scene, ask: Ask) -> list[Any]:
    return [
        m for m in scene.emu.messages_in(ask.channel)
        if m.ts != ask.ts and (m.text or "").startswith("Reminder:")
    ]


def texts(message: Any) -> list[str]:
    out = []
    for b in message.blocks or []:
        if b["type"] == "section":
            out.append(b["text"]["text"])
        elif b["type"] == "actions":
            out.append(" | ".join(f"{e['action_id']}={e['value']}" for e in b["elements"]))
        else:
            out.append(b["elements"][0]["text"])
    return out


def test_a_reminder_says_who_else_is_waiting_and_can_be_answered(
    scene: Scene, policy: Policy, helpdesk: Proposal
) -> None:
    _, gate_id = scene.propose_and_ask(helpdesk.model_copy(update={"title": HOSTILE}), policy)
    asks = scene.asks(gate_id)
    with scene.db.session() as session:
        gate = session.get(Gate, gate_id)
        assert gate is not None
        due = f"{gate.deadline:%Y-%m-%d %H:%M} UTC"
    remind(scene, gate_id, PMO2)
    [reminder] = reminders(scene, asks[PMO2])
    assert reminder.thread_ts is None and reminder.channel == asks[PMO2].channel
    title = "&lt;!channel&gt; Budget &amp; &lt;https://evil.example|click&gt;"
    lines = texts(reminder)
    assert lines[:3] == [
        f":alarm_clock: Reminder: your sign-off on *{title}* (proposal → pilot) as "
        f"*programme_office* is due {due}: *14 days left*. 50% of the window has passed.",
        f"Also waiting:\nfinance: <@{FIN}>\nprogramme_office: <@{PMO1}>",
        f"pilotgate_approve={asks[PMO2].id} | pilotgate_reject={asks[PMO2].id}",
    ]
    assert lines[3].endswith("|Open the pilot's page> for the whole story, or answer here.")

    # Finance answers; the programme office still owes one approval, from PMO1 or PMO2.
    assert scene.click(FIN, asks[FIN]).status_code == 200
    remind(scene, gate_id, PMO1)
    [pmo1] = reminders(scene, asks[PMO1])
    assert texts(pmo1)[1] == f"Also waiting:\nprogramme_office: <@{PMO2}>"

    # PMO2 approves on the reminder itself: the same listener, the same rules.
    response = scene.emu.click(scene.url, PMO2, reminder.channel, reminder.ts, "pilotgate_approve")
    assert response.status_code == 200
    with scene.db.session() as session:
        decided = [(d.approver, d.verdict) for d in session.execute(
            select(Decision).order_by(Decision.id)).scalars()]
        assert decided == [(FIN, "approve"), (PMO2, "approve")]
        assert session.get(Gate, gate_id).status == "approved"  # type: ignore[union-attr]
    assert scene.relay().errors == []
    # Its buttons closed with the ask's: nothing is left to click on either.
    for ts in (reminder.ts, asks[PMO2].ts):
        message = scene.emu.find_message(asks[PMO2].channel, ts)
        assert message is not None
        assert not any(b["type"] == "actions" for b in message.blocks or [])
        assert (message.text or "").startswith(":white_check_mark: Approved by <@U0PMO0002>")
    # PMO1's reminder closes too, when resolve-gate's task closes the requests nobody answered.
    with scene.db.session() as session:
        apply_transition_in(session, GateInput(gate_id=gate_id))
    assert scene.relay().errors == []
    closed = scene.emu.find_message(pmo1.channel, pmo1.ts)
    assert closed is not None and (closed.text or "").startswith(":white_check_mark: Gate approved")
    assert not any(b["type"] == "actions" for b in closed.blocks or [])


def test_the_last_one_waited_on_is_told_so(scene: Scene, gate: tuple[int, Asks]) -> None:
    gate_id, asks = gate
    assert scene.click(PMO1, asks[PMO1]).status_code == 200
    remind(scene, gate_id, FIN, 0.8)
    [reminder] = reminders(scene, asks[FIN])
    assert texts(reminder)[0].endswith("80% of the window has passed.")
    assert texts(reminder)[1] == (
        "The gate waits on nobody else: your answer decides whether it goes on.")
