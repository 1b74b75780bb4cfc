"""People by name on the command line and in the report: `status`, `list`, `delegate list` and
`report --html/--markdown` show the policy's name, else the cached Slack name, else the
proposal's, with the id beside it; report rows link to the pilot's page only when
PILOTGATE_BASE_URL says where the pages are. Reading never calls Slack (only the cache)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from cli_harness import EXAMPLES_DIR, ROOT, Cli
from sqlalchemy import select

from lifecycle.gates import Verdict, plan_gate
from lifecycle.policy import load_policy
from lifecycle.proposal import load_proposal
from lifecycle.stages import Stage
from store import gates, people, pilots
from store.db import Database
from store.models import OutboxMessage

PMO1, PMO2, FIN, CIO, OWNER = "U0PMO0001", "U0PMO0002", "U0FIN0001", "U0CIO0001", "U0BIZ0001"
BASE = "https://pilotgate.example.com"


@pytest.fixture
def named(migrated: Cli) -> Cli:
    """The example policy naming only FIN (and FIN also in `cio`, so it can be delegated)."""
    data = yaml.safe_load((EXAMPLES_DIR / "policy.yaml").read_text())
    data["people"] = {FIN: {"name": "Dana Smith"}}
    data["roles"]["cio"] = [CIO, FIN]
    path = migrated.write("policy.yaml", yaml.safe_dump(data))
    migrated.env["PILOTGATE_POLICY"] = str(path)
    return migrated


def open_gate_with_names(cli: Cli) -> str:
    """The helpdesk pilot with its proposal gate open (PMO1, PMO2, FIN asked); Slack's names
    cached for PMO1 (fresh) and the business owner (long expired: still shown)."""
    policy = load_policy(Path(cli.env["PILOTGATE_POLICY"]))
    proposal = load_proposal(EXAMPLES_DIR / "helpdesk-assistant.yaml")
    db = Database(cli.url)
    try:
        now = datetime.now(UTC)
        with db.session() as session:
            pilot = pilots.create_pilot(session, proposal, policy, actor="test", now=now)
            plan = plan_gate(policy, proposal, Stage.PROPOSAL, Stage.PILOT)
            gates.open_gate(session, pilot.id, plan, deadline=now + timedelta(days=7),
                            escalation_role=None, now=now, actor=PMO1)
            people.record(session, PMO1, name="Pat Moreno", real_name="Patricia Moreno",
                          source=people.SLACK, now=now)
            people.record(session, OWNER, name="Thomas Becker", real_name=None,
                          source=people.SLACK, now=now - timedelta(days=90))
            return pilot.id
    finally:
        db.dispose()


def test_status_and_list_show_names_with_ids(named: Cli) -> None:
    pilot_id = open_gate_with_names(named)
    text = named.run("status", pilot_id)
    assert text.exit_code == 0, text.stderr
    assert "Dana Smith (U0FIN0001)" in text.stdout  # the policy's name
    assert "Pat Moreno (U0PMO0001)" in text.stdout  # Slack's, from the cache
    assert re.search(r"│ U0PMO0002 +│", text.stdout)  # nobody named them: the bare id
    assert f"page: http://127.0.0.1:3000/pilots/{pilot_id}" in text.stdout
    data = json.loads(named.run("status", pilot_id, "--json").stdout)
    assert {r["approver"]: r["approver_name"] for r in data["gate"]["requests"]} == {
        PMO1: "Pat Moreno", PMO2: None, FIN: "Dana Smith"}
    assert data["owner"] == {"slack_id": OWNER, "name": "Thomas Becker"}  # stale beats none
    assert data["business_owner"] == {"name": "Tom Becker", "slack_id": OWNER}  # as proposed

    listed = named.run("list")
    assert listed.exit_code == 0, listed.stderr
    assert "Thomas Becker (U0BIZ0001)" in listed.stdout
    [row] = json.loads(named.run("list", "--json").stdout)
    assert row["owner"] == {"slack_id": OWNER, "name": "Thomas Becker"}


def test_without_a_cached_name_the_proposals_name_is_shown(migrated: Cli) -> None:
    proposed = migrated.run("propose", str(EXAMPLES_DIR / "helpdesk-assistant.yaml"))
    assert proposed.exit_code == 0, proposed.stderr
    assert "Tom Becker (U0BIZ0001)" in migrated.run("list").stdout
    history = migrated.run("status", proposed.stdout.strip()).stdout
    assert re.search(r"│ cli +│", history)  # an actor that is no person stays as it is


def test_delegate_list_shows_names(named: Cli) -> None:
    open_gate_with_names(named)
    made = named.run("delegate", FIN, "--to", CIO, "--from", "2026-12-01", "--until",
                     "2026-12-15", "--reason", "annual leave")
    assert made.exit_code == 0, made.stderr
    assert "Dana Smith (U0FIN0001)'s place" in made.stdout
    table = named.run("delegate", "list").stdout
    assert "Dana Smith (U0FIN0001)" in table and "U0CIO0001" in table


def piloting(cli: Cli) -> str:
    """The developer-productivity pilot in its pilot stage (a row of the report's ages)."""
    policy = load_policy(Path(cli.env["PILOTGATE_POLICY"]))
    proposal = load_proposal(EXAMPLES_DIR / "developer-productivity.yaml")
    db = Database(cli.url)
    try:
        now = datetime.now(UTC)
        with db.session() as session:
            pilot = pilots.create_pilot(session, proposal, policy, actor="test", now=now)
            assert pilots.move_stage(session, pilot.id, expected=Stage.PROPOSAL,
                                     target=Stage.PILOT, actor=PMO1, reason="approved",
                                     now=now, policy=policy)
            return pilot.id
    finally:
        db.dispose()


def test_report_rows_link_to_the_pilots_page_and_show_names(named: Cli) -> None:
    open_gate_with_names(named)
    pilot_id = piloting(named)
    result = named.run("report", "--html", str(named.tmp / "r.html"), "--markdown",
                       str(named.tmp / "r.md"), PILOTGATE_BASE_URL=BASE + "/")
    assert result.exit_code == 0, result.stderr
    html = (named.tmp / "r.html").read_text()
    md = (named.tmp / "r.md").read_text()
    page = f"{BASE}/pilots/{pilot_id}"
    title = "Developer productivity assistant"
    assert f'<a href="{page}">{title}</a> <code>{pilot_id}</code>' in html
    assert f"[{title}]({page}) (`{pilot_id}`)" in md
    assert '<span title="U0FIN0001">Dana Smith</span>' in html
    assert '<span title="U0PMO0001">Pat Moreno</span>' in html
    assert "| Dana Smith (U0FIN0001) | finance |" in md
    assert f"Each pilot links to its page at <{BASE}>." in md
    # the figures are the same with or without names and links
    plain = named.run("report", "--json")
    linked = named.run("report", "--json", PILOTGATE_BASE_URL=BASE)
    figures = [json.loads(r.stdout) for r in (plain, linked)]
    for f in figures:
        del f["generated_at"]
    assert figures[0] == figures[1] and FIN in plain.stdout


def test_without_a_base_url_the_report_has_no_links(named: Cli) -> None:
    open_gate_with_names(named)
    pilot_id = piloting(named)
    result = named.run("report", "--html", str(named.tmp / "r.html"), "--markdown",
                       str(named.tmp / "r.md"))
    assert result.exit_code == 0, result.stderr
    html = (named.tmp / "r.html").read_text()
    md = (named.tmp / "r.md").read_text()
    assert "<a href" not in html and "/pilots/" not in html  # never to the loopback default
    assert f"Developer productivity assistant <code>{pilot_id}</code>" in html
    assert "](" not in md and f"Developer productivity assistant (`{pilot_id}`)" in md
    assert "Dana Smith" in html and "Dana Smith (U0FIN0001)" in md  # names all the same


def test_the_naming_path_of_the_read_commands_needs_no_slack_client(tmp_path: Path) -> None:
    """What `status`, `list` and `report` use to put names to ids (the cache and the rule, the
    read models, the report) loads without slack_sdk: only `serve` asks Slack."""
    code = (
        "import sys\n"
        "import store.people, pilotgate.views, pilotgate.report, config.links\n"
        "print(','.join(m for m in ('slack_sdk', 'slack_bolt', 'prefect') if m in sys.modules))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == ""


LINK = "[Approve here](https://evil.example/a)"
IMAGE = "![](https://tracker.example/p.gif)"


def test_report_markdown_keeps_hostile_names_titles_and_reasons_as_text(named: Cli) -> None:
    """A Slack name, a title and a termination reason written as Markdown stay text in
    `report --markdown`: rendered, the only links are the pilots' pages, and no image loads."""
    # Deferred: markdown-it (rich's own renderer) reads the report as a Markdown viewer would.
    from markdown_it import MarkdownIt

    policy = load_policy(Path(named.env["PILOTGATE_POLICY"]))
    proposal = load_proposal(EXAMPLES_DIR / "helpdesk-assistant.yaml").model_copy(
        update={"title": f"{LINK} *big* \\[x\\]"}
    )
    db = Database(named.url)
    try:
        now = datetime.now(UTC)
        with db.session() as session:
            pilot = pilots.create_pilot(session, proposal, policy, actor="test", now=now)
            plan = plan_gate(policy, proposal, Stage.PROPOSAL, Stage.PILOT)
            gate = gates.open_gate(session, pilot.id, plan, deadline=now + timedelta(days=7),
                                   escalation_role=None, now=now, actor=PMO1)
            people.record(session, PMO1, name=f"- {IMAGE} `x` _y_", real_name=None,
                          source=people.SLACK, now=now)
            [ask] = [r for r in gates.requests_for(session, gate.id) if r.approver == PMO1]
            gates.record_decision(session, ask, verdict=Verdict.APPROVE, reason=None, now=now,
                                  source="test")
            pilot_id = pilot.id
            assert pilots.move_stage(session, pilot_id, expected=Stage.PROPOSAL,
                                     target=Stage.TERMINATED, actor=PMO1,
                                     reason=f"# Budget {IMAGE} {LINK}", now=now, policy=policy)
    finally:
        db.dispose()
    result = named.run("report", "--markdown", str(named.tmp / "r.md"),
                       PILOTGATE_BASE_URL=BASE)
    assert result.exit_code == 0, result.stderr
    md = (named.tmp / "r.md").read_text()
    assert "\\[Approve here\\](https://evil.example/a)" in md
    assert "\\!\\[\\](https://tracker.example/p.gif)" in md
    html = MarkdownIt("commonmark").enable("table").render(md)
    hrefs = set(re.findall(r'href="([^"]*)"', html))
    assert hrefs == {BASE, f"{BASE}/pilots/{pilot_id}"}, hrefs
    assert "<img" not in html and "<h1>Budget" not in html and "<em>" not in html
    assert "<code>x</code>" not in html
    # What people wrote reads as they wrote it.
    assert "[Approve here](https://evil.example/a) *big* \\[x\\]</a>" in html
    assert f"- {IMAGE} `x` _y_ (U0PMO0001)" in html
    assert f"# Budget {IMAGE} {LINK}" in html


def test_a_cli_proposal_refreshes_the_homes_it_shows_on(migrated: Cli) -> None:
    """`pilotgate propose` re-publishes the Home of its owner (who has one), as a proposal
    from Slack does; someone without a Home gets none."""
    # Deferred: the Home's Block Kit is not part of the CLI's naming path tested above.
    from slack_out import messages
    from slack_out.home import publish

    db = Database(migrated.url)
    try:
        with db.session() as session:
            publish(session, OWNER, datetime.now(UTC), programme_office=False)
        proposed = migrated.run("propose", str(EXAMPLES_DIR / "helpdesk-assistant.yaml"))
        assert proposed.exit_code == 0, proposed.stderr
        pilot_id = proposed.stdout.strip()
        with db.session() as session:
            rows = session.execute(
                select(OutboxMessage).where(OutboxMessage.method == "views.publish")
                .order_by(OutboxMessage.id)).scalars().all()
            # a Home is rendered when the relay sends it: as it would be now
            now = datetime.now(UTC)
            homes = [
                (r.ref_id, json.dumps(messages.as_sent(session, r.ref_id, r.payload, policy=None,
                                                       now=now)))
                for r in rows
            ]
    finally:
        db.dispose()
    assert [who for who, _ in homes] == [OWNER, OWNER]
    assert f"({pilot_id})" in homes[1][1]
