"""The one wall clock. Rules in `lifecycle/` take `now`; only the edges ask for the time."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
