"""Web API methods ``chat.postMessage``, ``chat.postEphemeral``, ``chat.update``, ``chat.delete``.

Argument checking and answers in Slack's shape; the storage rules they share
with response_url handling are in :mod:`slackemu.messages`.
"""

from __future__ import annotations

from typing import Any

from .errors import ApiError
from .limits import TEXT_LIMITS, block_limit_errors
from .messages import MessageStore
from .wire import USER_ID, Params, coerce_json, opt_str

__all__ = ["ChatApi"]


class ChatApi(MessageStore):
    """The ``chat.*`` methods (called with the lock held; raise ApiError for API errors)."""

    def _can_post(self, method: str, channel: str, params: Params) -> None:
        """What Slack checks before it stores anything: membership, the app's Messages tab,
        and the method's documented length limits."""
        if channel in self._no.outside:
            raise ApiError("not_in_channel")
        if (
            method in ("chat.postMessage", "chat.postEphemeral")
            and channel in self._dm_channels.values()
            and not self._no.messages_tab
        ):
            raise ApiError("messages_tab_disabled")
        text = params.get("text")
        if isinstance(text, str) and len(text) > TEXT_LIMITS.get(method, 40_000):
            raise ApiError("msg_too_long")
        errors = block_limit_errors(coerce_json(params.get("blocks")))
        if errors:
            raise ApiError(
                "invalid_blocks",
                errors=errors,
                response_metadata={"messages": [f"[ERROR] {e}" for e in errors]},
            )

    def _chat_post_message(self, params: Params) -> dict[str, Any]:
        channel = self._resolve_channel(params.get("channel"))
        self._can_post("chat.postMessage", channel, params)
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
        self._can_post("chat.postEphemeral", channel, params)
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
        raw_channel = params.get("channel")
        if isinstance(raw_channel, str) and USER_ID.match(raw_channel):
            # chat.postMessage takes a user id for a DM; chat.update needs the D... channel
            raise ApiError("channel_not_found")
        channel = self._resolve_channel(raw_channel)
        self._can_post("chat.update", channel, params)
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
