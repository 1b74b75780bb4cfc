"""Checks against Slack before anything is queued: does the token work, can the bot post to
the digest channel.

A revoked or wrong token, or a digest channel the bot was never invited to, otherwise shows up
as messages that never arrive. `pilotgate serve` runs these at start-up (a token problem opens
the same installation-wide pause the relay would, so `/healthz` and `pilotgate status` say it
at once) and `pilotgate policy check` runs the channel check when a bot token is set.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from slack_sdk import WebClient

from slack_out.relay import Refused, Transient, call
from slack_out.slack_errors import Scope, fix_for, pause_kind
from store import installation
from store.db import Database


@dataclass(frozen=True)
class Finding:
    ok: bool
    message: str
    #: Slack's error code when not ok (None: Slack could not be asked).
    error: str | None = None
    installation_wide: bool = False


def check_token(client: WebClient) -> Finding:
    """`auth.test`: the token is valid and belongs to an installed bot."""
    try:
        data = call(client, "auth.test", {})
    except Refused as exc:
        return Finding(
            False,
            f"Slack refuses SLACK_BOT_TOKEN ({exc.error}): {fix_for(exc.error)}",
            exc.error,
            exc.scope is Scope.INSTALLATION,
        )
    except Transient as exc:
        return Finding(False, f"Slack could not be asked ({exc}); the relay will retry")
    team = data.get("team") or data.get("team_id") or "?"
    return Finding(True, f"Slack: signed in as {data.get('user', '?')} in {team}")


def check_channel(client: WebClient, channel: str) -> Finding:
    """`conversations.info`: the bot is a member of `channel`, so it may post there."""
    try:
        data = call(client, "conversations.info", {"channel": channel})
    except Refused as exc:
        if exc.error == "missing_scope":
            return Finding(
                False,
                f"cannot check the digest channel {channel}: the bot token lacks "
                f"{exc.detail.get('needed') or 'channels:read'}; add it (and groups:read for a "
                "private channel) or make sure the bot is invited there",
                exc.error,
            )
        if exc.error == "channel_not_found":
            return Finding(
                False,
                f"the digest channel {channel} does not exist or is private and the bot is not "
                f"in it: invite the bot there (/invite @<the app> in that channel)",
                exc.error,
            )
        return Finding(
            False,
            f"cannot check the digest channel {channel} ({exc.error})",
            exc.error,
            exc.scope is Scope.INSTALLATION,
        )
    except Transient as exc:
        return Finding(False, f"cannot check the digest channel {channel} now ({exc})")
    info = data.get("channel") or {}
    if info.get("is_archived"):
        return Finding(False, f"the digest channel {channel} is archived: pick another", "archived")
    if info.get("is_member") is False:
        name = info.get("name") or channel
        return Finding(
            False,
            f"the bot is not a member of the digest channel #{name} ({channel}), so the digest "
            f"would fail with not_in_channel: invite it (/invite @<the app> in #{name})",
            "not_in_channel",
        )
    return Finding(True, f"digest channel {channel}: the bot is a member")


def record(db: Database, finding: Finding, now: datetime) -> None:
    """An installation-wide refusal at start-up opens the relay's pause, so every surface says
    it before the first message waits."""
    if not finding.installation_wide or finding.error is None:
        return
    with db.session() as session:
        installation.record(
            session,
            kind=pause_kind(finding.error),
            error=finding.error,
            detail=f"auth.test at start-up: {finding.message}",
            now=now,
        )
