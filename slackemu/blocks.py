"""Block Kit validation for the Slack emulator.

Real Slack rejects a malformed ``blocks`` argument with ``invalid_blocks``; a
fake that accepts anything would let a broken message template pass every test
and fail only in production.  This module checks blocks the way Slack does, as
far as is practical offline: every block is parsed with slack_sdk's own models
(``Block.parse`` + ``to_dict()``, which runs slack_sdk's length/shape
validators), and a structural walk over the raw JSON adds the checks slack_sdk
only warns about (unknown types and keys, text objects, duplicate ids).

One deliberate deviation, stricter than Slack: a button without an
``action_id`` is rejected.  Slack would invent a random one, which no listener
can route, so for pilotgate it is always a template bug.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from slack_sdk.models.blocks import Block, BlockElement

__all__ = [
    "MAX_MESSAGE_BLOCKS",
    "MAX_VIEW_BLOCKS",
    "BlocksInvalid",
    "coerce_blocks",
    "validate_blocks",
]

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100

_TEXT_TYPES = {"plain_text", "mrkdwn"}
_TEXT_KEYS = {"plain_text": {"type", "text", "emoji"}, "mrkdwn": {"type", "text", "verbatim"}}
# Block/element types whose ``text`` must be a text object (not a bare string),
# and which text object types they allow.
_TEXT_FIELD_TYPES: dict[str, set[str]] = {
    "section": {"plain_text", "mrkdwn"},
    "header": {"plain_text"},
    "button": {"plain_text"},
}
_PLAIN_TEXT_FIELDS: dict[str, tuple[str, ...]] = {
    "input": ("label", "hint"),
}
_ELEMENT_CONTAINERS = {
    "elements": ("actions", "context"),
    "accessory": ("section",),
    "element": ("input",),
}
_BUTTON_STYLES = {"primary", "danger"}
_MAX_ID = 255
_MAX_BUTTON_TEXT = 75
_MAX_BUTTON_VALUE = 2000
_MAX_URL = 3000


class BlocksInvalid(ValueError):
    """Raised when blocks would be rejected by Slack; ``errors`` lists the reasons."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


def coerce_blocks(raw: Any) -> Any:
    """Decode ``blocks`` sent as a JSON string (form-encoded calls); lists pass through."""
    if isinstance(raw, (str, bytes)):
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise BlocksInvalid([f"blocks is not valid JSON: {exc}"]) from exc
    return raw


def validate_blocks(raw: Any, *, max_blocks: int = MAX_MESSAGE_BLOCKS) -> list[dict[str, Any]]:
    """Return the blocks as a list of dicts, or raise ``BlocksInvalid``.

    ``raw`` may be a list of dicts or its JSON encoding.
    """
    blocks = coerce_blocks(raw)
    if not isinstance(blocks, list):
        raise BlocksInvalid(["blocks must be an array [json-pointer:/blocks]"])
    errors: list[str] = []
    if len(blocks) > max_blocks:
        errors.append(f"no more than {max_blocks} items allowed [json-pointer:/blocks]")
    seen_block_ids: set[str] = set()
    for index, block in enumerate(blocks):
        errors.extend(_validate_block(block, f"/blocks/{index}", seen_block_ids))
    if errors:
        raise BlocksInvalid(errors)
    return [dict(b) for b in blocks]


def _validate_block(block: Any, ptr: str, seen_block_ids: set[str]) -> list[str]:
    if not isinstance(block, dict):
        return [f"block must be an object [json-pointer:{ptr}]"]
    btype = block.get("type")
    if not isinstance(btype, str) or not btype:
        return [f"missing required field: type [json-pointer:{ptr}]"]
    errors: list[str] = []
    try:
        parsed = Block.parse(block)
    except Exception as exc:  # slack_sdk raises TypeError/ValueError/... on bad shapes
        return [f"{exc} [json-pointer:{ptr}]"]
    if parsed is None:
        return [f"unsupported type: {btype} [json-pointer:{ptr}/type]"]
    try:
        rendered = parsed.to_dict()
    except Exception as exc:
        return [f"{exc} [json-pointer:{ptr}]"]
    if _contains_none(rendered):
        errors.append(f"unsupported element type [json-pointer:{ptr}]")
    unknown = set(block) - set(parsed.attributes) - {"type"}
    for key in sorted(unknown):
        errors.append(f"invalid additional property: {key} [json-pointer:{ptr}]")

    block_id = block.get("block_id")
    if block_id is not None:
        if not isinstance(block_id, str) or not block_id or len(block_id) > _MAX_ID:
            errors.append(f"block_id must be 1-{_MAX_ID} characters [json-pointer:{ptr}/block_id]")
        elif block_id in seen_block_ids:
            errors.append(f"duplicate block_id: {block_id} [json-pointer:{ptr}/block_id]")
        else:
            seen_block_ids.add(block_id)

    if btype == "rich_text":
        return errors  # its own grammar; slack_sdk's parse above covers it
    errors.extend(_check_text_fields(block, btype, ptr))
    errors.extend(_check_elements(block, btype, ptr))
    for text_ptr, obj in _iter_text_objects(block, ptr):
        errors.extend(_check_text_object(obj, text_ptr))
    return errors


