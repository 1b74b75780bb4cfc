"""response_url: the per-click URL a listener may POST to instead of calling chat.update.

A click payload carries a fresh response_url bound to the clicked message; a
POST to it replaces or deletes that message, or posts a new (ephemeral or
in-channel) one, following Slack's ``replace_original`` / ``delete_original``
/ ``response_type`` rules.
"""

from __future__ import annotations

import secrets

from .errors import ApiError
from .messages import MessageStore
from .records import MessageRecord
from .state import ResponseUrl
from .wire import Params, opt_str, truthy

__all__ = ["ResponseUrls"]


class ResponseUrls(MessageStore):
    """Issue response_urls and apply what is posted to them (lock held)."""

    def _issue_response_url(self, record: MessageRecord, user_id: str) -> str:
        path = f"/actions/{self.team_id}/{secrets.randbelow(10**13)}/{secrets.token_hex(12)}"
        self._response_urls[path] = ResponseUrl(
            record.channel, record.ts, record.ephemeral, user_id
        )
        return f"{self.base_url}{path}"

    def _respond(self, target: ResponseUrl, params: Params) -> None:
        record = self._lookup_message(target.channel, target.ts)
        if truthy(params.get("delete_original")):
            if record is not None:
                record.deleted = True
                self._changed.notify_all()
            return
        text, blocks, attachments = self._content(params, required=True)
        if truthy(params.get("replace_original")):
            if record is None:
                raise ApiError("message_not_found")
            self._edit_message(record, params, text, blocks, attachments, "response_url")
            return
        thread_ts = opt_str(params.get("thread_ts"))
        if params.get("response_type") == "in_channel":
            self._store_message(
                target.channel, text, blocks, attachments, thread_ts, source="response_url"
            )
        else:
            self._store_message(
                target.channel,
                text,
                blocks,
                attachments,
                thread_ts,
                ephemeral_for=target.user_id,
                source="response_url",
            )
