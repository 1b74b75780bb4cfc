"""Web API methods ``chat.postMessage``, ``chat.postEphemeral``, ``chat.update``, ``chat.delete``.

Argument checking and answers in Slack's shape; the storage rules they share
with response_url handling are in :mod:`slackemu.messages`.
"""

from __future__ import annotations

from typing import Any

from .errors import ApiError
from .messages import MessageStore
from .wire import USER_ID, Params, coerce_json, opt_str

__all__ = ["ChatApi"]


class ChatApi(MessageStore):
    """The ``chat.*`` methods (called with the lock held; raise ApiError for API errors)."""

    def _chat_post_message(self, params: Params) -> dict[str, Any]:
        channel = self._resolve_channel(params.get("channel"))
        text, blocks, attachments = self._content(params, required=True)
        thread_ts = opt_str(params.get("thread_ts"))
        record = self._store_message(
            channel,
            text,
            blocks,
            attachments,
            thread_ts,
            metadata=coerce_json(params.get("metadata")),
        )
        return {"channel": channel, "ts": record.ts, "message": self._message_obj(record)}

    def _chat_post_ephemeral(self, params: Params) -> dict[str, Any]:
        channel = self._resolve_channel(params.get("channel"))
        user = params.get("user")
        if not isinstance(user, str) or not user:
            raise ApiError(
                "invalid_arguments",
                response_metadata={"messages": ["[ERROR] missing required field: user"]},
            )
        if not USER_ID.match(user):
            raise ApiError("user_not_found")
        text, blocks, attachments = self._content(params, required=True)
        record = self._store_message(
            channel,
            text,
            blocks,
            attachments,
            opt_str(params.get("thread_ts")),
            ephemeral_for=user,
            source="chat.postEphemeral",
        )
        return {"message_ts": record.ts}

    def _chat_update(self, params: Params) -> dict[str, Any]:
        channel = self._resolve_channel(params.get("channel"))
        ts = params.get("ts")
        record = self._lookup_message(channel, ts) if isinstance(ts, str) else None
        if record is None or record.ephemeral:
            raise ApiError("message_not_found")
        text, blocks, attachments = self._content(params, required=False)
        if text is None and blocks is None and attachments is None:
            raise ApiError("no_text")
        self._edit_message(record, params, text, blocks, attachments, "chat.update")
        return {
            "channel": channel,
            "ts": record.ts,
            "text": record.text or "",
            "message": self._message_obj(record),
        }

    def _chat_delete(self, params: Params) -> dict[str, Any]:
        channel = self._resolve_channel(params.get("channel"))
        ts = params.get("ts")
        record = self._lookup_message(channel, ts) if isinstance(ts, str) else None
        if record is None or record.ephemeral:
            raise ApiError("message_not_found")
        record.deleted = True
        self._changed.notify_all()
        return {"channel": channel, "ts": record.ts}
