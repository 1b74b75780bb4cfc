"""Modals: Web API methods ``views.open`` / ``views.update`` and the modal lifecycle.

Checks views as Slack does (one-shot, short-lived trigger_ids; view schema;
Block Kit), renders them in Slack's shape, and applies a listener's answer to a
submission (``response_action`` errors / update / push / clear, or close).
"""

from __future__ import annotations

import contextlib
import copy
import time
from typing import Any

import httpx

from .blocks import MAX_VIEW_BLOCKS, BlocksInvalid, validate_blocks
from .errors import ApiError
from .records import ViewRecord
from .state import EmulatorState
from .wire import Params, coerce_json, fill_block_ids, random_id, short_id

__all__ = ["ViewsApi"]

_VIEW_KEYS = {
    "type",
    "title",
    "blocks",
    "close",
    "submit",
    "private_metadata",
    "callback_id",
    "clear_on_close",
    "notify_on_close",
    "external_id",
    "submit_disabled",
}


class ViewsApi(EmulatorState):
    """The ``views.*`` methods and what happens to a modal after a submission."""

    def _views_open(self, params: Params) -> dict[str, Any]:
        trigger_id = params.get("trigger_id")
        if not isinstance(trigger_id, str) or not trigger_id:
            raise ApiError(
                "invalid_arguments",
                response_metadata={"messages": ["[ERROR] missing required field: trigger_id"]},
            )
        trigger = self._triggers.get(trigger_id)
        if trigger is None:
            raise ApiError("invalid_trigger_id")
        if trigger.used:
            raise ApiError("exchanged_trigger_id")
        if time.monotonic() - trigger.issued > self.trigger_ttl:
            raise ApiError("expired_trigger_id")
        spec = self._check_view(params.get("view"))
        external_id = spec.get("external_id")
        if external_id and any(
            v.view.get("external_id") == external_id for v in self._views.values()
        ):
            raise ApiError("duplicate_external_id")
        trigger.used = True
        view_id = "V" + random_id(10)
        view = self._render_view(view_id, spec)
        record = ViewRecord(
            id=view_id,
            user_id=trigger.user_id,
            trigger_id=trigger_id,
            view=view,
            versions=[copy.deepcopy(view)],
            opened_at=time.time(),
        )
        self._views[view_id] = record
        self._changed.notify_all()
        return {"view": copy.deepcopy(view)}

    def _views_update(self, params: Params) -> dict[str, Any]:
        view_id = params.get("view_id")
        external_id = params.get("external_id")
        if not view_id and not external_id:
            raise ApiError(
                "invalid_arguments",
                response_metadata={"messages": ["[ERROR] view_id or external_id is required"]},
            )
        record: ViewRecord | None = None
        if view_id:
            record = self._views.get(str(view_id))
        else:
            for candidate in self._views.values():
                if candidate.view.get("external_id") == external_id:
                    record = candidate
        if record is None:
            raise ApiError("not_found")
        expected_hash = params.get("hash")
        if expected_hash and expected_hash != record.view["hash"]:
            raise ApiError("hash_conflict")
        spec = self._check_view(params.get("view"))
        self._replace_view(record, spec)
        return {"view": copy.deepcopy(record.view)}

    def _check_view(self, raw: Any) -> dict[str, Any]:
        view = coerce_json(raw)
        problems: list[str] = []
        if not isinstance(view, dict):
            raise ApiError(
                "invalid_arguments",
                response_metadata={
                    "messages": ["[ERROR] view must be an object [json-pointer:/view]"]
                },
            )
        if view.get("type") != "modal":
            problems.append("view.type must be 'modal' [json-pointer:/view/type]")
        for key in sorted(set(view) - _VIEW_KEYS):
            problems.append(f"invalid additional property: {key} [json-pointer:/view]")
        for key, required in (("title", True), ("close", False), ("submit", False)):
            problems.extend(_check_view_text(view, key, required))
        for key, limit in (("callback_id", 255), ("private_metadata", 3000), ("external_id", 255)):
            value = view.get(key)
            if value is not None and (not isinstance(value, str) or len(value) > limit):
                problems.append(
                    f"{key} must be a string of at most {limit} characters "
                    f"[json-pointer:/view/{key}]"
                )
        blocks: list[dict[str, Any]] = []
        try:
            blocks = validate_blocks(view.get("blocks", []), max_blocks=MAX_VIEW_BLOCKS)
        except BlocksInvalid as exc:
            problems.extend(
                e.replace("json-pointer:/blocks", "json-pointer:/view/blocks") for e in exc.errors
            )
        if any(b.get("type") == "input" for b in blocks) and "submit" not in view:
            problems.append(
                "submit is required when a view has input blocks [json-pointer:/view/submit]"
            )
        if problems:
            raise ApiError(
                "invalid_arguments",
                response_metadata={"messages": [f"[ERROR] {p}" for p in problems]},
            )
        spec = dict(view)
        spec["blocks"] = blocks
        return spec

    def _render_view(self, view_id: str, spec: dict[str, Any]) -> dict[str, Any]:
        blocks = fill_block_ids(spec.get("blocks") or [], view_id) or []
        for block in blocks:
            element = block.get("element")
            if block.get("type") == "input" and isinstance(element, dict):
                element.setdefault("action_id", short_id(f"{view_id}:{block['block_id']}"))
        return {
            "id": view_id,
            "team_id": self.team_id,
            "type": spec.get("type", "modal"),
            "blocks": blocks,
            "private_metadata": spec.get("private_metadata", ""),
            "callback_id": spec.get("callback_id", ""),
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{random_id(8)}",
            "title": copy.deepcopy(spec.get("title")),
            "clear_on_close": bool(spec.get("clear_on_close", False)),
            "notify_on_close": bool(spec.get("notify_on_close", False)),
            "close": copy.deepcopy(spec.get("close")),
            "submit": copy.deepcopy(spec.get("submit")),
            "previous_view_id": None,
            "root_view_id": view_id,
            "app_id": self.app_id,
            "external_id": spec.get("external_id", ""),
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }

    def _replace_view(self, record: ViewRecord, spec: dict[str, Any]) -> None:
        view = self._render_view(record.id, spec)
        view["root_view_id"] = record.view.get("root_view_id", record.id)
        record.view = view
        record.versions.append(copy.deepcopy(view))
        self._changed.notify_all()

    def _apply_submission_response(self, payload: dict[str, Any], response: httpx.Response) -> None:
        view_id = str(payload["view"]["id"])
        try:
            answer: Any = response.json() if response.content.strip() else None
        except ValueError:
            answer = None
        action = answer.get("response_action") if isinstance(answer, dict) else None
        with self._lock:
            record = self._views.get(view_id)
            if record is None:
                return
            record.submissions.append(
                {
                    "values": copy.deepcopy(payload["view"]["state"]["values"]),
                    "status": response.status_code,
                    "response": answer,
                }
            )
            if response.status_code != 200:
                pass  # Slack shows the user an error and keeps the modal open
            elif action == "errors":
                pass
            elif action == "update" and isinstance(answer, dict):
                # an invalid view: Slack shows an error and keeps the current one
                with contextlib.suppress(ApiError):
                    self._replace_view(record, self._check_view(answer.get("view")))
            elif action == "clear":
                for other in self._views.values():
                    if other.user_id == record.user_id:
                        other.status = "closed"
            elif action == "push" and isinstance(answer, dict):
                try:
                    spec = self._check_view(answer.get("view"))
                except ApiError:
                    spec = None
                if spec is not None:
                    new_id = "V" + random_id(10)
                    view = self._render_view(new_id, spec)
                    view["previous_view_id"] = record.id
                    view["root_view_id"] = record.view.get("root_view_id", record.id)
                    self._views[new_id] = ViewRecord(
                        id=new_id,
                        user_id=record.user_id,
                        trigger_id=str(payload["trigger_id"]),
                        view=view,
                        versions=[copy.deepcopy(view)],
                        opened_at=time.time(),
                    )
            else:
                record.status = "closed"
            self._changed.notify_all()


def _check_view_text(view: dict[str, Any], key: str, required: bool) -> list[str]:
    value = view.get(key)
    if value is None:
        return [f"missing required field: {key} [json-pointer:/view/{key}]"] if required else []
    if not isinstance(value, dict) or value.get("type") != "plain_text":
        return [f"{key} must be a plain_text object [json-pointer:/view/{key}]"]
    text = value.get("text")
    if not isinstance(text, str) or not text or len(text) > 24:
        return [f"{key}.text must be 1-24 characters [json-pointer:/view/{key}/text]"]
    return []
