"""The listener refuses before it parses: unsigned junk is 401, signed junk is 400 (never a
500 and a traceback), and a signed click from another workspace or app counts for nothing when
pilotgate knows its own (SLACK_TEAM_ID, SLACK_APP_ID)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from listener_scene import PMO1, SECRET, TOKEN, Ask, Scene
from sqlalchemy import select

from config.settings import Settings
from slack_in.server import start_in_thread
from store.models import Decision, OutboxMessage
from tasks.runtime import Runtime

Asks = dict[str, Ask]


def _post(scene: Scene, url: str, body: str, *, signed: bool = True) -> int:
    now = str(int(time.time()))
    signature = scene.emu.sign(body, now) if signed else "v0=" + "0" * 64
    return scene.emu.send_raw(url, body, now, signature).status_code


def _nothing_recorded(scene: Scene) -> None:
    assert scene.count(Decision) == 0
    with scene.db.session() as session:
        assert (
            session.execute(
                select(OutboxMessage.id).where(OutboxMessage.method == "chat.postEphemeral")
            ).first()
            is None
        )


@pytest.mark.parametrize(
    "payload",
    [
        "{not json",
        "[1]",
        "null",
        json.dumps({"type": "block_actions", "actions": []}),
        json.dumps({"type": "block_actions", "actions": ["x"]}),
        json.dumps({"type": "view_submission", "view": "x"}),
    ],
)
def test_junk_is_refused_before_it_is_parsed(
    scene: Scene, gate: tuple[int, Asks], payload: str, caplog: pytest.LogCaptureFixture
) -> None:
    body = urlencode({"payload": payload})
    with caplog.at_level(logging.INFO):
        assert _post(scene, scene.url, body, signed=False) == 401
        assert _post(scene, scene.url, body) == 400
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    refusals = [r.getMessage() for r in caplog.records if "refused a request" in r.getMessage()]
    assert len(refusals) == 2 and payload not in " ".join(refusals)  # one line each, no body
    _nothing_recorded(scene)


@pytest.fixture
def own_workspace(scene: Scene) -> Iterator[str]:
    """A second listener that knows its workspace and app."""
    settings = Settings(
        _env_file=None,
        PILOTGATE_DATABASE_URL=scene.db.url,  # type: ignore[call-arg]
        SLACK_API_URL=scene.emu.api_url,
        SLACK_BOT_TOKEN=TOKEN,
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_TEAM_ID=scene.emu.team_id,
        SLACK_APP_ID="A0PILOTGATE",
    )
    listener = start_in_thread(Runtime(settings, db=scene.db, policy=scene.runtime.policy))
    yield listener.url
    listener.stop(wait=False)


def _click_body(scene: Scene, ask: Ask, **claims: object) -> str:
    payload = scene.emu.build_block_actions(PMO1, ask.channel, ask.ts, "pilotgate_approve")
    payload.update(claims)
    return urlencode({"payload": json.dumps(payload, separators=(",", ":"))})


def test_only_our_workspace_and_app_count(
    scene: Scene, gate: tuple[int, Asks], own_workspace: str
) -> None:
    _, asks = gate
    ask = asks[PMO1]
    other_team = _click_body(
        scene, ask, team={"id": "T0OTHER01", "domain": "evil"}, api_app_id="A0PILOTGATE"
    )
    assert _post(scene, own_workspace, other_team) == 403
    other_app = _click_body(scene, ask, api_app_id="A0SOMEAPP")
    assert _post(scene, own_workspace, other_app) == 403
    _nothing_recorded(scene)
    ours = _click_body(scene, ask, api_app_id="A0PILOTGATE")
    assert _post(scene, own_workspace, ours) == 200
    assert scene.count(Decision) == 1
