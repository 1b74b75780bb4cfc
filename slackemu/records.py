"""What the Slack emulator remembers, as plain dataclasses.

Tests assert on these records ("the approval message was posted once, then
updated to 'approved'"), and the HTTP control API serves them as JSON, so they
are kept free of server internals and are always handed out as copies.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CallRecord",
    "InteractionRecord",
    "MessageRecord",
    "MessageVersion",
    "ViewRecord",
]


@dataclass
class MessageVersion:
    """One state of a message: the original post or a ``chat.update``/response_url edit."""

    text: str | None
    blocks: list[dict[str, Any]] | None
    attachments: list[dict[str, Any]] | None = None
    edited_ts: str | None = None  # None for the original post
    source: str = "chat.postMessage"


@dataclass
class MessageRecord:
    """A message as stored by the emulator; ``text``/``blocks`` are the latest version.

    ``user`` is the recipient of an ephemeral message (None for ordinary messages);
    the poster is always the bot (``bot_user_id``).
    """

    channel: str
    ts: str
    text: str | None
    blocks: list[dict[str, Any]] | None
    thread_ts: str | None = None
    ephemeral: bool = False
    user: str | None = None
    attachments: list[dict[str, Any]] | None = None
    metadata: dict[str, Any] | None = None
    bot_user_id: str = ""
    bot_id: str = ""
    deleted: bool = False
    versions: list[MessageVersion] = field(default_factory=list)

    @property
    def updates(self) -> list[MessageVersion]:
        """Versions after the original post, oldest first."""
        return self.versions[1:]

    @property
    def update_count(self) -> int:
        return max(len(self.versions) - 1, 0)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["update_count"] = self.update_count
        return data


@dataclass
class CallRecord:
    """One Web API call as received: method, parsed params (token removed), what we answered."""

    method: str
    params: dict[str, Any]
    status: int
    ok: bool
    error: str | None
    at: float

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class ViewRecord:
    """A modal opened through ``views.open``; ``view`` is the current Slack-shaped view."""

    id: str
    user_id: str
    trigger_id: str
    view: dict[str, Any]
    status: str = "open"  # "open" | "closed"
    versions: list[dict[str, Any]] = field(default_factory=list)
    submissions: list[dict[str, Any]] = field(default_factory=list)
    opened_at: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class InteractionRecord:
    """A payload the emulator delivered to a listener, and what the listener answered."""

    kind: str  # "block_actions" | "view_submission" | "raw"
    listener_url: str
    payload: dict[str, Any] | None
    status: int | None
    response_body: str
    at: float

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
