"""Web API methods ``api.test`` and ``auth.test``.

slack_sdk and slack-bolt call these to check connectivity and learn the bot's
identity; the answers describe the emulated workspace and bot.
"""

from __future__ import annotations

from typing import Any

from .state import EmulatorState
from .wire import Params

__all__ = ["AuthApi"]


class AuthApi(EmulatorState):
    """``api.test`` / ``auth.test`` (called with the lock held)."""

    def _api_test(self, params: Params) -> dict[str, Any]:
        return {"args": params} if params else {}

    def _auth_test(self, params: Params) -> dict[str, Any]:
        reply: dict[str, Any] = {
            "url": f"https://{self.team_domain}.slack.com/",
            "team": self.team_name,
            "user": self.bot_name,
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }
        if self._no.enterprise_id is not None:  # a workspace in an Enterprise Grid org
            reply["enterprise_id"] = self._no.enterprise_id
        return reply
