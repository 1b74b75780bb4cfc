"""Simulated users: a test clicks a button or submits a modal as a person would in Slack.

Builds the ``block_actions`` / ``view_submission`` payloads Slack's client
would produce from what the emulator stored (the latest message version, the
open modal), refuses what the client would refuse (a missing button, an empty
required input), and hands them to the interaction sender.
"""

from __future__ import annotations

import copy
import secrets
import time
from collections.abc import Mapping
from typing import Any

import httpx

from .errors import ClientValidationError, NotFoundError
from .response_urls import ResponseUrls
from .sender import InteractionSender
from .state import Trigger
from .views import ViewsApi
from .wire import USER_ID, now_ts

__all__ = ["SimulatedUsers"]


class SimulatedUsers(InteractionSender, ViewsApi, ResponseUrls):
    """Act as a user: issue trigger_ids, click buttons, submit modals."""

    def issue_trigger_id(self, user_id: str) -> str:
        """A fresh trigger_id for ``user_id``, valid in ``views.open`` for ``trigger_ttl`` s."""
        trigger_id = (
            f"{secrets.randbelow(10**13)}.{secrets.randbelow(10**13)}.{secrets.token_hex(16)}"
        )
        with self._lock:
            self._triggers[trigger_id] = Trigger(user_id, time.monotonic())
        return trigger_id

    def click(
        self,
        listener_url: str | None,
        user_id: str,
        channel: str,
        ts: str,
        action_id: str,
        *,
        value: str | None = None,
        timestamp: int | str | None = None,
        secret: str | None = None,
    ) -> httpx.Response:
        """Click the button ``action_id`` in message ``(channel, ts)`` as ``user_id``.

        Sends a signed ``block_actions`` payload built from the stored (latest)
        message to ``listener_url`` (None: the emulator's default).  ``value``
        overrides the button's value; ``timestamp``/``secret`` override signing
        (stale or forged requests).  Raises :class:`NotFoundError` if the
        message or button does not exist.
        """
        url = self._listener(listener_url)
        payload = self.build_block_actions(user_id, channel, ts, action_id, value=value)
        return self._deliver("block_actions", url, payload, timestamp, secret)

    def build_block_actions(
        self, user_id: str, channel: str, ts: str, action_id: str, *, value: str | None = None
    ) -> dict[str, Any]:
        """The ``block_actions`` payload :meth:`click` would send (issues a trigger_id)."""
        with self._lock:
            if USER_ID.match(channel):
                channel = self.dm_channel_for(channel)
            record = self._lookup_message(channel, ts)
            if record is None:
                known = [m.ts for m in self._messages if m.channel == channel and not m.deleted]
                raise NotFoundError(
                    f"no message ts={ts} in channel {channel} (messages there: {known})"
                )
            button, block_id = _find_button(record.blocks or [], action_id)
            trigger_id = self.issue_trigger_id(user_id)
            response_url = self._issue_response_url(record, user_id)
            action: dict[str, Any] = {
                "action_id": action_id,
                "block_id": block_id,
                "text": copy.deepcopy(button.get("text")),
                "type": "button",
                "action_ts": now_ts(),
            }
            if value is not None:
                action["value"] = value
            elif "value" in button:
                action["value"] = button["value"]
            if "style" in button:
                action["style"] = button["style"]
            container: dict[str, Any] = {
                "type": "message",
                "message_ts": record.ts,
                "channel_id": record.channel,
                "is_ephemeral": record.ephemeral,
            }
            if record.thread_ts:
                container["thread_ts"] = record.thread_ts
            payload: dict[str, Any] = {
                "type": "block_actions",
                "user": self._user_obj(user_id),
                "api_app_id": self.app_id,
                "token": self.verification_token,
                "container": container,
                "trigger_id": trigger_id,
                "team": self._team_obj(),
                "enterprise": self._enterprise_obj(),
                "is_enterprise_install": False,
                "channel": {"id": record.channel, "name": self._channel_name(record.channel)},
                "state": {"values": {}},
                "response_url": response_url,
                "actions": [action],
            }
            if not record.ephemeral:  # Slack omits the message for ephemeral sources
                payload["message"] = self._message_obj(record)
            return payload

    def submit_view(
        self,
        listener_url: str | None,
        user_id: str,
        view_id: str | None,
        values: Mapping[str, str | None],
        *,
        timestamp: int | str | None = None,
        secret: str | None = None,
    ) -> httpx.Response:
        """Submit modal ``view_id`` (None: the user's latest) as ``user_id``.

        ``values`` maps an input element's ``action_id`` to what the user typed
        (or the chosen option's value for selects/radios).  Block and action ids
        come from the stored view.  The view is closed, updated or kept open
        according to the listener's ``response_action``, as Slack would.
        """
        url = self._listener(listener_url)
        payload = self.build_view_submission(user_id, view_id, values)
        response = self._deliver("view_submission", url, payload, timestamp, secret)
        self._apply_submission_response(payload, response)
        return response

    def build_view_submission(
        self, user_id: str, view_id: str | None, values: Mapping[str, str | None]
    ) -> dict[str, Any]:
        """The ``view_submission`` payload :meth:`submit_view` would send."""
        with self._lock:
            if view_id is None:
                mine = [v for v in self._views.values() if v.user_id == user_id]
                if not mine:
                    raise NotFoundError(f"user {user_id} has no open view")
                record = mine[-1]
            else:
                found = self._views.get(view_id)
                if found is None:
                    raise NotFoundError(f"no view {view_id} (views: {list(self._views)})")
                record = found
            if record.user_id != user_id:
                raise NotFoundError(f"view {record.id} belongs to {record.user_id}, not {user_id}")
            if record.status != "open":
                raise NotFoundError(f"view {record.id} is {record.status}")
            view = copy.deepcopy(record.view)
            view["state"] = {"values": _build_state(view.get("blocks") or [], values)}
            return {
                "type": "view_submission",
                "team": self._team_obj(),
                "user": self._user_obj(user_id),
                "api_app_id": self.app_id,
                "token": self.verification_token,
                "trigger_id": self.issue_trigger_id(user_id),
                "view": view,
                "response_urls": [],
                "enterprise": self._enterprise_obj(),
                "is_enterprise_install": False,
            }


