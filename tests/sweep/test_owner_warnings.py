"""Owners told before it is too late: the sweep warns the business owner and the programme
office of a gate about to run out short of its quorum, once per gate and deadline window, on
record; against real Prefect, the Slack emulator and both databases."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sweep_scene import (
    CIO,
    OWNER,
    audit_actions,
    dms,
    open_gate,
    requests,
    sweep,
    text_of,
    to_readiness_review,
)

from config.links import pilot_url
from lifecycle.policy import Policy
from store.models import OutboxMessage
from tasks.runtime import Runtime, set_runtime

PMO1, PMO2 = "U0PMO0001", "U0PMO0002"
ARCH1, OPS = "U0ARC0001", "U0OPS0001"
PILOTGATE = Path(sys.executable).parent / "pilotgate"


def _warning_rows(stack: Any) -> list[tuple[str | None, str | None, str]]:
    with stack.db.session() as session:
        rows = session.execute(
            select(OutboxMessage)
            .where(OutboxMessage.ref_kind == "owner_warning")
            .order_by(OutboxMessage.id)
        ).scalars()
        return [(r.dedupe_key, r.ref_id, r.payload["user"]) for r in rows]


def _last_dm(stack: Any, user: str) -> Any:
    return dms(stack, user)[-1]


def _with_policy(stack: Any, **changes: Any) -> Policy:
    """The stack's policy with some fields changed, in force for the following flows."""
    data = stack.policy.model_dump(mode="json")
    data.update(changes)
    policy = Policy.model_validate(data)
    set_runtime(Runtime(stack.runtime.settings, db=stack.db, policy=policy))
    return policy


def test_owner_and_programme_office_warned_once_per_window(stack: Any) -> None:
    _with_policy(stack, people={})  # nobody named: everyone is a Slack mention
    pilot_id = to_readiness_review(stack, title="Invoice <triage> & co")
    gate = open_gate(stack, pilot_id)
    # Architecture answers; operations does not.
    [arch] = [r for r in requests(stack, gate.id) if r.approver == ARCH1]
    assert stack.click(arch).status_code == 200
    stack.dispatcher.drain()

    # Five days in: not yet within the 48-hour window.
    assert sweep(stack, gate.opened_at + timedelta(days=5))["warnings"] == []
    assert _warning_rows(stack) == []

    # 36 hours before the deadline: the dry run says what it would send and sends nothing.
    at = gate.deadline - timedelta(hours=36)
    stack.clock.advance(days=8.5)
    owner_before = len(dms(stack, OWNER))
    dry = sweep(stack, at, dry_run=True)
    expected = {
        "gate_id": gate.id,
        "pilot_id": pilot_id,
        "title": "Invoice <triage> & co",
        "deadline": gate.deadline.isoformat().replace("+00:00", "Z"),
        "time_left": "1 day 12 hours",
        "waiting": [f"{OPS} (operations)"],
        "told": [OWNER, PMO1, PMO2],
    }
    assert dry["warnings"] == [expected]
    assert _warning_rows(stack) == []
    assert audit_actions(stack, "gate.owners_warned") == []

    result = sweep(stack, at)
    assert result["warnings"] == [expected]
    key = f"warn:{gate.id}:{gate.deadline:%Y%m%dT%H%M}"
    assert _warning_rows(stack) == [
        (f"{key}:{OWNER}", str(gate.id), OWNER),
        (f"{key}:{PMO1}", str(gate.id), PMO1),
        (f"{key}:{PMO2}", str(gate.id), PMO2),
    ]
    [entry] = audit_actions(stack, "gate.owners_warned", pilot_id)
    assert (entry.actor, entry.data) == (
        "sweep",
        {
            "gate_id": gate.id,
            "deadline": gate.deadline.isoformat(),
            "time_left": "1 day 12 hours",
            "short": {"operations": 1},
            "waiting": [{"approver": OPS, "role": "operations", "on_behalf_of": None}],
            "told": [OWNER, PMO1, PMO2],
        },
    )
    # One message each, in their DMs: who has not answered, the time left, the pilot's page.
    assert len(dms(stack, OWNER)) == owner_before + 1
    for user, because in [
        (OWNER, "the pilot's business owner"),
        (PMO1, "a member of programme office"),
        (PMO2, "a member of programme office"),
    ]:
        message = _last_dm(stack, user)
        assert message.thread_ts is None
        words = text_of(message)
        assert (
            ":hourglass_flowing_sand: *Invoice &lt;triage&gt; &amp; co*: the gate readiness "
            f"review → internal rollout is due {gate.deadline:%Y-%m-%d %H:%M} UTC, *1 day 12 "
            "hours left*, and its quorum is still short (operations 1 short)." in words
        ), words
        assert f"*Not answered yet*\n• <@{OPS}> (operations)" in words
        assert f"<{pilot_url(pilot_id)}|Open the pilot's page>. You are told as {because}" in words
        assert ARCH1 not in words

    # Another sweep an hour later, and a dry run: nothing more.
    later = at + timedelta(hours=1)
    assert sweep(stack, later, dry_run=True)["warnings"] == []
    assert sweep(stack, later)["warnings"] == []
    assert len(_warning_rows(stack)) == 3
    assert len(audit_actions(stack, "gate.owners_warned", pilot_id)) == 1

    # The deadline passes: the gate escalates to the CIO with a new deadline, a new window.
    stack.clock.advance(days=2)
    escalated = sweep(stack, gate.deadline + timedelta(hours=12))
    assert [a["action"] for a in escalated["deadline_actions"]] == ["escalated"]
    new_deadline = open_gate(stack, pilot_id).deadline
    assert new_deadline == gate.deadline + timedelta(hours=12, days=5)
    stack.clock.advance(days=4)
    [warned] = sweep(stack, new_deadline - timedelta(days=1))["warnings"]
    assert warned["waiting"] == [f"{OPS} (operations)", f"{CIO} (cio)"]
    assert (warned["told"], warned["time_left"]) == ([OWNER, PMO1, PMO2], "1 day")
    assert warned["deadline"] == new_deadline.isoformat().replace("+00:00", "Z")
    assert len(_warning_rows(stack)) == 6
    entries = audit_actions(stack, "gate.owners_warned", pilot_id)
    assert [e.data["deadline"] for e in entries] == [
        gate.deadline.isoformat(),
        new_deadline.isoformat(),
    ]
    assert f"• <@{OPS}> (operations)\n• <@{CIO}> (cio)" in text_of(_last_dm(stack, OWNER))


