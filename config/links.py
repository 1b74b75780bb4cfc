"""Where a pilot's page is: every message, CLI answer and report row links to it.

`PILOTGATE_BASE_URL` says where `pilotgate serve` (which serves the pages) is reachable.
"""

from __future__ import annotations

import os
from functools import lru_cache
from urllib.parse import quote

from config.settings import Settings


def pilot_url(pilot_id: str, base_url: str | None = None) -> str:
    base = (base_url if base_url is not None else _configured_base_url(*_sources())).rstrip("/")
    return f"{base}/pilots/{quote(pilot_id, safe='')}"


def index_url(base_url: str | None = None) -> str:
    """The pages' front page (every pilot): where a list cut short in Slack is shown whole."""
    return pilot_url("x", base_url).rsplit("/pilots/", 1)[0] + "/"


def _sources() -> tuple[str | None, str, int | None]:
    """What Settings().base_url depends on: the variable, and which `.env` (and its version)."""
    try:
        env_file: int | None = os.stat(".env").st_mtime_ns
    except OSError:
        env_file = None
    return os.environ.get("PILOTGATE_BASE_URL"), os.getcwd(), env_file


@lru_cache(maxsize=16)
def _configured_base_url(variable: str | None, cwd: str, env_file: int | None) -> str:
    # Settings() reads the environment and `.env` (~4 ms); a sweep links thousands of messages,
    # so it is read once per combination of its sources, and again when one changes.
    return Settings().base_url


def given_base_url(settings: Settings) -> str | None:
    """PILOTGATE_BASE_URL when it was set (environment or `.env`), else None: a file that
    leaves this machine (the report) links to the pages only where someone said where they
    are, never to the loopback default."""
    return settings.base_url if "base_url" in settings.model_fields_set else None
