"""Fault injection: make Web API calls fail the way Slack does under load or in an outage.

Retry and back-off code is only trustworthy if it has met real 429s (with
``Retry-After``) and 5xx answers; these let a test schedule them per method,
for a number of calls or until :meth:`FaultInjection.recover`.
"""

from __future__ import annotations

from collections.abc import Iterable

from .state import EmulatorState, Fault

__all__ = ["FAULT_ERRORS", "FaultInjection"]

# the "error" field Slack puts in the JSON body of a faulted answer
FAULT_ERRORS = {429: "ratelimited", 500: "internal_error", 503: "service_unavailable"}


class FaultInjection(EmulatorState):
    """Pending faults and outages; consulted before every Web API and response_url call."""

    def fail(
        self,
        status: int = 429,
        count: int = 1,
        retry_after: int | None = 1,
        methods: Iterable[str] | None = None,
    ) -> None:
        """Answer the next ``count`` matching Web API calls with HTTP ``status``.

        429 carries ``Retry-After: retry_after`` and ``{"ok": false, "error":
        "ratelimited"}``; 5xx carry a JSON error body.  ``methods`` limits the
        fault to those API methods (default: all).  Faulted calls change nothing.
        """
        if status < 400:
            raise ValueError("status must be an HTTP error status (>= 400)")
        if count < 1:
            raise ValueError("count must be >= 1")
        with self._lock:
            self._faults.append(Fault(status, count, retry_after, _methods(methods)))

    def outage(
        self,
        status: int = 503,
        methods: Iterable[str] | None = None,
        retry_after: int | None = None,
    ) -> None:
        """Answer every matching Web API call with HTTP ``status`` until :meth:`recover`."""
        if status < 400:
            raise ValueError("status must be an HTTP error status (>= 400)")
        with self._lock:
            self._faults.append(Fault(status, None, retry_after, _methods(methods)))

    def recover(self) -> None:
        """Clear all pending faults and outages."""
        with self._lock:
            self._faults.clear()

    def _take_fault(self, method: str) -> Fault | None:
        for fault in self._faults:
            if fault.matches(method):
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                return fault
        return None


def _methods(methods: Iterable[str] | None) -> frozenset[str] | None:
    if methods is None:
        return None
    if isinstance(methods, str):
        return frozenset({methods})
    return frozenset(methods)