def test_names_from_the_policy_a_window_of_its_own_and_none_once_the_quorum_is_met(
    stack: Any,
) -> None:
    pilot_id = to_readiness_review(stack)
    gate = open_gate(stack, pilot_id)
    at = gate.deadline - timedelta(hours=60)
    # Warnings off: nothing, at any time.
    _with_policy(stack, warnings={"window_hours": 0})
    assert sweep(stack, gate.deadline - timedelta(hours=1))["warnings"] == []
    # A 72-hour window, and names for some of the people: the policy's name, else a mention.
    _with_policy(
        stack,
        warnings={"window_hours": 72},
        people={OPS: {"name": "Lee <Park>"}, PMO1: {"name": "Pat Office"}},
    )
    assert sweep(stack, at - timedelta(hours=13))["warnings"] == []
    stack.clock.advance(days=7.5)
    [warned] = sweep(stack, at)["warnings"]
    assert warned["waiting"] == [
        f"{ARCH1} (architecture)",
        "U0ARC0002 (architecture)",
        "Lee <Park> (operations)",
    ]
    assert warned["time_left"] == "2 days 12 hours"
    words = text_of(_last_dm(stack, PMO1))
    assert (
        f"*Not answered yet*\n• <@{ARCH1}> (architecture)\n• <@U0ARC0002> (architecture)\n"
        "• Lee &lt;Park&gt; (operations)"
    ) in words
    # Approved before the deadline: a later sweep in the window says nothing.
    stack.approve_gate(pilot_id)
    later = gate.deadline - timedelta(hours=2)
    assert sweep(stack, later)["warnings"] == []
    assert len(_warning_rows(stack)) == 3
    assert len(audit_actions(stack, "gate.owners_warned", pilot_id)) == 1


def test_sweep_dry_run_prints_the_warnings(stack: Any, prefect_api: str, tmp_path: Path) -> None:
    pilot_id = to_readiness_review(stack)
    gate = open_gate(stack, pilot_id)
    at = gate.deadline - timedelta(hours=20)
    policy_file = tmp_path / "policy.yaml"
    named = stack.policy.model_dump(mode="json") | {"people": {OPS: {"name": "Lee Park"}}}
    policy_file.write_text(json.dumps(named))  # JSON is YAML
    own = ("PILOTGATE_", "SLACK_", "PREFECT_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(own)}
    env.update(
        {
            "PILOTGATE_DATABASE_URL": stack.db.url,
            "PILOTGATE_POLICY": str(policy_file),
            "PREFECT_API_URL": prefect_api,
            "PREFECT_HOME": str(tmp_path / "prefect-home"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_LOGGING_LEVEL": "WARNING",
            "COLUMNS": "250",
            "NO_COLOR": "1",
        }
    )
    done = subprocess.run(
        [str(PILOTGATE), "sweep", "--dry-run", "--now", at.isoformat()],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (
        f"would warn {OWNER}, {PMO1}, {PMO2} about {pilot_id} IT help-desk assistant: gate due "
        f"{gate.deadline.isoformat()[:16]} (20 hours left), not answered: {ARCH1} "
        f"(architecture), U0ARC0002 (architecture), Lee Park (operations)"
    ) in done.stdout, done.stdout
    assert _warning_rows(stack) == []
