"""The App Home: Web API method ``views.publish``, the ``app_home_opened`` event, and a user
clicking a button on their Home.

Slack keeps one Home view per user and app; ``views.publish`` replaces it (checked as Slack
does: ``type: home``, at most 100 blocks, Block Kit, an optional ``hash`` that must match the
current one). Opening the Home makes Slack send a signed Events API request (JSON, not a form)
to the app's event URL; a click on a Home button is a ``block_actions`` payload whose container
is the view, with no channel and no response_url.
"""

from __future__ import annotations

import copy
import json
import time
from typing import Any

import httpx

from .blocks import MAX_VIEW_BLOCKS, BlocksInvalid, validate_blocks
from .errors import ApiError, NotFoundError
from .records import ViewRecord
from .simulated_users import SimulatedUsers
from .state import EmulatorState
from .wire import USER_ID, Params, coerce_json, fill_block_ids, now_ts, random_id

__all__ = ["HomeApi", "HomeUsers"]

_HOME_KEYS = {"type", "blocks", "private_metadata", "callback_id", "external_id"}


class HomeApi(EmulatorState):
    """``views.publish`` and the published Homes."""

    def _homes(self) -> dict[str, ViewRecord]:
        # Lazily created so the shared state needs no new field; reset() keeps Homes, as
        # Slack keeps them across sessions.
        homes: dict[str, ViewRecord] = self.__dict__.setdefault("_home_views", {})
        return homes

    # ------------------------------------------------------------------ Web API

    def _views_publish(self, params: Params) -> dict[str, Any]:
        user_id = params.get("user_id")
        if not isinstance(user_id, str) or not user_id:
            raise ApiError(
                "invalid_arguments",
                response_metadata={"messages": ["[ERROR] missing required field: user_id"]},
            )
        if not USER_ID.match(user_id) or user_id in self._disabled_users:
            raise ApiError("user_not_found" if not USER_ID.match(user_id) else "user_disabled")
        spec = _check_home(params.get("view"))
        current = self._homes().get(user_id)
        expected = params.get("hash")
        if expected and (current is None or expected != current.view["hash"]):
            raise ApiError("hash_conflict")
        view_id = current.id if current else "V" + random_id(10)
        view = {
            "id": view_id,
            "team_id": self.team_id,
            "type": "home",
            "blocks": fill_block_ids(spec["blocks"], view_id) or [],
            "private_metadata": spec.get("private_metadata", ""),
            "callback_id": spec.get("callback_id", ""),
            "external_id": spec.get("external_id", ""),
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{random_id(8)}",
            "app_id": self.app_id,
            "bot_id": self.bot_id,
            "app_installed_team_id": self.team_id,
        }
        if current is None:
            self._homes()[user_id] = ViewRecord(
                id=view_id,
                user_id=user_id,
                trigger_id="",
                view=view,
                versions=[copy.deepcopy(view)],
                opened_at=time.time(),
            )
        else:
            current.view = view
            current.versions.append(copy.deepcopy(view))
        self._changed.notify_all()
        return {"view": copy.deepcopy(view)}

    # ------------------------------------------------------------------ recordings

    def home_for(self, user_id: str) -> ViewRecord | None:
        """A copy of the user's published Home (its `versions`: every publish), or None."""
        with self._lock:
            record = self._homes().get(user_id)
            return copy.deepcopy(record) if record else None