def _check_text_fields(node: dict[str, Any], ntype: str, ptr: str) -> list[str]:
    errors: list[str] = []
    allowed = _TEXT_FIELD_TYPES.get(ntype)
    if allowed is not None and "text" in node:
        text = node["text"]
        if not isinstance(text, dict):
            errors.append(f"text must be a text object [json-pointer:{ptr}/text]")
        elif text.get("type") not in allowed:
            errors.append(
                f"text.type must be one of {sorted(allowed)} [json-pointer:{ptr}/text/type]"
            )
    for field in _PLAIN_TEXT_FIELDS.get(ntype, ()):
        if field in node:
            value = node[field]
            if not isinstance(value, dict) or value.get("type") != "plain_text":
                errors.append(f"{field} must be a plain_text object [json-pointer:{ptr}/{field}]")
    return errors


def _check_elements(block: dict[str, Any], btype: str, ptr: str) -> list[str]:
    errors: list[str] = []
    seen_action_ids: set[str] = set()
    for key, owners in _ELEMENT_CONTAINERS.items():
        if btype not in owners or key not in block:
            continue
        value = block[key]
        items = value if isinstance(value, list) else [value]
        for i, element in enumerate(items):
            eptr = f"{ptr}/{key}/{i}" if isinstance(value, list) else f"{ptr}/{key}"
            errors.extend(_check_element(element, eptr, seen_action_ids))
    return errors


def _check_element(element: Any, ptr: str, seen_action_ids: set[str]) -> list[str]:
    if not isinstance(element, dict):
        return [f"element must be an object [json-pointer:{ptr}]"]
    etype = element.get("type")
    if not isinstance(etype, str) or not etype:
        return [f"missing required field: type [json-pointer:{ptr}]"]
    if etype in _TEXT_TYPES:
        return []  # context text elements; checked as text objects
    try:
        parsed = BlockElement.parse(element)
    except Exception as exc:
        return [f"{exc} [json-pointer:{ptr}]"]
    if parsed is None:
        return [f"unsupported element type: {etype} [json-pointer:{ptr}/type]"]
    errors: list[str] = []
    unknown = set(element) - set(parsed.attributes) - {"type"}
    for key in sorted(unknown):
        errors.append(f"invalid additional property: {key} [json-pointer:{ptr}]")
    action_id = element.get("action_id")
    if action_id is not None:
        if not isinstance(action_id, str) or not action_id or len(action_id) > _MAX_ID:
            errors.append(
                f"action_id must be 1-{_MAX_ID} characters [json-pointer:{ptr}/action_id]"
            )
        elif action_id in seen_action_ids:
            errors.append(f"duplicate action_id: {action_id} [json-pointer:{ptr}/action_id]")
        else:
            seen_action_ids.add(action_id)
    if etype == "button":
        errors.extend(_check_button(element, ptr))
    return errors


def _check_button(button: dict[str, Any], ptr: str) -> list[str]:
    errors = _check_text_fields(button, "button", ptr)
    if not button.get("action_id"):
        errors.append(
            f"button requires an action_id (emulator policy) [json-pointer:{ptr}/action_id]"
        )
    text = button.get("text")
    button_text = text.get("text") if isinstance(text, dict) else None
    if isinstance(button_text, str) and len(button_text) > _MAX_BUTTON_TEXT:
        errors.append(
            f"must be less than {_MAX_BUTTON_TEXT + 1} characters [json-pointer:{ptr}/text/text]"
        )
    value = button.get("value")
    if value is not None and (not isinstance(value, str) or len(value) > _MAX_BUTTON_VALUE):
        errors.append(
            f"value must be a string of at most {_MAX_BUTTON_VALUE} characters "
            f"[json-pointer:{ptr}/value]"
        )
    url = button.get("url")
    if url is not None and (not isinstance(url, str) or len(url) > _MAX_URL):
        errors.append(f"url must be at most {_MAX_URL} characters [json-pointer:{ptr}/url]")
    style = button.get("style")
    if style is not None and style not in _BUTTON_STYLES:
        errors.append(f"style must be one of {sorted(_BUTTON_STYLES)} [json-pointer:{ptr}/style]")
    return errors


def _iter_text_objects(node: Any, ptr: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield every dict that declares itself a text object (plain_text/mrkdwn)."""
    if isinstance(node, dict):
        if node.get("type") in _TEXT_TYPES:
            yield ptr, node
            return
        if node.get("type") == "rich_text":
            return
        for key, value in node.items():
            yield from _iter_text_objects(value, f"{ptr}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _iter_text_objects(value, f"{ptr}/{i}")


def _check_text_object(obj: dict[str, Any], ptr: str) -> list[str]:
    errors: list[str] = []
    text = obj.get("text")
    if not isinstance(text, str):
        errors.append(f"missing required field: text [json-pointer:{ptr}]")
    elif not text:
        errors.append(f"must be more than 0 characters [json-pointer:{ptr}/text]")
    allowed = _TEXT_KEYS[str(obj["type"])]
    for key in sorted(set(obj) - allowed):
        errors.append(f"invalid additional property: {key} [json-pointer:{ptr}]")
    return errors


def _contains_none(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, dict):
        return any(_contains_none(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_none(v) for v in value)
    return False
