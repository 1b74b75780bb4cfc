"""Slash commands: a user types ``/pilotgate status pg-1`` and Slack POSTs a signed form to the
app's command URL.

Slack waits three seconds for the answer; what the app acks with (text and blocks, ephemeral
unless ``response_type`` is ``in_channel``) is shown to the user, which the emulator stores as
a message (ephemeral for the user) in the channel the command was typed in. The request is
recorded with how long the listener took, so a test can hold the app to the 3-second window.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from .home import HomeUsers
from .records import MessageRecord
from .wire import random_id

__all__ = ["CommandAnswer", "SlashCommands"]

#: Slack shows "dispatch_failed" when an app takes longer than this to answer a command.
COMMAND_TIMEOUT = 3.0


@dataclass(frozen=True)
class CommandAnswer:
    """What the listener said and how the user saw it."""

    response: httpx.Response
    seconds: float
    message: MessageRecord | None  # None: an empty ack (nothing shown)

    @property
    def text(self) -> str:
        return (self.message.text or "") if self.message else ""

    @property
    def blocks(self) -> list[dict[str, Any]]:
        return list(self.message.blocks or []) if self.message else []


class SlashCommands(HomeUsers):
    """Send slash commands as a user."""

    def slash_command(
        self,
        listener_url: str | None,
        user_id: str,
        command: str,
        text: str = "",
        *,
        channel: str | None = None,
        timestamp: int | str | None = None,
        secret: str | None = None,
    ) -> CommandAnswer:
        """Type ``command text`` as ``user_id`` in ``channel`` (default: their DM with the
        app). Returns the listener's answer, as the user saw it."""
        url = self._listener(listener_url)
        with self._lock:
            where = self._resolve_channel(channel) if channel else self.dm_channel_for(user_id)
            user = self._user_obj(user_id)
            form = {
                "token": self.verification_token,
                "team_id": self.team_id,
                "team_domain": self.team_domain,
                "channel_id": where,
                "channel_name": self._channel_name(where),
                "user_id": user_id,
                "user_name": user["name"],
                "command": command,
                "text": text,
                "api_app_id": self.app_id,
                "is_enterprise_install": "false",
                "response_url": f"{self.base_url}/commands/{self.team_id}/{random_id(12)}",
                "trigger_id": self.issue_trigger_id(user_id),
            }
        body = urlencode(form)
        ts = str(int(time.time()) if timestamp is None else timestamp)
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": self.sign(body, ts, secret),
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        }
        started = time.monotonic()
        response = self._post(url, body.encode(), headers, "slash_command", dict(form))
        seconds = time.monotonic() - started
        return CommandAnswer(response, seconds, self._show_answer(where, user_id, response))

    def _show_answer(
        self, channel: str, user_id: str, response: httpx.Response
    ) -> MessageRecord | None:
        if response.status_code != 200 or not response.content.strip():
            return None
        try:
            answer = response.json()
        except ValueError:
            answer = {"text": response.text}
        if not isinstance(answer, dict) or not (answer.get("text") or answer.get("blocks")):
            return None
        in_channel = answer.get("response_type") == "in_channel"
        with self._lock:
            record = self._store_message(
                channel,
                answer.get("text"),
                answer.get("blocks"),
                None,
                None,
                ephemeral_for=None if in_channel else user_id,
                source="slash_command",
            )
            return record
