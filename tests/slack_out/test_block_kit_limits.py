"""Every message pilotgate sends fits Slack's limits and shows user-written text escaped.

A hypothesis property test over every kind of payload: the sign-off ask (proposal and readiness,
with 1-200 metrics and criteria, the problem and business case, and its live tally and tally
refreshes with up to 30 roles of up to 60 people under hostile names), the reminder (up to 60
others waiting), the closed request, notices, the digest, owner
warnings, undeliverable notices, ephemerals, the App Home, the `/pilotgate` answers and the
modals. Titles, reasons, names and notes are hostile (`&`, `<`, `<!channel>`, links, mrkdwn,
emoji, newlines, up to 10,000 characters; titles up to the proposal model's 120). Payloads are
read as they would be sent: outbox rows (real SQLite, migrated) fitted by the same
`fit_payload` the relay applies; views and command answers as the listeners hand them to Slack.
Each must parse with slack_sdk's models, keep Slack's documented limits, and contain no raw
`<!channel>`, link or broken escape in any mrkdwn text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View
from sqlalchemy import select

from config.links import pilot_url
from config.settings import Settings
from lifecycle.gates import Verdict
from lifecycle.policy import EvidenceRules, PersonEntry, Policy
from lifecycle.proposal import Proposal
from lifecycle.stages import Stage
from lifecycle.statuses import GatePhase
from slack_in.reject_button import FORM_FAILED
from slack_out import command, home, messages, relay
from slack_out.limits import fit_payload
from slack_out.render import Mrkdwn, mrkdwn_escape, render_view
from store import gates, pilots
from store.db import Database
from store.migrate import upgrade
from store.models import Decision, OutboxMessage, Pilot
from store.read_home import Blocked, Waiting
from store.read_tally import RoleTally, Seat
from tasks.gates import open_gate
from tasks.inputs import OpenGateInput
from tasks.runtime import Runtime, set_runtime

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PROFILE = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# --- hostile text --------------------------------------------------------------------------

PIECES = [
    "&",
    "<",
    ">",
    "<!channel>",
    "<!here>",
    "<https://evil|x>",
    "<@U0PMO0001>",
    "*bold*",
    "_it_",
    "~s~",
    "`c`",
    "&amp;",
    "&lt;",
    ":tada:",
    "🚀",
    "👩🏽‍💻",
    "\n",
    "> quote",
    '"',
    "\\",
    "{{ x }}",
    " ",
    "a",
]
piece = st.one_of(st.sampled_from(PIECES), st.text(min_size=1, max_size=8))
short_text = st.lists(piece, min_size=1, max_size=12).map("".join)
long_text = st.builds(
    lambda p, n: (p * n)[:10_000], st.sampled_from(PIECES), st.integers(1, 10_000)
)
hostile = st.one_of(short_text, long_text)


def usable(text: str, least: int = 1) -> bool:
    return len(text.strip()) >= least


titles = st.one_of(short_text, long_text).map(lambda t: t[:120]).filter(lambda t: usable(t, 3))
names = hostile.filter(usable)

# --- what a payload must satisfy -----------------------------------------------------------

#: the only `<...>` pilotgate itself writes: a mention, or a link to its own pages.
BASE = Settings().base_url.rstrip("/")
TOKEN = re.compile(r"<(@[UW][A-Z0-9]+|" + re.escape(BASE) + r"/[^<>|\s]*(\|[^<>]*)?)>")
ENTITY = re.compile(r"&(?!amp;|lt;|gt;)")
CHAT = {"chat.postMessage", "chat.postEphemeral", "chat.update"}


def check_mrkdwn(text: str, where: str) -> None:
    assert "<!channel>" not in text and "<https://evil|x>" not in text, where
    assert not ENTITY.search(text), f"{where}: a bare & or an escape cut in half: {text[-80:]!r}"
    # a bare `>` is pilotgate's own (`->`, a `>` quote line): what users wrote has none left
    assert "<" not in TOKEN.sub("", text), f"{where}: raw < in {text[:200]!r}"


def at_most(obj: Any, limit: int, where: str) -> None:
    if obj is None:
        return
    text = obj["text"] if isinstance(obj, dict) else obj
    assert len(text) <= limit, f"{where}: {len(text)} > {limit} characters"
    if isinstance(obj, dict) and obj.get("type") == "mrkdwn":
        check_mrkdwn(text, where)


def check_element(e: dict[str, Any], where: str) -> None:
    at_most(e.get("action_id"), 255, f"{where} action_id")
    at_most(e.get("placeholder"), 150, f"{where} placeholder")
    if e["type"] == "button":
        at_most(e["text"], 75, f"{where} button text")
        at_most(e.get("value"), 2000, f"{where} button value")
        at_most(e.get("url"), 3000, f"{where} button url")
    for option in e.get("options", []) + ([e["initial_option"]] if "initial_option" in e else []):
        at_most(option["text"], 75, f"{where} option text")
        at_most(option["value"], 150, f"{where} option value")


def check_block(b: dict[str, Any], where: str) -> None:
    parsed = Block.parse(b)
    assert parsed is not None, where
    parsed.validate_json()
    at_most(b.get("block_id"), 255, f"{where} block_id")
    kind = b["type"]
    if kind == "section":
        at_most(b.get("text"), 3000, f"{where} section text")
        assert len(b.get("fields", [])) <= 10, where
        for f in b.get("fields", []):
            at_most(f, 2000, f"{where} field")
        if "accessory" in b:
            check_element(b["accessory"], where)
    elif kind == "header":
        at_most(b["text"], 150, f"{where} header")
    elif kind == "context":
        assert len(b["elements"]) <= 10, f"{where}: {len(b['elements'])} context elements"
        for e in b["elements"]:
            at_most(e, 3000, f"{where} context")
    elif kind == "actions":
        assert len(b["elements"]) <= 25, where
        for e in b["elements"]:
            check_element(e, where)
    elif kind == "input":
        at_most(b["label"], 2000, f"{where} label")
        at_most(b.get("hint"), 2000, f"{where} hint")
        check_element(b["element"], where)


def check_view(view: dict[str, Any], where: str) -> None:
    View(**view).validate_json()
    assert len(view["blocks"]) <= 100, f"{where}: {len(view['blocks'])} blocks"
    if view["type"] == "modal":
        for key in ("title", "submit", "close"):
            at_most(view.get(key), 24, f"{where} {key}")
    at_most(view.get("callback_id"), 255, f"{where} callback_id")
    at_most(view.get("private_metadata"), 3000, f"{where} private_metadata")
    for i, b in enumerate(view["blocks"]):
        check_block(b, f"{where} block {i}")


def check_message(payload: dict[str, Any], where: str) -> None:
    """A chat.* payload or a command answer: its fallback text is mrkdwn too."""
    assert isinstance(payload.get("text"), str), where
    at_most(payload["text"], 4000, f"{where} text")
    check_mrkdwn(payload["text"], f"{where} text")
    blocks = payload.get("blocks", [])
    assert len(blocks) <= 50, f"{where}: {len(blocks)} blocks"
    for i, b in enumerate(blocks):
        check_block(b, f"{where} block {i}")


def check_sent(method: str, payload: dict[str, Any], where: str) -> None:
    """An outbox row as the relay sends it (`fit_payload` applied, like `relay.deliver`)."""
    fitted = fit_payload(method, payload)
    if method in CHAT:
        check_message(fitted, where)
    else:
        assert method == "views.publish", method
        check_view(fitted["view"], where)


# --- a real register -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def rt(tmp_path_factory: pytest.TempPathFactory, policy: Policy) -> Iterator[Runtime]:
    url = f"sqlite:///{tmp_path_factory.mktemp('blockkit') / 'pilotgate.db'}"
    upgrade(url)
    db = Database(url)
    rules = EvidenceRules(missing_evidence="warn", last_n=5, window_days=14)
    runtime = Runtime(
        Settings(PILOTGATE_DATABASE_URL=url),
        db=db,
        policy=policy.model_copy(update={"evidence": rules}),
    )
    set_runtime(runtime)
    yield runtime
    set_runtime(None)
    db.dispose()


@pytest.fixture(scope="module")
def policy() -> Policy:
    from lifecycle.policy import load_policy  # Deferred: the module fixture shadows conftest's

    return load_policy(EXAMPLES / "policy.yaml")


_ids = count()
EXAMPLE = yaml.safe_load((EXAMPLES / "helpdesk-assistant.yaml").read_text())


def proposal(title: str, who: str, text: str, metrics: int, criteria: int) -> Proposal:
    data = dict(EXAMPLE)
    data["title"] = title
    data["portfolio"] = f"blockkit-{next(_ids)}"  # one pilot each: no portfolio cap in the way
    data["problem"] = text
    data["proposer"] = {"name": who, "slack_id": "U0PRO0001"}
    data["business_owner"] = dict(EXAMPLE["business_owner"], name=who)
    data["technical_lead"] = {"name": who, "slack_id": "U0TEC0001"}
    data["success_metrics"] = [
        {
            "name": f"m{i}",
            "unit": text[:200] if usable(text) else "x",
            "baseline": 10,
            "target": 1,
            "better": "lower",
            "description": text,
        }
        for i in range(max(metrics, 1))
    ]
    items = [f"{text[:300]} {i}" for i in range(max(criteria, 1))]
    data["readiness_criteria"] = {
        "technical": items,
        "operational": items[: max(1, criteria // 2)],
        "business_case": text,
    }
    return Proposal.model_validate(data)


def outbox_since(r: Runtime, mark: int, policy: Policy | None = None) -> list[OutboxMessage]:
    """The rows queued after `mark`, each payload as the relay would send it now (a deferred
    refresh or close rendered, names by `policy`)."""
    with r.db.session() as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.id > mark)).all()
        for row in rows:
            sent = messages.as_sent(session, row.ref_id, row.payload, policy=policy, now=NOW)
            assert sent is not None, row.id
            row.payload = sent
        session.expunge_all()
        return list(rows)


def last_id(r: Runtime) -> int:
    with r.db.session() as session:
        return max(session.scalars(select(OutboxMessage.id)).all(), default=0)


def new_pilot(r: Runtime, p: Proposal, stage: Stage) -> str:
    """A pilot at `stage` whose gate is open (the asks queued)."""
    with r.db.session() as session:
        pilot = pilots.create_pilot(
            session, p, r.policy, actor="test", now=NOW - timedelta(days=90)
        )
        current = Stage.PROPOSAL
        for target in (Stage.PILOT, Stage.READINESS_REVIEW)[: 0 if stage is Stage.PROPOSAL else 2]:
            assert pilots.move_stage(
                session,
                pilot.id,
                expected=current,
                target=target,
                actor="test",
                reason="test",
                now=NOW - timedelta(days=1),
                policy=r.policy,
            )
            current = target
        pid = pilot.id
    open_gate.fn(OpenGateInput(pilot_id=pid, stage=stage, actor="test", now=NOW))
    return pid


# --- the properties ------------------------------------------------------------------------


@PROFILE
@given(
    title=titles,
    who=names,
    text=names,
    metrics=st.integers(0, 200),
    criteria=st.integers(0, 200),
    stage=st.sampled_from([Stage.PROPOSAL, Stage.READINESS_REVIEW]),
    reason=hostile,
)
def test_asks_reminders_and_closed_requests(
    rt: Runtime,
    title: str,
    who: str,
    text: str,
    metrics: int,
    criteria: int,
    stage: Stage,
    reason: str,
) -> None:
    mark = last_id(rt)
    pid = new_pilot(rt, proposal(title, who, text, metrics, criteria), stage)
    with rt.db.session() as session:
        pilot = pilots.get_pilot(session, pid)
        gate = gates.open_gate_for(session, pid)
        assert gate is not None
        requests = gates.requests_for(session, gate.id)
        assert requests
        for i, request in enumerate(requests):
            messages.remind(session, pilot, gate, request, 0.5 + i / 100, NOW)
        first, *rest = requests
        outcome = messages.decision_outcome(first.approver, "reject", reason, NOW)
        messages.close_request(session, first, outcome, NOW)
        for request in rest:
            messages.close_request(
                session, request, messages.gate_outcome(GatePhase.CANCELLED, reason), NOW
            )
            messages.close_request(
                session, request, messages.handed_over("U0PMO0002", reason, away=True), NOW
            )
        relay._report_undeliverable_ask(session, first.id, reason, NOW)
    rows = outbox_since(rt, mark)
    kinds = {r.ref_kind for r in rows}
    assert {"request", "reminder", "request_update", "notice"} <= kinds, kinds
    for row in rows:
        check_sent(row.method, row.payload, f"{row.ref_kind} {row.method}")
    if stage is Stage.PROPOSAL and metrics > messages.MAX_METRICS:
        # the metrics past the cap are counted and linked, not dropped in silence
        [ask] = [r for r in rows if r.ref_kind == "request"][:1]
        more = [b for b in ask.payload["blocks"] if "more metric(s)" in str(b)]
        assert f"…and {metrics - messages.MAX_METRICS} more metric(s)" in str(more), more
        assert pilot_url(pid) in str(more)


@PROFILE
@given(
    headline=hostile,
    detail=st.none() | hostile,
    because=hostile,
    who=names,
    waiting=st.integers(0, 200),
    lines=st.tuples(st.integers(0, 200), st.integers(0, 200), st.integers(0, 200)),
    line=hostile,
)
def test_notices_digest_warnings_and_ephemerals(
    rt: Runtime,
    headline: str,
    detail: str | None,
    because: str,
    who: str,
    waiting: int,
    lines: tuple[int, int, int],
    line: str,
) -> None:
    n = next(_ids)
    mark = last_id(rt)
    with rt.db.session() as session:
        pilot = session.scalars(select(Pilot).limit(1)).first()
        gate = gates.open_gate_for(session, pilot.id) if pilot else None
        messages.notify(session, "U0BIZ0001", headline, detail, NOW, pilot_id="pg-0000abcd")
        messages.notify(session, "U0BIZ0001", headline, None, NOW)
        terminated, due, caps = (
            [f"pg-{i:08x} {line}" if i % 2 else line for i in range(k)] for k in lines
        )
        messages.digest(
            session,
            "C0PORTFOLIO",
            now=NOW,
            terminated=terminated,
            due=due,
            caps=caps,
            audit_head="12:" + "ab" * 32,
        )
        if pilot is not None and gate is not None:
            messages.owner_warning(
                session,
                pilot,
                gate,
                user="U0BIZ0001",
                because=because,
                short={"finance": 1, "programme_office": 2},
                waiting=[
                    (f"U0X{i:06d}", "finance", "U0PMO0001" if i % 3 else None)
                    for i in range(waiting)
                ],
                names={f"U0X{i:06d}": who for i in range(0, waiting, 2)} | {"U0PMO0001": who},
                time_left="5 h",
                now=NOW,
                dedupe_key=f"warn-{n}",
            )
        messages.ephemeral(
            session,
            "D0CHANNEL",
            "U0FIN0001",
            Mrkdwn(FORM_FAILED.format(error=mrkdwn_escape(headline), url=pilot_url("pg-0000abcd"))),
            NOW,
            dedupe_key=f"form-{n}",
        )
        messages.not_yours(session, "D0CHANNEL", f"U0N{n:06d}", "This request is not yours.", NOW)
    rows = outbox_since(rt, mark)
    for row in rows:
        check_sent(row.method, row.payload, f"{row.ref_kind} {row.method}")
    [sent] = [r.payload for r in rows if r.ref_kind == "digest"]
    for block, total in zip(sent["blocks"][1:4], lines, strict=True):
        text = block["text"]["text"]
        more = re.search(r"\n…and (\d+) more: <[^<>|]+\|see them all>\.$", text)
        if more is not None:  # the lines that did not fit are counted, never cut in silence
            assert 1 <= int(more.group(1)) <= total, text[-100:]
        elif total and len(mrkdwn_escape(line)) < messages._LIST_BUDGET - 100:
            # else every line is there whole (a lone line longer than the section is cut)
            assert text.count(mrkdwn_escape(line)) >= total, text[-100:]


def fake_pilot(i: int, title: str) -> Pilot:
    return Pilot(
        id=f"pg-{i:08x}", title=title, stage=Stage.PILOT, portfolio="p", business_owner="U0BIZ0001"
    )


@PROFILE
@given(
    title=hostile,
    role=names,
    counts=st.tuples(st.integers(0, 200), st.integers(0, 200), st.integers(0, 200)),
    people=st.integers(0, 200),
)
def test_app_home(
    rt: Runtime, title: str, role: str, counts: tuple[int, int, int], people: int
) -> None:
    w, p, b = counts
    deadline = NOW + timedelta(hours=5)
    waiting = [
        Waiting(
            i,
            role,
            "U0PMO0002" if i % 2 else None,
            i,
            "pilot",
            "readiness_review",
            deadline,
            f"pg-{i:08x}",
            title,
        )
        for i in range(w)
    ]
    blocked = [
        Blocked(
            i,
            f"pg-{i:08x}",
            title,
            "pilot",
            "readiness_review",
            deadline - timedelta(days=i),
            tuple((role, f"U0X{j:06d}") for j in range(people)),
        )
        for i in range(b)
    ]
    blocks = home.home_blocks(
        now=NOW,
        waiting=waiting,
        pilots=[fake_pilot(i, title) for i in range(p)],
        open_gates={},
        at_risk=blocked,
        base_url=BASE,
    )
    view = View(type="home", callback_id="pilotgate_home", blocks=blocks)
    check_view(view.to_dict(), "home (built)")
    # and the Home as published from the register the other tests filled
    mark = last_id(rt)
    with rt.db.session() as session:
        for user in ("U0PMO0001", "U0FIN0001", "U0PRO0001"):
            home.publish(session, user, NOW, programme_office=user == "U0PMO0001")
    for row in outbox_since(rt, mark):
        check_sent(row.method, row.payload, "home views.publish")


@PROFILE
@given(
    title=hostile,
    typed=hostile,
    role=names,
    items=st.integers(0, 200),
    people=st.integers(0, 200),
)
def test_command_answers_and_modals(
    rt: Runtime, title: str, typed: str, role: str, items: int, people: int
) -> None:
    deadline = NOW - timedelta(hours=3)
    pilot_list = [fake_pilot(i, title) for i in range(items)]
    blocked = [
        Blocked(
            i,
            f"pg-{i:08x}",
            title,
            "pilot",
            "readiness_review",
            deadline,
            tuple((role, f"U0X{j:06d}") for j in range(people)),
        )
        for i in range(items)
    ]
    answers = [
        command.help_answer(True),
        command.help_answer(False),
        command.list_answer(pilot_list, {}),
        command.waiting_answer(blocked, NOW),
        command.say("unknown", typed),
        command.say("no_pilot", typed),
        command.say("cannot", typed),
        command.say("dialog_failed", typed, typed),
        command.say("advancing", "pg-0000abcd", title, "pilot", "readiness_review"),
        command.not_pmo("terminate", "programme_office"),
    ]
    views = [command.propose_modal()]
    with rt.db.session() as session:
        for pilot in session.scalars(select(Pilot).limit(5)):
            pilot.title = title  # not flushed: rolled back with the session
            gate = gates.open_gate_for(session, pilot.id)
            requests = gates.requests_for(session, gate.id) if gate else []
            decisions = [
                Decision(request_id=r.id, verdict="approve" if r.id % 2 else "reject")
                for r in requests
            ]
            answers.append(
                command.status_answer(
                    pilot, gate, requests, decisions, [(role, "U0FIN0001")] * people, NOW
                )
            )
            answers.append(command.status_stage_only(pilot, typed))
            views.append(command.terminate_modal(pilot))
            views.append(
                render_view("reject_modal.json.j2", request_id=7, title=title, stage_label="Pilot")
            )
        session.rollback()
    for i, a in enumerate(answers):
        check_message(a, f"answer {i}")
    for i, v in enumerate(views):
        check_view(v, f"modal {i}")


_MORE = re.compile(r"…and (\d+) more: <([^<>|]+)\|see them all>\.")


@PROFILE
@given(
    name=names,
    role=names,
    counts=st.lists(st.integers(0, 60), min_size=1, max_size=30),
    verdicts=st.lists(st.sampled_from([None, "approve", "reject"]), min_size=1, max_size=3),
    asked=st.integers(0, 60),
    text=names,
)
def test_the_tally_and_the_reminder_page_many_roles_and_people(
    rt: Runtime,
    name: str,
    role: str,
    counts: list[int],
    verdicts: list[str | None],
    asked: int,
    text: str,
) -> None:
    """The ask's live tally (hostile names and roles, up to 30 roles of up to 60 people) and a
    reminder's "Also waiting" (up to 60 more people in a hostile role): within the limits,
    escaped, and whatever is not shown is counted with "…and N more" and the pilot's link."""
    mark = last_id(rt)
    pid = new_pilot(rt, proposal(f"tally {next(_ids)}", name, text, 1, 1), Stage.PROPOSAL)
    url = pilot_url(pid)
    seat = count()
    tallies = []
    for r, n in enumerate(counts):
        seats = []
        for _ in range(n):
            i = next(seat)
            verdict = verdicts[i % len(verdicts)]
            seats.append(
                Seat(
                    i,
                    f"U0X{i:06d}",
                    "U0PMO0001" if i % 3 == 0 else None,
                    Verdict(verdict) if verdict else None,
                )
            )
        needed = None if r == len(counts) - 1 and r else max(1, n // 2)
        tallies.append(RoleTally(f"{role}{r}", needed, tuple(seats)))
    named = {f"U0X{i:06d}": name for i in range(0, next(seat), 2)} | {"U0PMO0001": name}
    tally = messages.tally_text(tallies, named, url)
    assert tally is not None
    total = sum(counts)
    hidden = [int(m.group(1)) for m in _MORE.finditer(tally)]
    assert all(m.group(2) == url for m in _MORE.finditer(tally))
    if any(n > messages.MAX_TALLY_NAMES for n in counts):
        assert hidden, tally[-200:]  # never cut in silence
    assert sum(hidden) <= total + len(counts)
    hostile_people = [f"U0Y{i:06d}" for i in range(asked)]
    people = {p: PersonEntry.model_construct(name=name) for p in hostile_people}
    named_policy = rt.policy.model_copy(update={"people": people})
    with rt.db.session() as session:
        pilot = pilots.get_pilot(session, pid)
        gate = gates.open_gate_for(session, pid)
        assert gate is not None
        request = gates.requests_for(session, gate.id)[0]
        blocks = messages.request_blocks(pilot, gate, request, tally)
        extra = gates.add_requests(session, gate, hostile_people, role[:64], 0, NOW)
        refreshed = messages.refresh_asks(session, gate, now=NOW, skip={r.id for r in extra})
        messages.remind(session, pilot, gate, request, 0.5, NOW)
        expected = [r.id for r in gates.requests_for(session, gate.id) if r not in extra]
    assert refreshed == expected
    check_sent("chat.update", {"text": "tally", "blocks": blocks}, "tally (built)")
    rows = outbox_since(rt, mark, named_policy)
    assert {"request", "request_refresh", "reminder"} <= {r.ref_kind for r in rows}
    for row in rows:
        check_sent(row.method, row.payload, f"{row.ref_kind} {row.method}")
    [reminder] = [r for r in rows if r.ref_kind == "reminder"]
    waiting = reminder.payload["blocks"][1]["text"]["text"]
    if asked > messages.MAX_TALLY_NAMES:
        assert _MORE.search(waiting) and url in waiting, waiting[-200:]
