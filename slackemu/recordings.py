"""Read access to what the emulator recorded, for assertions in tests.

Everything handed out is a deep copy taken under the lock, so a test can hold
on to a record while the app keeps posting from other threads;
:meth:`Recordings.wait_until` is how a test waits for such a background post.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Self, TypeVar

from .records import CallRecord, InteractionRecord, MessageRecord, ViewRecord
from .state import EmulatorState
from .wire import USER_ID

__all__ = ["Recordings"]

T = TypeVar("T")


class Recordings(EmulatorState):
    """Copies of the recorded messages, calls, views and interactions."""

    @property
    def messages(self) -> list[MessageRecord]:
        """Every message posted (ordinary and ephemeral), oldest first; copies."""
        with self._lock:
            return copy.deepcopy(self._messages)

    @property
    def calls(self) -> list[CallRecord]:
        """Every Web API call received, including faulted ones; copies."""
        with self._lock:
            return copy.deepcopy(self._calls)

    @property
    def views(self) -> list[ViewRecord]:
        """Every modal opened, oldest first; copies."""
        with self._lock:
            return copy.deepcopy(list(self._views.values()))

    @property
    def interactions(self) -> list[InteractionRecord]:
        """Every payload delivered to a listener (clicks, submissions, raw); copies."""
        with self._lock:
            return copy.deepcopy(self._interactions)

    def calls_to(self, method: str) -> list[CallRecord]:
        with self._lock:
            return copy.deepcopy([c for c in self._calls if c.method == method])

    def messages_in(self, channel: str, *, include_ephemeral: bool = False) -> list[MessageRecord]:
        """Messages in a channel (a ``U...`` id means that user's DM), oldest first."""
        with self._lock:
            if USER_ID.match(channel):
                channel = self.dm_channel_for(channel)
            return copy.deepcopy(
                [
                    m
                    for m in self._messages
                    if m.channel == channel
                    and not m.deleted
                    and (include_ephemeral or not m.ephemeral)
                ]
            )

    def find_message(self, channel: str, ts: str) -> MessageRecord | None:
        with self._lock:
            record = self._lookup_message(channel, ts)
            return copy.deepcopy(record)

    def ephemerals_for(self, user_id: str) -> list[MessageRecord]:
        with self._lock:
            return copy.deepcopy(
                [m for m in self._messages if m.ephemeral and m.user == user_id and not m.deleted]
            )

    def get_view(self, view_id: str) -> ViewRecord | None:
        with self._lock:
            return copy.deepcopy(self._views.get(view_id))

    def latest_view_for(self, user_id: str) -> ViewRecord | None:
        """The most recently opened modal of a user (open or closed), or None."""
        with self._lock:
            mine = [v for v in self._views.values() if v.user_id == user_id]
            return copy.deepcopy(mine[-1]) if mine else None

    def wait_until(self, condition: Callable[[Self], T | None], timeout: float = 5.0) -> T:
        """Block until ``condition(emu)`` returns something truthy; return it.

        For production code that posts from a background thread.  Raises
        ``TimeoutError`` after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                result = condition(self)
                if result:
                    return result
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"condition not met within {timeout}s")
                self._changed.wait(min(remaining, 0.1))
