"""What the store refuses with: a missing row, or a state that does not allow the change now."""

from __future__ import annotations


class NotFound(LookupError):
    pass


class Conflict(RuntimeError):
    """The request is valid but the register's state does not allow it now."""
