"""Web API methods ``conversations.open`` (how pilotgate finds a user's DM channel) and
``conversations.info`` (whether the bot is a member of a channel, checked at start-up).

Gives each user one stable ``D...`` channel, and refuses unknown or
deactivated users the way Slack does, so undeliverable requests can be tested.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from .errors import ApiError
from .state import EmulatorState
from .wire import USER_ID, Params, truthy

__all__ = ["ConversationsApi"]


class ConversationsApi(EmulatorState):
    """``conversations.open`` / ``conversations.info`` (called with the lock held)."""

    def _conversations_info(self, params: Params) -> dict[str, Any]:
        channel = self._resolve_channel(params.get("channel"))
        is_im = channel in self._dm_channels.values()
        obj: dict[str, Any] = {
            "id": channel,
            "name": self._channel_name(channel),
            "is_channel": channel.startswith("C"),
            "is_group": channel.startswith("G"),
            "is_im": is_im,
            "is_private": channel.startswith("G"),
            "is_archived": False,
            "context_team_id": self.team_id,
        }
        if not is_im:
            obj["is_member"] = channel not in self._no.outside
        if self._no.enterprise_id is not None:
            obj["enterprise_id"] = self._no.enterprise_id
            obj["is_shared"] = False
        return {"channel": obj}

    def _conversations_open(self, params: Params) -> dict[str, Any]:
        channel = params.get("channel")
        users_raw = params.get("users")
        if channel and not users_raw:
            return {"channel": {"id": self._resolve_channel(channel)}}
        if not users_raw:
            raise ApiError("users_list_not_supplied")
        users = users_raw if isinstance(users_raw, list) else str(users_raw).split(",")
        users = [u.strip() for u in users if str(u).strip()]
        if not users:
            raise ApiError("users_list_not_supplied")
        if len(users) > 8:
            raise ApiError("too_many_users")
        for user in users:
            if not USER_ID.match(user):
                raise ApiError("user_not_found")
            if user in self._disabled_users:
                raise ApiError("user_disabled")
        if len(users) > 1:
            digest = hashlib.sha1(",".join(sorted(users)).encode()).hexdigest()
            return {"channel": {"id": "G" + digest[:10].upper()}}
        user = users[0]
        already_open = user in self._dm_channels
        channel_id = self.dm_channel_for(user)
        obj: dict[str, Any] = {"id": channel_id}
        if truthy(params.get("return_im")):
            obj.update(
                {
                    "created": int(time.time()),
                    "is_im": True,
                    "is_org_shared": False,
                    "user": user,
                    "is_user_deleted": False,
                    "priority": 0,
                }
            )
        reply: dict[str, Any] = {"channel": obj}
        if already_open:
            reply.update({"no_op": True, "already_open": True})
        return reply
