"""Web API method ``users.info``: how pilotgate puts names to Slack user ids.

Answers in Slack's shape (``user`` with ``name``, ``real_name``, ``deleted`` and a ``profile``
holding ``display_name`` and ``real_name``) for the users the workspace knows (added with
``add_user``); a deactivated user is still answered, with ``deleted: true``, as Slack does; any
other id is ``user_not_found``.
"""

from __future__ import annotations

from typing import Any

from .errors import ApiError
from .state import EmulatorState
from .wire import USER_ID, Params

__all__ = ["UsersApi"]


class UsersApi(EmulatorState):
    """``users.info`` (called with the lock held)."""

    def _users_info(self, params: Params) -> dict[str, Any]:
        user = params.get("user")
        if not isinstance(user, str) or not user:
            raise ApiError("user_not_found")
        if not USER_ID.match(user) or user not in self._user_names:
            raise ApiError("user_not_found")
        username = self._user_names[user]
        real_name = self._real_names.get(user, username)
        display_name = self._display_names.get(user, "")
        profile: dict[str, Any] = {
            "real_name": real_name,
            "real_name_normalized": real_name,
            "display_name": display_name,
            "display_name_normalized": display_name,
            "team": self.team_id,
        }
        if user in self._user_emails:
            profile["email"] = self._user_emails[user]
        return {
            "user": {
                "id": user,
                "team_id": self.team_id,
                "name": username,
                "deleted": user in self._disabled_users,
                "real_name": real_name,
                "is_bot": False,
                "profile": profile,
            }
        }
