"""manifest.yaml says what the code does: the slash commands and events the listeners
register, the request URLs the server serves, the sign-in redirect, and exactly the bot scopes
the Web API methods pilotgate calls need (no fewer, or calls fail; no more, least privilege).
Then the manifest's command and event go through the real listener."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from listener_scene import PMO1, Scene

from slack_in.server import EVENTS_PATH
from web.signin import CALLBACK, SCOPES

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "manifest.yaml"
#: the packages whose code calls Slack.
CALLERS = ("slack_in", "slack_out", "tasks", "flows", "pilotgate", "web")
#: Web API method -> the bot scope it needs (None: none). A method missing here fails the
#: test: look its scope up at https://api.slack.com/methods and add it (and to the manifest).
METHOD_SCOPES: dict[str, str | None] = {
    "chat.postMessage": "chat:write",
    "chat.postEphemeral": "chat:write",
    "chat.update": "chat:write",
    "chat.delete": "chat:write",
    "conversations.open": "im:write",
    "conversations.info": "channels:read",  # the digest channel is a public channel
    "users.info": "users:read",
    "views.open": None,
    "views.update": None,
    "views.publish": None,
    "auth.test": None,
    # Sign in with Slack: the app's client credentials and the user's token, not the bot's.
    "openid.connect.token": None,
    "openid.connect.userInfo": None,
}
_FAMILIES = "(?:chat|conversations|views|users|auth|openid)"
_QUOTED = re.compile(rf"""["']({_FAMILIES}\.[A-Za-z.]+)["']""")
_CLIENT_CALL = re.compile(rf"\bclient\.({_FAMILIES}_[A-Za-z_]+)\(")


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    data = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _sources() -> list[Path]:
    return [p for pkg in CALLERS for p in sorted((ROOT / pkg).rglob("*.py"))]


def called_methods() -> set[str]:
    """Every Web API method named in the code, as `"chat.update"` or `client.views_open(`."""
    found: set[str] = set()
    for path in _sources():
        text = path.read_text(encoding="utf-8")
        found.update(_QUOTED.findall(text))
        # slack_sdk's method names: `views_open`, `chat_postMessage`, `openid_connect_token`
        found.update(name.replace("_", ".") for name in _CLIENT_CALL.findall(text))
    return found


def registered() -> dict[str, set[str]]:
    """What slack_in's listeners register with bolt: `@app.command(X)`, `@app.event(X)`,
    `@app.action(X)`, `@app.view(X)` (X a literal or a module constant)."""
    out: dict[str, set[str]] = {"command": set(), "event": set(), "action": set(), "view": set()}
    for path in sorted((ROOT / "slack_in").glob("*.py")):
        module = importlib.import_module(f"slack_in.{path.stem}")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "app"
                and node.func.attr in out
                and node.args
            ):
                continue
            arg = node.args[0]
            if isinstance(arg, ast.Constant):
                value = arg.value
            elif isinstance(arg, ast.Name):
                value = getattr(module, arg.id)
            else:  # an attribute such as words.TERMINATE_MODAL
                assert isinstance(arg, ast.Attribute) and isinstance(arg.value, ast.Name)
                value = getattr(getattr(module, arg.value.id), arg.attr)
            out[node.func.attr].add(str(value))
    return out


def test_the_manifest_matches_what_the_listeners_register(manifest: dict[str, Any]) -> None:
    features, settings = manifest["features"], manifest["settings"]
    listeners = registered()
    assert {c["command"] for c in features["slash_commands"]} == listeners["command"] == {
        "/pilotgate"}
    assert set(settings["event_subscriptions"]["bot_events"]) == listeners["event"] == {
        "app_home_opened"}
    assert listeners["action"] and listeners["view"]  # buttons and modals: interactivity on
    assert settings["interactivity"]["is_enabled"] is True
    assert features["app_home"]["home_tab_enabled"] is True
    # Every request URL is the one route the listener serves; sign-in comes back to /signin.
    urls = [c["url"] for c in features["slash_commands"]] + [
        settings["event_subscriptions"]["request_url"], settings["interactivity"]["request_url"]]
    assert {urlsplit(u).path for u in urls} == {EVENTS_PATH}
    assert all(urlsplit(u).scheme == "https" for u in urls)
    assert [urlsplit(u).path for u in manifest["oauth_config"]["redirect_urls"]] == [CALLBACK]
    assert settings["socket_mode_enabled"] is False  # HTTP by default; README says when to flip


def test_the_bot_has_exactly_the_scopes_its_calls_need(manifest: dict[str, Any]) -> None:
    methods = called_methods()
    unknown = sorted(methods - set(METHOD_SCOPES))
    assert not unknown, f"Web API methods with no known scope: {unknown}"
    needed = {METHOD_SCOPES[m] for m in methods} - {None}
    if registered()["command"]:
        needed.add("commands")
    scopes = manifest["oauth_config"]["scopes"]
    assert set(scopes["bot"]) == needed
    assert set(scopes["user"]) == set(SCOPES.split())
    assert {"views.publish", "views.open", "chat.postMessage"} <= methods  # the scan sees them


def test_the_manifest_s_command_and_event_reach_the_listener(
    scene: Scene, manifest: dict[str, Any]
) -> None:
    [command] = manifest["features"]["slash_commands"]
    answer = scene.emu.slash_command(scene.url, PMO1, command["command"], "help")
    assert answer.response.status_code == 200 and answer.text.startswith("*/pilotgate*")
    for usage in command["usage_hint"].split(" | "):
        assert f"`/pilotgate {usage}`" in answer.text  # the hint and the help agree
    [event] = manifest["settings"]["event_subscriptions"]["bot_events"]
    assert event == "app_home_opened"
    assert scene.emu.open_home(scene.url, PMO1).status_code == 200
    assert scene.relay().errors == [] and scene.emu.home_for(PMO1) is not None
    # A command the manifest does not declare is not handled (bolt answers 404).
    other = scene.emu.slash_command(scene.url, PMO1, "/elsewhere", "help")
    assert other.response.status_code == 404 and other.message is None
