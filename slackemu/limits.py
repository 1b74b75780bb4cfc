"""The documented length limits Slack enforces per method and per Block Kit field.

Slack refuses what is too long rather than cutting it: ``chat.update`` with more than 4,000
characters of ``text`` is ``msg_too_long`` (``chat.postMessage`` allows 40,000), and a section
whose text is over 3,000 characters makes the whole message ``invalid_blocks``. An app that
never met these limits in its tests finds them with a long reason in production.
"""

from __future__ import annotations

from typing import Any

__all__ = ["TEXT_LIMITS", "block_limit_errors"]

#: method -> max characters of the top-level `text`.
TEXT_LIMITS = {"chat.postMessage": 40_000, "chat.postEphemeral": 40_000, "chat.update": 4_000}
_SECTION_TEXT = 3000
_SECTION_FIELD = 2000
_MAX_FIELDS = 10
_HEADER_TEXT = 150
_CONTEXT_TEXT = 2000
_MAX_CONTEXT_ELEMENTS = 10


def _too_long(obj: Any, limit: int, ptr: str) -> list[str]:
    text = obj.get("text") if isinstance(obj, dict) else None
    if isinstance(text, str) and len(text) > limit:
        return [f"must be less than {limit + 1} characters [json-pointer:{ptr}/text]"]
    return []


def block_limit_errors(blocks: Any) -> list[str]:
    """Slack's length errors for `blocks` (already valid in shape), as its messages say them."""
    errors: list[str] = []
    if not isinstance(blocks, list):
        return errors
    for i, block in enumerate(blocks):
        if not isinstance(block, dict):
            continue
        ptr = f"/blocks/{i}"
        kind = block.get("type")
        if kind == "section":
            errors += _too_long(block.get("text"), _SECTION_TEXT, f"{ptr}/text")
            fields = block.get("fields") or []
            if len(fields) > _MAX_FIELDS:
                errors.append(f"must have at most {_MAX_FIELDS} items [json-pointer:{ptr}/fields]")
            for j, fld in enumerate(fields):
                errors += _too_long(fld, _SECTION_FIELD, f"{ptr}/fields/{j}")
        elif kind == "header":
            errors += _too_long(block.get("text"), _HEADER_TEXT, f"{ptr}/text")
        elif kind == "context":
            elements = block.get("elements") or []
            if len(elements) > _MAX_CONTEXT_ELEMENTS:
                errors.append(
                    f"must have at most {_MAX_CONTEXT_ELEMENTS} items [json-pointer:{ptr}/elements]"
                )
            for j, element in enumerate(elements):
                errors += _too_long(element, _CONTEXT_TEXT, f"{ptr}/elements/{j}")
    return errors
