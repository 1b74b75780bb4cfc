"""The emulator's exceptions, kept apart so every module can raise them without cycles.

Two kinds: :class:`EmulatorError` and its subclasses are raised to the *Python*
caller of the emulator (a test acting as a user on a message that does not
exist); :class:`ApiError` never leaves the emulator and becomes Slack's wire
answer, HTTP 200 with ``{"ok": false, "error": ...}``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ApiError", "ClientValidationError", "EmulatorError", "NotFoundError"]


class EmulatorError(Exception):
    """Base class for errors raised by the emulator's Python API (not Slack API errors)."""


class NotFoundError(EmulatorError, LookupError):
    """The message, button, view or input a simulated user acts on does not exist."""


class ClientValidationError(EmulatorError, ValueError):
    """Slack's client would refuse this action (e.g. a required modal input left empty)."""


class ApiError(Exception):
    """A Slack Web API error; the handler turns it into ``{"ok": false, "error": ...}``."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra
