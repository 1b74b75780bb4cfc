"""`/pilotgate propose`: a dialog with the proposal's fields, checked by the very rules
`pilotgate propose` applies, each problem on its own field in the CLI's words, nothing
recorded until it is right; then the pilot is recorded with the Slack user as proposer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from listener_scene import FIN, OWNER, Scene
from sqlalchemy import select
from typer.testing import CliRunner

from lifecycle.policy import Policy
from pilotgate.cli import app as cli_app
from store.models import AuditEntry, Pilot
from tasks.runtime import Runtime, set_runtime

NEWCOMER = "U0NEW0001"
METRICS = "- {name: resolution_minutes, unit: minutes, baseline: 11, target: 1, better: lower}"
CRITERIA = (
    "{technical: [p95 under 2 s], operational: [on-call rota], "
    "business_case: Saves 7000 hours a year}"
)
GOOD = {
    "title": "Contract review <assistant> & co",
    "problem": "Contract reviews take 4 days",
    "portfolio": "legal",
    "risk_tier": "medium",
    "customer_facing": "false",
    "business_owner.name": "Tom Becker",
    "business_owner.slack_id": OWNER,
    "business_owner.budget": "90000",
    "technical_lead.name": "Ana Souza",
    "technical_lead.slack_id": "U0TEC0001",
    "pilot_duration_days": "90",
    "success_metrics": METRICS,
    "readiness_criteria": CRITERIA,
}


@pytest.fixture(autouse=True)
def newcomer_in_a_role(scene: Scene, policy: Policy) -> None:
    """Only people in a policy role may propose: the newcomer has one (and is named nowhere
    else, so nothing here is theirs but what they propose)."""
    roles = {**policy.roles, "contributors": [NEWCOMER]}
    in_role = policy.model_copy(update={"roles": roles})
    set_runtime(Runtime(scene.runtime.settings, db=scene.db, policy=in_role))


def open_dialog(scene: Scene, user: str) -> str:
    answer = scene.emu.slash_command(scene.url, user, "/pilotgate", "propose")
    assert answer.text == "Fill in the dialog to propose a pilot."
    view = scene.emu.latest_view_for(user)
    assert view is not None and view.view["callback_id"] == "pilotgate_propose_modal"
    return view.id


def submit(scene: Scene, user: str, view_id: str, values: dict[str, str]) -> Any:
    response = scene.emu.submit_view(scene.url, user, view_id, values)
    assert response.status_code == 200
    return response.json() if response.text else None


def cli_errors(tmp_path: Path, values: dict[str, str], proposer: str) -> str:
    """What `pilotgate propose` says about the same proposal as a file."""
    data: dict[str, Any] = {"proposer": {"name": proposer.lower(), "slack_id": proposer}}
    for key, value in values.items():
        if key in ("success_metrics", "readiness_criteria"):
            data[key] = yaml.safe_load(value)
        elif "." in key:
            parent, child = key.split(".")
            data.setdefault(parent, {})[child] = value
        else:
            data[key] = value == "true" if key == "customer_facing" else value
    path = tmp_path / "proposal.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    result = CliRunner().invoke(cli_app, ["propose", str(path)])
    assert result.exit_code == 2, result.output
    return result.output


def pilots_in(scene: Scene) -> list[Pilot]:
    with scene.db.session() as session:
        return list(session.execute(select(Pilot)).scalars())


def test_a_bad_proposal_gets_the_cli_s_errors_on_its_fields(scene: Scene, tmp_path: Path) -> None:
    view_id = open_dialog(scene, NEWCOMER)
    bad = {
        **GOOD,
        "business_owner.slack_id": "nobody",
        "business_owner.budget": "-5",
        "success_metrics": METRICS.replace("target: 1", "target: 12"),
    }
    errors = submit(scene, NEWCOMER, view_id, bad)
    assert errors == {
        "response_action": "errors",
        "errors": {
            "business_owner.slack_id": "business_owner.slack_id: 'nobody' is not a Slack user "
            "id (like U0123ABCD)",
            "business_owner.budget": "business_owner.budget: Input should be greater than 0",
            "success_metrics": "success_metrics[0]: target 12.0 must be below baseline 11.0 "
            "when lower is better",
        },
    }
    said = cli_errors(tmp_path, bad, NEWCOMER)
    for text in errors["errors"].values():
        assert text in said  # the same words as `pilotgate propose`
    assert submit(scene, NEWCOMER, view_id, {**GOOD, "success_metrics": "- [unclosed"}) == {
        "response_action": "errors",
        "errors": {"success_metrics": "success_metrics: invalid YAML (expected ',' or ']', "
                                      "but got '<stream end>')"},
    }
    # The policy's rules too: the limit, and gates its own people would make impossible
    # (finance's only member cannot be asked to approve what they proposed).
    assert submit(scene, NEWCOMER, view_id, {**GOOD, "pilot_duration_days": "400"}) == {
        "response_action": "errors",
        "errors": {"pilot_duration_days": "pilot_duration_days: 400 is above the "
                                          "deploy-or-terminate limit of 182 days"},
    }
    fin_view = open_dialog(scene, FIN)
    refused = submit(scene, FIN, fin_view, GOOD)
    assert list(refused["errors"]) == ["title"]
    assert refused["errors"]["title"].startswith("gate proposal -> pilot: ")
    assert pilots_in(scene) == []
    assert scene.emu.get_view(view_id).status == "open"  # type: ignore[union-attr]


def test_a_good_proposal_is_recorded_with_the_slack_user_as_proposer(
    scene: Scene, policy: Policy
) -> None:
    view_id = open_dialog(scene, NEWCOMER)
    assert submit(scene, NEWCOMER, view_id, GOOD) is None  # acked: the dialog closes
    [pilot] = pilots_in(scene)
    assert (pilot.title, pilot.portfolio, pilot.proposer, pilot.business_owner) == (
        GOOD["title"], "legal", NEWCOMER, OWNER)
    assert pilot.stage == "proposal" and pilot.risk_tier == "medium"
    assert pilot.proposal["proposer"] == {"name": "u0new0001", "slack_id": NEWCOMER}
    with scene.db.session() as session:
        entry = session.execute(
            select(AuditEntry).where(AuditEntry.action == "pilot.proposed")).scalar_one()
        assert (entry.actor, entry.pilot_id) == (NEWCOMER, pilot.id)
    assert scene.emu.get_view(view_id).status == "closed"  # type: ignore[union-attr]
    assert scene.relay().errors == []
    [notice] = scene.emu.messages_in(scene.emu.dm_channel_for(NEWCOMER))
    assert notice.text == (
        f"Recorded Contract review &lt;assistant&gt; &amp; co in portfolio legal as {pilot.id}. "
        f"Next: /pilotgate advance {pilot.id} (programme office).")

    # The same title again in the same portfolio: refused on the title, as the CLI refuses it.
    again = open_dialog(scene, NEWCOMER)
    twin = submit(scene, NEWCOMER, again, GOOD)
    assert twin == {"response_action": "errors", "errors": {
        "title": f"{pilot.id} already has this title in portfolio legal (proposal)"}}
    assert len(pilots_in(scene)) == 1
