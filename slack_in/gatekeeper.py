"""What every request to /slack/events passes before slack-bolt reads a byte of it.

1. The v0 signature and its age (five minutes), on the raw body, with slack_sdk's
   `SignatureVerifier`: anything unsigned, forged or stale is 401 and never parsed (bolt parses
   the form and the JSON payload before its own check, so junk would otherwise be a 500 and a
   traceback per request).
2. The workspace: when `SLACK_TEAM_ID` (and `SLACK_APP_ID`) are configured, a correctly signed
   payload (a click, a slash command, an event) that claims another team, enterprise or app is
   403 and recorded nowhere. A signing
   secret belongs to one app, but a payload forwarded from a sibling app or an Enterprise Grid
   org must not count as a decision in ours.
One log line per refusal, never the body and never a secret.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from slack_sdk.signature import Clock, SignatureVerifier

log = logging.getLogger("pilotgate.listener")


@dataclass(frozen=True)
class Refused:
    status: int
    why: str


def check(
    body: bytes,
    headers: Mapping[str, str],
    *,
    signing_secret: str,
    team_id: str | None = None,
    app_id: str | None = None,
    clock: Callable[[], float] = time.time,
) -> Refused | None:
    """None when the request may go on to bolt; else the answer to give and why."""
    verifier = SignatureVerifier(signing_secret, clock=_Clock(clock))
    timestamp = headers.get("x-slack-request-timestamp", "")
    signature = headers.get("x-slack-signature", "")
    if not timestamp.isascii() or not timestamp.isdigit() or not signature:
        return _refuse(401, "unsigned request")
    if not verifier.is_valid(body=body, timestamp=timestamp, signature=signature):
        return _refuse(401, "bad signature or stale timestamp")
    payload = _payload(body)
    if payload is _MALFORMED:
        return _refuse(400, "signed, but the payload is not a well-formed interaction")
    if payload is None:
        payload = _flat_claims(body)  # a slash command's form, an Events API body
    if payload is None or (team_id is None and app_id is None):
        return None  # no interaction payload (bolt answers it), or no workspace to check
    foreign = not_ours(payload, team_id=team_id, app_id=app_id)
    return _refuse(403, foreign) if foreign is not None else None


def not_ours(payload: Mapping[str, Any], *, team_id: str | None, app_id: str | None) -> str | None:
    """Why a payload claims another workspace, enterprise or app than ours (None: it is ours,
    or it claims nothing we could check). Shared by both transports: this gate on HTTP, the
    bolt middleware (`slack_in.workspace`) on Socket Mode."""
    team, enterprise, app = _claims(dict(payload))
    if team_id is not None and team not in (None, team_id) and enterprise != team_id:
        return f"payload from another workspace ({team})"
    if app_id is not None and app not in (None, app_id):
        return f"payload for another app ({app})"
    return None


class _Clock(Clock):
    """slack_sdk's verifier asks its clock for `now()`; tests pass their own."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock

    def now(self) -> float:
        return self._clock()


_MALFORMED: Any = object()


def _payload(body: bytes) -> dict[str, Any] | None:
    """The interaction payload of a form body: None when there is none, `_MALFORMED` when
    there is one bolt would choke on (not JSON, not an object, actions not a list of
    objects with a string action_id)."""
    if body.lstrip().startswith(b"{"):
        return None  # an Events API request (JSON, not a form): no interaction payload
    try:
        form = parse_qs(body.decode("utf-8"), max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        return _MALFORMED  # type: ignore[no-any-return]
    raw = form.get("payload", [None])[0]
    if raw is None:
        return None
    try:
        payload = json.loads(raw)
    except ValueError:
        return _MALFORMED  # type: ignore[no-any-return]
    if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
        return _MALFORMED  # type: ignore[no-any-return]
    actions = payload.get("actions")
    if payload["type"] == "block_actions" and not (
        isinstance(actions, list)
        and actions
        and all(isinstance(a, dict) and isinstance(a.get("action_id"), str) for a in actions)
    ):
        return _MALFORMED  # type: ignore[no-any-return]
    if payload["type"] == "view_submission" and not isinstance(payload.get("view"), dict):
        return _MALFORMED  # type: ignore[no-any-return]
    return payload


def _flat_claims(body: bytes) -> dict[str, Any] | None:
    """The workspace claims of a request that is not an interaction: an Events API body (JSON:
    `team_id`, `enterprise_id`, `api_app_id`) or a slash command's form (the same fields);
    None when it carries none."""
    try:
        text = body.decode("utf-8")
        if text.lstrip().startswith("{"):
            data = json.loads(text)
            return data if isinstance(data, dict) else None
        form = parse_qs(text, max_num_fields=20)
    except ValueError:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return None
    if "command" not in form:
        return None
    return {k: v[0] for k, v in form.items() if k in ("team_id", "enterprise_id", "api_app_id")}


def _claims(payload: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """(team id, enterprise id, api_app_id) a payload claims."""
    team = payload.get("team")
    team_id = team.get("id") if isinstance(team, dict) else payload.get("team_id")
    enterprise = payload.get("enterprise")
    enterprise_id = (
        enterprise.get("id") if isinstance(enterprise, dict) else payload.get("enterprise_id")
    )
    if isinstance(team, dict) and isinstance(team.get("enterprise_id"), str):
        enterprise_id = team["enterprise_id"]
    app = payload.get("api_app_id")
    return (
        team_id if isinstance(team_id, str) else None,
        enterprise_id if isinstance(enterprise_id, str) else None,
        app if isinstance(app, str) else None,
    )


def _refuse(status: int, why: str) -> Refused:
    log.info("refused a request to /slack/events: %s (%d)", why, status)
    return Refused(status, why)