def _find_button(blocks: list[dict[str, Any]], action_id: str) -> tuple[dict[str, Any], str]:
    available: list[str] = []
    for block in blocks:
        candidates: list[Any] = []
        if block.get("type") == "actions":
            candidates = list(block.get("elements") or [])
        elif block.get("type") == "section" and block.get("accessory") is not None:
            candidates = [block["accessory"]]
        for element in candidates:
            if not isinstance(element, dict) or "action_id" not in element:
                continue
            if element["action_id"] == action_id:
                if element.get("type") != "button":
                    raise NotFoundError(
                        f"action_id {action_id!r} is a {element.get('type')}, not a button"
                    )
                return element, str(block["block_id"])
            available.append(str(element["action_id"]))
    raise NotFoundError(f"no button with action_id {action_id!r} (buttons: {available})")


def _build_state(
    blocks: list[dict[str, Any]], values: Mapping[str, str | None]
) -> dict[str, dict[str, Any]]:
    """state.values for a view_submission, as Slack's client would assemble it."""
    inputs = [
        (block, block["element"])
        for block in blocks
        if block.get("type") == "input" and isinstance(block.get("element"), dict)
    ]
    known = {str(element.get("action_id")) for _, element in inputs}
    unknown = sorted(set(values) - known)
    if unknown:
        raise NotFoundError(
            f"no input with action_id {unknown} in the view (inputs: {sorted(known)})"
        )
    state: dict[str, dict[str, Any]] = {}
    for block, element in inputs:
        action_id = str(element.get("action_id"))
        value = values.get(action_id)
        if value in (None, "") and not block.get("optional", False):
            raise ClientValidationError(
                f"input {action_id!r} is required; Slack's client would not submit the view"
            )
        etype = str(element.get("type"))
        state[str(block["block_id"])] = {action_id: _element_state(element, etype, value)}
    return state


def _element_state(element: dict[str, Any], etype: str, value: str | None) -> dict[str, Any]:
    if etype in ("static_select", "radio_buttons"):
        option = None
        if value not in (None, ""):
            option = _find_option(element, str(value))
        return {"type": etype, "selected_option": option}
    if value not in (None, "") and etype == "plain_text_input":
        text = str(value)
        min_length = element.get("min_length")
        max_length = element.get("max_length")
        if isinstance(min_length, int) and len(text) < min_length:
            raise ClientValidationError(f"{element.get('action_id')!r} shorter than {min_length}")
        if isinstance(max_length, int) and len(text) > max_length:
            raise ClientValidationError(f"{element.get('action_id')!r} longer than {max_length}")
    return {"type": etype, "value": value if value != "" else None}


def _find_option(element: dict[str, Any], value: str) -> dict[str, Any]:
    options: list[dict[str, Any]] = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options.extend(group.get("options") or [])
    for option in options:
        if option.get("value") == value:
            return copy.deepcopy(option)
    raise NotFoundError(f"no option with value {value!r} in {element.get('action_id')!r}")
