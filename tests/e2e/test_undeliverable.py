"""A sign-off request Slack refuses for good is reported, not left to expire in silence."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from store import gates
from store.models import OutboxMessage


def test_a_deactivated_approver_is_reported_to_the_business_owner(stack: Any) -> None:
    stack.emulator.deactivate_user("U0FIN0001")
    pilot_id = stack.propose("helpdesk-assistant")
    opened = stack.advance(pilot_id)
    stack.dispatcher.drain()

    with stack.db.session() as session:
        requests = {r.approver: r for r in gates.requests_for(session, opened.gate_id)}
        assert requests["U0FIN0001"].message_ts is None
        assert requests["U0PMO0001"].message_ts is not None  # the others were asked
        dead = (
            session.execute(select(OutboxMessage).where(OutboxMessage.status == "dead"))
            .scalars()
            .all()
        )
        assert [(d.ref_kind, d.last_error) for d in dead] == [("request", "user_disabled")]
    owner = stack.emulator.dm_channel_for("U0BIZ0001")
    notices = [m for m in stack.emulator.messages_in(owner) if "could not be delivered" in m.text]
    assert len(notices) == 1
    assert "U0FIN0001 (finance)" in notices[0].text and "user_disabled" in notices[0].text
    stack.dispatcher.drain()  # draining again does not repeat the notice
    assert (
        len([m for m in stack.emulator.messages_in(owner) if "could not be delivered" in m.text])
        == 1
    )
