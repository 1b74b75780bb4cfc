"""Fit every text field to its Web API method's documented limit before Slack sees it.

People write reasons, titles and notes of any length, and escaping for mrkdwn makes them longer
(`&` becomes `&amp;`), so a 2,000-character reason can become a 5,000-character update that
Slack refuses with `msg_too_long`, leaving the approver's buttons live. Rather than trust every
template to stay short, the relay fits each outgoing payload here, once: a field over its limit
is cut (never inside an escape `&...;` or a link `<...>`) and ends with an ellipsis. The limits
are Slack's documented ones (chat.* `text`, Block Kit text objects per block type).
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["LIMITS", "TEXT_LIMIT", "fit_payload", "fit_text"]

ELLIPSIS = "…"
#: chat.postMessage / chat.postEphemeral / chat.update `text`: Slack truncates at 40,000 and
#: chat.update refuses more than 4,000; 4,000 is the limit it documents for a readable message.
TEXT_LIMIT = 4000
#: (block type, field) -> max characters of the text object there.
LIMITS: dict[tuple[str, str], int] = {
    ("section", "text"): 3000,
    ("section", "fields"): 2000,
    ("header", "text"): 150,
    ("context", "elements"): 2000,
    ("button", "text"): 75,
    ("input", "label"): 2000,
    ("input", "hint"): 2000,
    ("placeholder", "text"): 150,
}
_CHAT_METHODS = {"chat.postMessage", "chat.postEphemeral", "chat.update"}


def fit_text(text: str, limit: int) -> str:
    """`text` if it fits, else its start cut at a safe place plus an ellipsis."""
    if len(text) <= limit:
        return text
    cut = limit - len(ELLIPSIS)
    head = text[:cut]
    amp, semi = head.rfind("&"), head.rfind(";")
    if amp > semi and cut - amp <= 8:  # inside `&amp;`, `&lt;`, `&gt;`
        head = head[:amp]
    lt, gt = head.rfind("<"), head.rfind(">")
    if lt > gt:  # inside a link or mention
        head = head[:lt]
    return head + ELLIPSIS


def _fit_object(obj: Any, limit: int) -> None:
    if isinstance(obj, dict) and isinstance(obj.get("text"), str):
        obj["text"] = fit_text(obj["text"], limit)


def _fit_element(element: Any) -> None:
    if not isinstance(element, dict):
        return
    kind = element.get("type")
    if kind == "button":
        _fit_object(element.get("text"), LIMITS[("button", "text")])
    if "placeholder" in element:
        _fit_object(element.get("placeholder"), LIMITS[("placeholder", "text")])


def _fit_block(block: Any) -> None:
    if not isinstance(block, dict):
        return
    kind = block.get("type")
    if kind == "section":
        _fit_object(block.get("text"), LIMITS[("section", "text")])
        for fld in block.get("fields") or []:
            _fit_object(fld, LIMITS[("section", "fields")])
        _fit_element(block.get("accessory"))
    elif kind == "header":
        _fit_object(block.get("text"), LIMITS[("header", "text")])
    elif kind == "context":
        for element in block.get("elements") or []:
            _fit_object(element, LIMITS[("context", "elements")])
    elif kind == "actions":
        for element in block.get("elements") or []:
            _fit_element(element)
    elif kind == "input":
        _fit_object(block.get("label"), LIMITS[("input", "label")])
        _fit_object(block.get("hint"), LIMITS[("input", "hint")])
        _fit_element(block.get("element"))


def fit_payload(method: str, payload: dict[str, Any]) -> dict[str, Any]:
    """A copy of `payload` with every text field within `method`'s limits."""
    fitted = copy.deepcopy(payload)
    if method in _CHAT_METHODS and isinstance(fitted.get("text"), str):
        fitted["text"] = fit_text(fitted["text"], TEXT_LIMIT)
    blocks = fitted.get("blocks")
    if isinstance(blocks, list):
        for block in blocks:
            _fit_block(block)
    view = fitted.get("view")
    if isinstance(view, dict) and isinstance(view.get("blocks"), list):
        for block in view["blocks"]:
            _fit_block(block)
    return fitted