class HomeUsers(SimulatedUsers, HomeApi):
    """A user opening their Home and clicking its buttons."""

    def open_home(
        self,
        listener_url: str | None,
        user_id: str,
        *,
        tab: str = "home",
        timestamp: int | str | None = None,
        secret: str | None = None,
    ) -> httpx.Response:
        """The user opens the app's Home (or Messages) tab: a signed ``app_home_opened``
        event goes to the listener, carrying the current Home view if there is one."""
        url = self._listener(listener_url)
        with self._lock:
            event: dict[str, Any] = {
                "type": "app_home_opened",
                "user": user_id,
                "channel": self.dm_channel_for(user_id),
                "tab": tab,
                "event_ts": now_ts(),
            }
            home = self._homes().get(user_id)
            if home is not None and tab == "home":
                event["view"] = copy.deepcopy(home.view)
            envelope = {
                "token": self.verification_token,
                "team_id": self.team_id,
                "api_app_id": self.app_id,
                "event": event,
                "type": "event_callback",
                "event_id": "Ev" + random_id(10),
                "event_time": int(time.time()),
                "authorizations": [
                    {
                        "enterprise_id": None,
                        "team_id": self.team_id,
                        "user_id": self.bot_user_id,
                        "is_bot": True,
                        "is_enterprise_install": False,
                    }
                ],
                "is_ext_shared_channel": False,
            }
        body = json.dumps(envelope, separators=(",", ":"))
        ts = str(int(time.time()) if timestamp is None else timestamp)
        headers = {
            "Content-Type": "application/json",
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": self.sign(body, ts, secret),
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        }
        return self._post(url, body.encode(), headers, "event_callback", envelope)

    def click_home(
        self,
        listener_url: str | None,
        user_id: str,
        action_id: str,
        *,
        value: str | None = None,
        timestamp: int | str | None = None,
        secret: str | None = None,
    ) -> httpx.Response:
        """Click the button ``action_id`` on the user's Home (the one whose value is ``value``,
        when several share the action id). Raises NotFoundError if there is no such button."""
        url = self._listener(listener_url)
        with self._lock:
            home = self._homes().get(user_id)
            if home is None:
                raise NotFoundError(f"user {user_id} has no published Home")
            button, block_id = _find_home_button(home.view.get("blocks") or [], action_id, value)
            action: dict[str, Any] = {
                "action_id": action_id,
                "block_id": block_id,
                "text": copy.deepcopy(button.get("text")),
                "type": "button",
                "action_ts": now_ts(),
            }
            if "value" in button:
                action["value"] = button["value"]
            if "style" in button:
                action["style"] = button["style"]
            payload: dict[str, Any] = {
                "type": "block_actions",
                "user": self._user_obj(user_id),
                "api_app_id": self.app_id,
                "token": self.verification_token,
                "container": {"type": "view", "view_id": home.id},
                "trigger_id": self.issue_trigger_id(user_id),
                "team": {"id": self.team_id, "domain": self.team_domain},
                "enterprise": None,
                "is_enterprise_install": False,
                "view": copy.deepcopy(home.view),
                "actions": [action],
            }
        return self._deliver("block_actions", url, payload, timestamp, secret)


def _check_home(raw: Any) -> dict[str, Any]:
    view = coerce_json(raw)
    if not isinstance(view, dict):
        raise ApiError(
            "invalid_arguments",
            response_metadata={"messages": ["[ERROR] view must be an object [json-pointer:/view]"]},
        )
    problems: list[str] = []
    if view.get("type") != "home":
        problems.append("view.type must be 'home' [json-pointer:/view/type]")
    for key in sorted(set(view) - _HOME_KEYS):
        problems.append(f"invalid additional property: {key} [json-pointer:/view]")
    for key, limit in (("callback_id", 255), ("private_metadata", 3000), ("external_id", 255)):
        value = view.get(key)
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            problems.append(
                f"{key} must be a string of at most {limit} characters [json-pointer:/view/{key}]"
            )
    blocks: list[dict[str, Any]] = []
    try:
        blocks = validate_blocks(view.get("blocks", []), max_blocks=MAX_VIEW_BLOCKS)
    except BlocksInvalid as exc:
        problems.extend(
            e.replace("json-pointer:/blocks", "json-pointer:/view/blocks") for e in exc.errors
        )
    if problems:
        raise ApiError(
            "invalid_arguments",
            response_metadata={"messages": [f"[ERROR] {p}" for p in problems]},
        )
    spec = dict(view)
    spec["blocks"] = blocks
    return spec


def _find_home_button(
    blocks: list[dict[str, Any]], action_id: str, value: str | None
) -> tuple[dict[str, Any], str]:
    seen: list[str] = []
    for block in blocks:
        elements: list[Any] = []
        if block.get("type") == "actions":
            elements = list(block.get("elements") or [])
        elif block.get("type") == "section" and isinstance(block.get("accessory"), dict):
            elements = [block["accessory"]]
        for element in elements:
            if not isinstance(element, dict) or element.get("type") != "button":
                continue
            seen.append(f"{element.get('action_id')}={element.get('value')}")
            if element.get("action_id") == action_id and value in (None, element.get("value")):
                return element, str(block.get("block_id"))
    raise NotFoundError(f"no button {action_id!r} (value {value!r}) on the Home (buttons: {seen})")
