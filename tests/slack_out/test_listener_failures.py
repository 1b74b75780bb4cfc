"""What an approver sees when Slack says no on the click path or to a long answer (issue 18,
items 5 and 6), driven through the real listener and relay against the emulator."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

import pytest
from relay_world import World
from sqlalchemy import select

from slack_out import messages
from slack_out.limits import ELLIPSIS, TEXT_LIMIT
from slack_out.render import mrkdwn_escape
from store import gates, outbox
from store.models import Decision, SignoffRequest

FIN = "U0FIN0001"
OWNER = "U0BIZ0001"


def _asked(world: World) -> SignoffRequest:
    """The helpdesk proposal gate asked in Slack; FIN's request, posted."""
    _, requests = world.ask()
    assert world.relay().sent == 3
    with world.db.session() as session:
        [fin] = [r for r in gates.requests_for(session, requests[0].gate_id) if r.approver == FIN]
        session.expunge(fin)
    assert fin.message_ts and fin.channel
    return fin


def _decisions(world: World) -> list[Decision]:
    with world.db.session() as session:
        found = list(session.execute(select(Decision)).scalars())
        session.expunge_all()
        return found


# ---------------------------------------------------------------- 5. text over the limits


def test_a_long_escaped_reason_still_closes_the_buttons(world: World, listener: Any) -> None:
    fin = _asked(world)
    # 2,000 characters that escaping makes 4-5 times longer (`&` -> `&amp;`, `<` -> `&lt;`)
    reason = ("R&D <costs> & more " * 200)[:2000]
    assert world.emu.click(listener.url, FIN, fin.channel, fin.message_ts, "pilotgate_reject")
    view = world.emu.latest_view_for(FIN)
    assert view is not None
    done = world.emu.submit_view(listener.url, FIN, view.id, {"reason_input": reason})
    assert done.status_code == 200
    [decision] = _decisions(world)
    assert decision.reason == reason.strip()  # the record keeps every character

    report = world.relay()
    assert report.dead == 0, world.rows()
    updates = world.calls("chat.update")
    assert updates and all(c.ok for c in updates), [c.error for c in updates]
    assert all(len(c.params.get("text") or "") <= TEXT_LIMIT for c in updates)
    message = world.emu.find_message(fin.channel, fin.message_ts)
    latest = message.versions[-1].blocks or []
    assert not [b for b in latest if b.get("type") == "actions"]  # no live buttons
    assert ELLIPSIS in json.dumps(latest, ensure_ascii=False)
    # cut at a safe place: no half escape left behind
    assert "&am" + ELLIPSIS not in json.dumps(
        latest, ensure_ascii=False
    ) and "&" + ELLIPSIS not in json.dumps(latest, ensure_ascii=False)


def test_every_text_is_fitted_to_its_method_limit_on_the_way_out(world: World) -> None:
    fin = _asked(world)
    long = mrkdwn_escape(("R&D <costs> & more " * 300)[:2000]) * 2  # 6,900 characters
    with world.db.session() as session:
        outbox.enqueue(
            session,
            "chat.update",
            {
                "text": long,
                "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": long}}],
            },
            now=world.clock(),
            ref_kind="request_update",
            ref_id=fin.id,
        )
        # e.g. `terminate --reason` with 2,000 characters: the owner's notice carries it
        messages.notify(
            session, OWNER, "Terminated.", ("R&D <costs> & more " * 300)[:2000], world.clock()
        )
    report = world.relay()
    assert report.dead == 0 and report.sent == 2, world.rows()
    [update] = world.calls("chat.update")
    assert update.ok and len(update.params["text"]) <= TEXT_LIMIT
    assert update.params["text"].endswith(ELLIPSIS) and not update.params["text"].endswith(
        "&" + ELLIPSIS
    )
    assert len(update.params["blocks"][0]["text"]["text"]) <= 3000
    notice = [c for c in world.calls("chat.postMessage") if c.params.get("text") == "Terminated."]
    assert len(notice) == 1 and notice[0].ok


# ---------------------------------------------------------------- 6. views.open after ack


def _reject_told(world: World, fin: SignoffRequest) -> str:
    world.relay()
    notes = world.emu.ephemerals_for(FIN)
    assert len(notes) == 1, notes
    assert notes[0].channel == fin.channel
    return notes[0].text or ""


@pytest.mark.parametrize("how", ["rate_limited", "expired", "outage"])
def test_views_open_failing_after_ack_tells_the_approver_and_records_nothing(
    world: World, listener: Any, how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PILOTGATE_BASE_URL", "https://pilotgate.example")
    fin = _asked(world)
    if how == "rate_limited":
        world.emu.fail(429, count=1, retry_after=5, methods=["views.open"])
    elif how == "expired":
        world.emu.trigger_ttl = 0.0  # Slack's 3 s were over before views.open arrived
    else:
        world.emu.fail(503, count=1, retry_after=None, methods=["views.open"], html=True)
    response = world.emu.click(listener.url, FIN, fin.channel, fin.message_ts, "pilotgate_reject")
    assert response.status_code == 200  # not bolt's 500: Slack shows the approver no error
    assert world.emu.latest_view_for(FIN) is None
    assert _decisions(world) == []
    text = _reject_told(world, fin)
    assert "nothing was recorded" in text and "Reject" in text
    why = {
        "rate_limited": "(ratelimited)",
        "expired": "(expired_trigger_id)",
        "outage": "(HTTP 503)",
    }
    assert why[how] in text
    assert "https://pilotgate.example/pilots/" in text
    with world.db.session() as session:
        assert gates.get_request(session, fin.id).message_ts == fin.message_ts
        assert not gates.decisions_for(session, fin.gate_id)


def test_a_used_trigger_id_is_refused_and_the_approver_told(world: World, listener: Any) -> None:
    fin = _asked(world)
    payload = world.emu.build_block_actions(FIN, fin.channel, fin.message_ts, "pilotgate_reject")
    body = urlencode({"payload": json.dumps(payload, separators=(",", ":"))})
    for _ in range(2):  # Slack redelivers the click: its trigger_id opens one modal only
        ts = str(int(time.time()))
        answer = world.emu.send_raw(listener.url, body, ts, world.emu.sign(body, ts))
        assert answer.status_code == 200
    opens = world.calls("views.open")
    assert [c.error for c in opens] == [None, "exchanged_trigger_id"]
    assert "nothing was recorded" in _reject_told(world, fin)
    assert _decisions(world) == []
