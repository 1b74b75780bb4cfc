"""Where a pilot's page is: every message, CLI answer and report row links to it.

`PILOTGATE_BASE_URL` says where `pilotgate serve` (which serves the pages) is reachable.
"""

from __future__ import annotations

from urllib.parse import quote

from config.settings import Settings


def pilot_url(pilot_id: str, base_url: str | None = None) -> str:
    base = (base_url if base_url is not None else Settings().base_url).rstrip("/")
    return f"{base}/pilots/{quote(pilot_id, safe='')}"
