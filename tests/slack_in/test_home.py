"""The App Home through the real listener: a signed `app_home_opened` event publishes the
person's Home (through the outbox), its buttons decide through the approve / reject listeners,
and every change it shows re-publishes the Homes that show it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from listener_scene import FIN, OWNER, PMO1, PMO2, PROPOSER, Ask, Scene
from sqlalchemy import select

from config.links import pilot_url
from lifecycle.policy import Policy
from lifecycle.proposal import Proposal
from slack_out.home import home_view
from store.models import Decision, Gate, OutboxMessage

Asks = dict[str, Ask]
HOSTILE = "<!channel> Budget & <https://evil.example|click> *bold*"


def home_rows(scene: Scene, user: str | None = None) -> list[OutboxMessage]:
    with scene.db.session() as session:
        query = select(OutboxMessage).where(OutboxMessage.method == "views.publish")
        if user is not None:
            query = query.where(OutboxMessage.ref_id == user)
        return list(session.execute(query.order_by(OutboxMessage.id)).scalars())


def texts(blocks: list[dict[str, Any]]) -> list[str]:
    out: list[str] = []
    for b in blocks:
        if b["type"] in ("section", "header"):
            out.append(b["text"]["text"])
        elif b["type"] == "context":
            out.extend(e["text"] for e in b["elements"])
        elif b["type"] == "actions":
            out.append(" | ".join(f"{e['action_id']}={e['value']}" for e in b["elements"]))
        else:
            out.append(f"<{b['type']}>")
    return out


def published(scene: Scene, user: str) -> list[dict[str, Any]]:
    record = scene.emu.home_for(user)
    assert record is not None, f"no Home for {user}"
    assert record.view["type"] == "home"
    return list(record.view["blocks"])


def test_opening_the_home_publishes_what_waits_for_you(
    scene: Scene, policy: Policy, helpdesk: Proposal
) -> None:
    hostile = helpdesk.model_copy(update={"title": HOSTILE})
    pilot_id, gate_id = scene.propose_and_ask(hostile, policy)
    asks = scene.asks(gate_id)
    with scene.db.session() as session:
        gate = session.get(Gate, gate_id)
        assert gate is not None
        due = f"{gate.deadline:%Y-%m-%d %H:%M} UTC"
    assert home_rows(scene) == []  # nobody has opened a Home yet: nothing to keep current

    assert scene.emu.open_home(scene.url, PMO1).status_code == 200
    [row] = home_rows(scene)
    assert (row.ref_kind, row.ref_id, row.payload["user_id"]) == ("home", PMO1, PMO1)
    assert len(scene.wakes) == 1  # the dispatcher is woken to deliver it
    assert scene.relay().errors == []
    url = pilot_url(pilot_id)
    title = "&lt;!channel&gt; Budget &amp; &lt;https://evil.example|click&gt; *bold*"
    lines = texts(published(scene, PMO1))
    assert lines[:4] == [
        "pilotgate",
        "*Waiting for you* (1)",
        f"*<{url}|{title}>* ({pilot_id}): proposal → pilot\n"
        f"as *programme_office* · due {due} (14 days left)",  # 14-day window, rounded up
        f"pilotgate_approve={asks[PMO1].id} | pilotgate_reject={asks[PMO1].id}",
    ]
    assert lines[4:9] == [
        "<divider>",
        "*Your pilots* (0)",
        "You have not proposed and do not own any pilot.",
        "<divider>",
        "*Gates overdue or due within 7 days* (0)",
    ]
    assert lines[9] == "No gate is overdue or due within 7 days."  # due in 14
    assert lines[10].startswith("Updated ") and len(lines) == 11
    assert "<!channel>" not in str(lines) and "<https://evil" not in str(lines)

    # The owner sees the pilot and its open gate; finance (not programme office) no overdue.
    assert scene.emu.open_home(scene.url, OWNER).status_code == 200
    assert scene.emu.open_home(scene.url, FIN).status_code == 200
    # The Messages tab sends the same event: nothing to publish.
    assert scene.emu.open_home(scene.url, PMO2, tab="messages").status_code == 200
    assert scene.relay().errors == []
    assert scene.emu.home_for(PMO2) is None
    owner = texts(published(scene, OWNER))
    assert owner[1:3] == ["*Waiting for you* (0)", "Nothing is waiting for you. :tada:"]
    assert owner[4:6] == [
        "*Your pilots* (1)",
        f"<{url}|{title}> ({pilot_id}) · proposal · gate to pilot due {due}",
    ]
    assert not any("overdue or due" in t for t in owner)
    fin = texts(published(scene, FIN))
    assert fin[1] == "*Waiting for you* (1)" and not any("overdue or due" in t for t in fin)

    # Opening it again: the event now carries the published view, `&amp;`s and all (an
    # Events API body is JSON, not a form), and the Home is published afresh.
    assert scene.emu.open_home(scene.url, PMO1).status_code == 200
    assert scene.relay().errors == []
    record = scene.emu.home_for(PMO1)
    assert record is not None and len(record.versions) == 2
    assert scene.emu.interactions[-1].payload["event"]["view"]["blocks"]  # type: ignore[index]


def test_home_buttons_decide_and_every_home_that_shows_it_is_refreshed(
    scene: Scene, gate: tuple[int, Asks]
) -> None:
    gate_id, asks = gate
    for user in (PMO1, FIN, OWNER):
        assert scene.emu.open_home(scene.url, user).status_code == 200
    assert scene.relay().errors == []
    assert [len(home_rows(scene, u)) for u in (PMO1, FIN, OWNER, PMO2)] == [1, 1, 1, 0]

    # Approve on the Home: the same listener as the DM's button, so the same rules.
    before = len(scene.emu.calls)
    response = scene.emu.click_home(scene.url, PMO1, "pilotgate_approve",
                                    value=str(asks[PMO1].id))
    assert response.status_code == 200
    assert len(scene.emu.calls) == before  # nothing called Slack on the ack path
    with scene.db.session() as session:
        [decision] = session.execute(select(Decision)).scalars().all()
        assert (decision.approver, decision.verdict, decision.request_id) == (
            PMO1, "approve", asks[PMO1].id)
    # Everyone with a Home this decision shows on got a fresh one, in the same transaction;
    # PMO2 never opened theirs, so none is made for them.
    assert [len(home_rows(scene, u)) for u in (PMO1, FIN, OWNER, PMO2)] == [2, 2, 2, 0]
    assert scene.relay().errors == []
    assert texts(published(scene, PMO1))[1:3] == [
        "*Waiting for you* (0)", "Nothing is waiting for you. :tada:"]
    # The DM's ask lost its buttons too.
    message = scene.emu.find_message(asks[PMO1].channel, asks[PMO1].ts)
    assert message is not None and not any(b["type"] == "actions" for b in message.blocks or [])

    # Someone else's button value is refused, as in the DM.
    assert scene.emu.click_home(scene.url, FIN, "pilotgate_approve",
                                value=str(asks[FIN].id)).status_code == 200
    with scene.db.session() as session:
        assert session.get(Gate, gate_id).status == "approved"  # type: ignore[union-attr]


def test_reject_from_the_home_opens_the_modal(scene: Scene, gate: tuple[int, Asks]) -> None:
    gate_id, asks = gate
    assert scene.emu.open_home(scene.url, FIN).status_code == 200
    assert scene.relay().errors == []
    before = len(scene.emu.calls)
    assert scene.emu.click_home(scene.url, FIN, "pilotgate_reject",
                                value=str(asks[FIN].id)).status_code == 200
    assert [c.method for c in scene.emu.calls[before:]] == ["views.open"]
    view = scene.emu.latest_view_for(FIN)
    assert view is not None and view.view["private_metadata"] == str(asks[FIN].id)
    reason = "No cost centre <yet> & no budget line"
    assert scene.emu.submit_view(scene.url, FIN, view.id, {"reason_input": reason}).text == ""
    with scene.db.session() as session:
        row = session.get(Gate, gate_id)
        assert row is not None and row.status == "rejected"
    assert scene.relay().errors == []
    record = scene.emu.home_for(FIN)
    assert record is not None and len(record.versions) == 2
    assert texts(record.view["blocks"])[1] == "*Waiting for you* (0)"


def test_the_programme_office_sees_overdue_gates_and_who_blocks_them(
    scene: Scene, gate: tuple[int, Asks]
) -> None:
    gate_id, asks = gate
    assert scene.click(PMO1, asks[PMO1]).status_code == 200  # programme office has answered
    with scene.db.session() as session:
        row = session.get(Gate, gate_id)
        assert row is not None
        late = row.deadline + timedelta(days=2, hours=3)
        pilot_id, due = row.pilot_id, f"{row.deadline:%Y-%m-%d %H:%M} UTC"
        pmo = texts(home_view(session, PMO2, late, programme_office=True)["blocks"])
        proposer = texts(home_view(session, PROPOSER, late, programme_office=False)["blocks"])
    url = pilot_url(pilot_id)
    title = "IT help-desk assistant"
    assert pmo[-3:-1] == [
        "*Gates overdue or due within 7 days* (1)",
        f"<{url}|{title}> ({pilot_id}): proposal → pilot, due {due} (overdue by 2 d 3 h)\n"
        f"waiting on finance: <@{FIN}>",  # programme office has its quorum
    ]
    # Three days before the deadline it is listed too, with the time left.
    with scene.db.session() as session:
        soon = texts(home_view(session, PMO2, row.deadline - timedelta(days=2, hours=12),
                               programme_office=True)["blocks"])
    assert soon[-2].endswith(f"due {due} (3 days left)\nwaiting on finance: <@{FIN}>")
    # PMO2's own ask is overdue too; the proposer owns nothing here but proposed it.
    assert pmo[2].endswith("(overdue by 2 d 3 h)")
    assert proposer[4:6] == [
        "*Your pilots* (1)",
        f"<{url}|{title}> ({pilot_id}) · proposal · gate to pilot due {due}",
    ]
