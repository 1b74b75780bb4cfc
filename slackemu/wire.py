"""Slack's wire conventions, as small pure helpers shared by the emulator's modules.

How a Web API request arrives (query string, form or JSON body, bearer token),
what Slack's ids and timestamps look like, and how loosely it reads booleans
and JSON-encoded arguments.  Nothing here touches emulator state.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import json
import re
import secrets
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from .errors import ApiError

__all__ = [
    "CHANNEL_ID",
    "USER_ID",
    "Headers",
    "Params",
    "Reply",
    "basic",
    "bearer",
    "coerce_json",
    "fill_block_ids",
    "now_ts",
    "opt_str",
    "parse_params",
    "random_id",
    "short_id",
    "truthy",
]

Params = dict[str, Any]
Headers = dict[str, str]
# (HTTP status, extra response headers, JSON body)
Reply = tuple[int, Headers, dict[str, Any]]

USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,}$")


def bearer(headers: Mapping[str, str]) -> str | None:
    value = headers.get("Authorization") or headers.get("authorization")
    if value and value.lower().startswith("bearer "):
        return value[7:].strip()
    return None


def basic(headers: Mapping[str, str]) -> tuple[str, str] | None:
    """HTTP Basic credentials (``client_id``, ``client_secret`` for the OAuth methods)."""
    value = headers.get("Authorization") or headers.get("authorization")
    if not value or not value.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(value[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


def parse_params(query: str, headers: Mapping[str, str], body: bytes) -> Params:
    params: Params = dict(parse_qsl(query, keep_blank_values=True))
    content_type = headers.get("Content-Type") or headers.get("content-type") or ""
    content_type = content_type.split(";")[0].strip().lower()
    if not body:
        return params
    if content_type == "application/json":
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise ApiError("invalid_json") from exc
        if not isinstance(data, dict):
            raise ApiError("invalid_json")
        params.update(data)
    elif content_type in ("application/x-www-form-urlencoded", ""):
        params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    else:
        raise ApiError("invalid_form_data")
    return params


def coerce_json(value: Any) -> Any:
    if isinstance(value, (str, bytes)):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def opt_str(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() in ("1", "true", "yes")
    return bool(value)


def now_ts() -> str:
    now_us = time.time_ns() // 1000
    return f"{now_us // 1_000_000}.{now_us % 1_000_000:06d}"


_ALPHANUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def random_id(length: int) -> str:
    return "".join(secrets.choice(_ALPHANUM) for _ in range(length))


def short_id(seed: str) -> str:
    digest = hashlib.sha1(seed.encode()).digest()
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return "".join(letters[b % len(letters)] for b in digest[:5])


def fill_block_ids(blocks: list[dict[str, Any]] | None, seed: str) -> list[dict[str, Any]] | None:
    """Give blocks without a block_id a generated one, as Slack does on storage."""
    if blocks is None:
        return None
    filled = copy.deepcopy(blocks)
    for index, block in enumerate(filled):
        if "block_id" not in block:
            block["block_id"] = short_id(f"{seed}:{index}")
    return filled
