"""Message storage shared by ``chat.*`` and response_url handling.

Both paths post, edit and render bot messages with the same rules (text
limits, Block Kit validation, block ids filled in on storage, versions kept
for assertions), so those rules live once, here.  Called with the lock held.
"""

from __future__ import annotations

import copy
from typing import Any

from .blocks import BlocksInvalid, validate_blocks
from .errors import ApiError
from .records import MessageRecord, MessageVersion
from .state import EmulatorState
from .wire import Params, coerce_json, fill_block_ids

__all__ = ["MessageStore"]

_MAX_TEXT = 40_000


class MessageStore(EmulatorState):
    """Validate message content, store and edit messages, render them as Slack does."""

    def _content(
        self, params: Params, *, required: bool
    ) -> tuple[str | None, list[dict[str, Any]] | None, list[dict[str, Any]] | None]:
        text = params.get("text")
        if text is not None and not isinstance(text, str):
            text = str(text)
        if text is not None and len(text) > _MAX_TEXT:
            raise ApiError("msg_too_long")
        blocks: list[dict[str, Any]] | None = None
        if params.get("blocks") is not None:
            try:
                blocks = validate_blocks(params["blocks"])
            except BlocksInvalid as exc:
                raise ApiError(
                    "invalid_blocks",
                    errors=exc.errors,
                    response_metadata={"messages": [f"[ERROR] {e}" for e in exc.errors]},
                ) from exc
        attachments: list[dict[str, Any]] | None = None
        if params.get("attachments") is not None:
            raw = coerce_json(params["attachments"])
            if not isinstance(raw, list) or not all(isinstance(a, dict) for a in raw):
                raise ApiError("invalid_attachments")
            attachments = raw
        if required and not text and not blocks and not attachments:
            raise ApiError("no_text")
        return text, blocks, attachments

    def _store_message(
        self,
        channel: str,
        text: str | None,
        blocks: list[dict[str, Any]] | None,
        attachments: list[dict[str, Any]] | None,
        thread_ts: str | None,
        *,
        metadata: Any = None,
        ephemeral_for: str | None = None,
        source: str = "chat.postMessage",
    ) -> MessageRecord:
        ts = self._next_ts()
        blocks = fill_block_ids(blocks, ts)
        record = MessageRecord(
            channel=channel,
            ts=ts,
            text=text,
            blocks=blocks,
            thread_ts=thread_ts,
            ephemeral=ephemeral_for is not None,
            user=ephemeral_for,
            attachments=attachments,
            metadata=metadata if isinstance(metadata, dict) else None,
            bot_user_id=self.bot_user_id,
            bot_id=self.bot_id,
            versions=[
                MessageVersion(
                    text, copy.deepcopy(blocks), copy.deepcopy(attachments), None, source
                )
            ],
        )
        self._messages.append(record)
        self._changed.notify_all()
        return record

    def _edit_message(
        self,
        record: MessageRecord,
        params: Params,
        text: str | None,
        blocks: list[dict[str, Any]] | None,
        attachments: list[dict[str, Any]] | None,
        source: str,
    ) -> None:
        # Slack keeps fields the update does not mention (documented for blocks).
        edited_ts = self._next_ts()
        if "text" in params:
            record.text = text
        if "blocks" in params:
            record.blocks = fill_block_ids(blocks, edited_ts)
        if "attachments" in params:
            record.attachments = attachments
        record.versions.append(
            MessageVersion(
                record.text,
                copy.deepcopy(record.blocks),
                copy.deepcopy(record.attachments),
                edited_ts,
                source,
            )
        )
        self._changed.notify_all()

    def _message_obj(self, record: MessageRecord) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "text": record.text or "",
            "ts": record.ts,
            "team": self.team_id,
            "bot_profile": {
                "id": self.bot_id,
                "app_id": self.app_id,
                "name": self.bot_name,
                "team_id": self.team_id,
                "deleted": False,
            },
        }
        if record.blocks:
            obj["blocks"] = copy.deepcopy(record.blocks)
        if record.attachments:
            obj["attachments"] = copy.deepcopy(record.attachments)
        if record.thread_ts:
            obj["thread_ts"] = record.thread_ts
        if record.metadata:
            obj["metadata"] = copy.deepcopy(record.metadata)
        last = record.versions[-1] if record.versions else None
        if last is not None and last.edited_ts is not None:
            obj["edited"] = {"user": self.bot_user_id, "ts": last.edited_ts}
        return obj
