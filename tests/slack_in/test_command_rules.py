"""Who may do what with `/pilotgate`, through the real listener (signed forms from the
emulator, SQLite and PostgreSQL): the programme office is the role the policy names, `status`
keeps verdicts and reasons to the people the pilot pages are for, only policy members propose,
a dialog Slack will not open is answered (not a 500), and the Homes follow hand-overs, a
re-applied policy (a CLI proposal's: tests/cli/test_names.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from listener_scene import EXAMPLES, FIN, OWNER, PMO1, PMO2, PROPOSER, Scene
from test_command import flow_requests, say, sections
from test_home import published, texts

from config.clock import utcnow
from lifecycle.policy import Policy, parse_policy
from lifecycle.proposal import Proposal
from lifecycle.stages import Stage
from store import pilots, read_home
from store.models import Gate, SignoffRequest
from store.people import NOT_A_MEMBER
from tasks.people import create_delegation
from tasks.policy_reapply import reapply_policy
from tasks.runtime import Runtime, set_runtime

OUTSIDER = "U0OUT0001"  # in the workspace, in no policy role, named in no proposal
CIO = "U0CIO0001"  # in these tests FIN is in `cio` too, so the CIO may stand in for FIN
EXAMPLE = (EXAMPLES / "policy.yaml").read_text()


def runs_under(scene: Scene, text: str) -> Policy:
    """The listener (and the tasks it calls) run under this policy from now on."""
    policy = parse_policy(text)
    set_runtime(Runtime(scene.runtime.settings, db=scene.db, policy=policy))
    return policy


@pytest.fixture
def proposed(scene: Scene, policy: Policy, helpdesk: Proposal) -> str:
    with scene.db.session() as session:
        return pilots.create_pilot(session, helpdesk, policy, actor=PROPOSER, now=utcnow()).id


def test_the_programme_office_is_the_role_the_policy_names(scene: Scene, proposed: str) -> None:
    runs_under(scene, EXAMPLE.replace(
        "\nprogramme_office: programme_office\n", "\nprogramme_office: finance\n"))
    # The role literally named programme_office is no longer the programme office.
    for verb in ("advance", "terminate"):
        assert sections(say(scene, PMO1, f"{verb} {proposed}")) == [
            f"Only the programme office (policy role `finance`) may {verb} a pilot. "
            "Nothing changed."
        ]
    assert flow_requests(scene) == []
    [said] = sections(say(scene, FIN, f"advance {proposed}"))
    assert said.startswith(f"Running the proposal flow for *IT help-desk assistant* ({proposed})")
    [request] = flow_requests(scene)
    assert request.parameters == {"pilot_id": proposed, "actor": FIN}
    assert "`/pilotgate advance ID`" in sections(say(scene, FIN, "help"))[0]
    assert "`/pilotgate advance ID`" not in sections(say(scene, PMO1, "help"))[0]


def test_status_shows_verdicts_and_reasons_only_to_the_pages_people(
    scene: Scene, gate: tuple[int, Any]
) -> None:
    gate_id, asks = gate
    with scene.db.session() as session:
        row = session.get(Gate, gate_id)
        assert row is not None
        pilot_id = row.pilot_id
    assert scene.click(PMO1, asks[PMO1]).status_code == 200
    for member in (FIN, PROPOSER, OWNER):  # a policy role; named in the proposal
        assert f"answered: :white_check_mark: <@{PMO1}>" in sections(
            say(scene, member, f"status {pilot_id}"))[1]
    outsider = sections(say(scene, OUTSIDER, f"status {pilot_id}"))
    assert len(outsider) == 2
    assert outsider[0].endswith(f"({pilot_id}) · *proposal* · portfolio it-operations · "
                                f"owner <@{OWNER}>")
    assert outsider[1] == (
        f"{NOT_A_MEMBER} Who answered, and why a pilot ended, are for them too.")
    assert "answered" not in outsider[0] and PMO1 not in " ".join(outsider)

    with scene.db.session() as session:  # ended, with a reason on record
        assert pilots.move_stage(session, pilot_id, expected=Stage.PROPOSAL,
                                 target=Stage.TERMINATED, actor=PMO1,
                                 reason="Vendor <secret> pricing", now=utcnow(),
                                 policy=scene.runtime.policy)
    assert "Vendor &lt;secret&gt; pricing" in " ".join(sections(
        say(scene, FIN, f"status {pilot_id}")))
    ended = " ".join(sections(say(scene, OUTSIDER, f"status {pilot_id}")))
    assert "*terminated*" in ended and "secret" not in ended and "Ended" not in ended


def test_only_policy_members_may_propose(scene: Scene) -> None:
    before = len(scene.emu.calls)
    for user in (OUTSIDER, PROPOSER):  # PROPOSER is named in no proposal yet, in no role
        assert sections(say(scene, user, "propose")) == [
            "Only the people in a governance policy role may propose a pilot (a proposal "
            "counts toward its portfolio's cap); ask the programme office. Nothing changed."
        ]
    assert [c.method for c in scene.emu.calls[before:]] == []  # no dialog opened
    assert "(for the people in a policy role)" in sections(say(scene, OUTSIDER, "help"))[0]
    assert sections(say(scene, FIN, "propose")) == ["Fill in the dialog to propose a pilot."]
    view = scene.emu.latest_view_for(FIN)
    assert view is not None and view.view["callback_id"] == "pilotgate_propose_modal"


@pytest.mark.parametrize(
    ("fault", "error"),
    [("expired", "expired_trigger_id"), ("ratelimited", "ratelimited"), ("down", "HTTP 503")],
)
def test_a_dialog_slack_will_not_open_is_answered_with_what_to_do(
    scene: Scene, proposed: str, fault: str, error: str, caplog: pytest.LogCaptureFixture
) -> None:
    if fault == "expired":
        scene.emu.refuse("expired_trigger_id", methods=["views.open"], count=None)
    elif fault == "ratelimited":
        scene.emu.fail(429, count=100, retry_after=0, methods=["views.open"])
    else:
        scene.emu.outage(503, methods=["views.open"], html=True)
    for user, typed in ((PMO1, f"terminate {proposed}"), (FIN, "propose")):
        assert sections(say(scene, user, typed)) == [
            f"Slack did not open the dialog (`{error}`). Type `/pilotgate {typed}` again; if it "
            "keeps failing, Slack may be busy: wait a minute. Nothing changed."
        ]
    assert scene.emu.latest_view_for(PMO1) is None and scene.emu.latest_view_for(FIN) is None
    assert flow_requests(scene) == []
    assert "Traceback" not in caplog.text
    scene.emu.recover()
    assert sections(say(scene, FIN, "propose")) == ["Fill in the dialog to propose a pilot."]


@pytest.fixture
def with_deputy(scene: Scene) -> Iterator[Policy]:
    yield runs_under(scene, EXAMPLE.replace("cio: [U0CIO0001]", f"cio: [{CIO}, {FIN}]"))


def test_a_hand_over_refreshes_the_homes_that_showed_the_request(
    scene: Scene, helpdesk: Proposal, with_deputy: Policy
) -> None:
    policy = with_deputy
    _, gate_id = scene.propose_and_ask(helpdesk, policy)
    for user in (FIN, CIO):
        assert scene.emu.open_home(scene.url, user).status_code == 200
    assert scene.relay().errors == []
    [ask] = [r for r in scene.asks(gate_id).values() if r.approver == FIN]
    assert f"pilotgate_approve={ask.id}" in " ".join(texts(published(scene, FIN)))
    now = utcnow()
    with scene.db.session() as session:
        _, handed, _ = create_delegation(
            session, policy, approver=FIN, delegate=CIO, starts_at=now,
            ends_at=now + timedelta(days=7), reason="annual leave", actor=FIN, now=now)
    assert [h.request_id for h in handed] == [ask.id]
    assert scene.relay().errors == []
    away = " ".join(texts(published(scene, FIN)))
    assert f"={ask.id}" not in away  # no live button for a request handed over
    stands_in = " ".join(texts(published(scene, CIO)))
    assert f"pilotgate_approve={handed[0].new_request_id}" in stands_in


def test_a_re_applied_policy_refreshes_the_homes(
    scene: Scene, helpdesk: Proposal, policy: Policy
) -> None:
    _, gate_id = scene.propose_and_ask(helpdesk, policy)
    assert scene.emu.open_home(scene.url, FIN).status_code == 200
    assert scene.relay().errors == []
    [ask] = [r for r in scene.asks(gate_id).values() if r.approver == FIN]
    assert f"pilotgate_approve={ask.id}" in " ".join(texts(published(scene, FIN)))
    # Finance no longer signs the proposal gate: re-applied, FIN's request is dropped.
    lighter = runs_under(scene, EXAMPLE.replace(
        "approvers: {programme_office: 1, finance: 1}", "approvers: {programme_office: 1}", 1))
    with scene.db.session() as session:
        row = session.get(Gate, gate_id)
        assert row is not None
        done = reapply_policy(session, lighter, row.pilot_id, actor=PMO2, now=utcnow())
    assert done.dropped == [(FIN, "finance")]
    assert scene.relay().errors == []
    assert f"={ask.id}" not in " ".join(texts(published(scene, FIN)))
    with scene.db.session() as session:
        dropped = session.get(SignoffRequest, ask.id)
        assert dropped is not None and dropped.superseded_at is not None


def test_one_refresh_reads_the_programme_office_s_list_once(
    scene: Scene, gate: tuple[int, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every programme-office member's Home shows the same overdue list: the click that
    refreshes them all does not read it (the Homes are rendered as the relay sends them), and
    the relay round that sends them reads it once (up to 100 gates, two queries each), not once
    per member."""
    _, asks = gate
    for user in (PMO1, PMO2):
        assert scene.emu.open_home(scene.url, user).status_code == 200
    assert scene.relay().errors == []
    reads: list[int] = []
    real = read_home.at_risk

    def counted(*args: Any, **kwargs: Any) -> Any:
        reads.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(read_home, "at_risk", counted)
    assert scene.click(FIN, asks[FIN]).status_code == 200
    assert len(reads) == 0
    assert scene.relay().errors == []
    assert len(reads) == 1
    for user in (PMO1, PMO2):  # and both still show it
        assert "*Gates overdue or due within 7 days*" in " ".join(texts(published(scene, user)))


def test_the_overdue_list_never_reaches_a_home_outside_the_programme_office(
    scene: Scene, gate: tuple[int, Any]
) -> None:
    """The relay reads the programme office's overdue list once per round and shares it among
    the Homes it renders; a Home outside the office, rendered after an office member's in the
    same round, must not show it (it lists other pilots and who holds them up)."""
    _, asks = gate
    for user in (PMO1, PROPOSER):  # sorted, the office member's Home is rendered first
        assert scene.emu.open_home(scene.url, user).status_code == 200
    assert scene.relay().errors == []
    assert scene.click(FIN, asks[FIN]).status_code == 200
    assert scene.relay().errors == []
    heading = "*Gates overdue or due within 7 days*"
    assert heading in " ".join(texts(published(scene, PMO1)))
    assert heading not in " ".join(texts(published(scene, PROPOSER)))
