"""Reading Slack's interaction payloads defensively: a malformed field is None, never a crash.

The payload is already verified (signature and age) by the time these run; verified is not the
same as well-formed, so every field is type-checked before use.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

REASON_BLOCK = "reason"
REASON_INPUT = "reason_input"


def request_id(value: object) -> int | None:
    """A sign-off request id from a button value or private_metadata; None if malformed."""
    if not isinstance(value, str) or not value.isascii() or not value.strip().isdigit():
        return None
    number = int(value)
    return number if 0 < number < 2**63 else None


def button_value(body: Mapping[str, Any]) -> object:
    actions = body.get("actions")
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], dict):
        return None
    return actions[0].get("value")


def user_id(body: Mapping[str, Any]) -> str | None:
    user = body.get("user")
    uid = user.get("id") if isinstance(user, dict) else None
    return uid if isinstance(uid, str) and uid else None


def channel(body: Mapping[str, Any]) -> str | None:
    container = body.get("container")
    cid = container.get("channel_id") if isinstance(container, dict) else None
    return cid if isinstance(cid, str) and cid else None


def reason(view: Mapping[str, Any]) -> str:
    try:
        value = view["state"]["values"][REASON_BLOCK][REASON_INPUT]["value"]
    except (KeyError, TypeError):
        return ""
    return value.strip() if isinstance(value, str) else ""
