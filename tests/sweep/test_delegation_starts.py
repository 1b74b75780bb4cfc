"""A delegation recorded ahead of a leave takes effect when the leave begins: the sweep re-asks
the approver's open requests of the delegate once, closes the original's buttons with a note,
and audits the hand-over; against real Prefect, the Slack emulator and both databases."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sweep_scene import (
    CIO,
    audit_actions,
    dms,
    has_buttons,
    open_gate,
    request_message,
    requests,
    sweep,
    text_of,
)

from lifecycle.policy import Policy
from store import audit, gates
from tasks import people
from tasks.runtime import Runtime, set_runtime

FIN = "U0FIN0001"


def _fin_also_in_cio(stack: Any) -> Policy:
    """The example policy with FIN also in `cio`, so the CIO may stand in for FIN."""
    data = stack.policy.model_dump(mode="json")
    data["roles"]["cio"] = [CIO, FIN]
    policy = Policy.model_validate(data)
    stack.policy = policy
    set_runtime(Runtime(stack.runtime.settings, db=stack.db, policy=policy))
    return policy


def _rows(stack: Any, gate_id: int) -> list[tuple[str, str, str | None, bool]]:
    return [
        (r.approver, r.role, r.on_behalf_of, r.superseded_at is not None)
        for r in requests(stack, gate_id)
    ]


def test_a_delegation_that_starts_later_re_asks_when_it_starts(stack: Any) -> None:
    policy = _fin_also_in_cio(stack)
    pilot_id = stack.propose()
    stack.advance(pilot_id)
    stack.dispatcher.drain()
    gate = open_gate(stack, pilot_id)
    [fin_request] = [r for r in requests(stack, gate.id) if r.approver == FIN]
    assert has_buttons(request_message(stack, fin_request))

    start = stack.clock() + timedelta(days=2)
    with stack.db.session() as session:
        row, handed, kept = people.create_delegation(
            session,
            policy,
            approver=FIN,
            delegate=CIO,
            starts_at=start,
            ends_at=start + timedelta(days=10),
            reason="annual <leave>",
            actor="cli",
            now=stack.clock(),
        )
        delegation_id = row.id
    # Recorded ahead of time: nothing is handed over yet.
    assert (handed, kept) == ([], [])
    before = _rows(stack, gate.id)
    assert (FIN, "finance", None, False) in before

    assert sweep(stack, start - timedelta(hours=1))["terminated"] == []
    assert _rows(stack, gate.id) == before
    assert audit_actions(stack, "request.delegated") == []

    # The leave has begun: the sweep hands FIN's open request to the CIO, on behalf of FIN.
    stack.clock.advance(days=2, seconds=3600)
    at = start + timedelta(hours=1)
    sweep(stack, at)
    after = _rows(stack, gate.id)
    assert after == [
        (FIN, "finance", None, True) if r == (FIN, "finance", None, False) else r for r in before
    ] + [(CIO, "finance", FIN, False)]
    [new_request] = [r for r in requests(stack, gate.id) if r.approver == CIO]
    [entry] = audit_actions(stack, "request.delegated", pilot_id)
    assert (entry.actor, entry.data) == (
        "sweep",
        {
            "gate_id": gate.id,
            "request_id": fin_request.id,
            "from": FIN,
            "to": CIO,
            "on_behalf_of": FIN,
            "role": "finance",
            "new_request_id": new_request.id,
            "reason": "annual <leave>",
        },
    )
    assert entry.at == at
    # FIN's buttons are closed with the note; the CIO is asked with buttons of their own.
    closed = request_message(stack, fin_request)
    assert not has_buttons(closed)
    assert f":arrow_right: Handed to <@{CIO}> while you are away: annual &lt;leave&gt;" in (
        text_of(closed)
    )
    [ask] = dms(stack, CIO)
    assert has_buttons(ask) and ask.ts == request_message(stack, new_request).ts

    # Sweeping again changes nothing: no second hand-over, no new message.
    stack.clock.advance(seconds=3600)
    sweep(stack, at + timedelta(hours=1))
    assert _rows(stack, gate.id) == after
    assert len(audit_actions(stack, "request.delegated", pilot_id)) == 1
    assert len(dms(stack, CIO)) == 1
    with stack.db.session() as session:
        assert audit.verify(session).ok
        assert people.reask_for_started_delegations(session, actor="sweep", now=at) == [
            (session.get(type(row), delegation_id), [], [])
        ]

    # The delegate's answer counts once, toward finance, on FIN's behalf.
    assert stack.click(new_request).status_code == 200
    stack.dispatcher.drain()
    with stack.db.session() as session:
        evaluation = gates.evaluate(session, gates.get_gate(session, gate.id), stack.clock())
    assert evaluation.approvals["finance"] == [CIO]
    assert evaluation.missing["finance"] == 0
