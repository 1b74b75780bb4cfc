"""The run's logger: what a task or flow decides goes to its Prefect run log at INFO.

`config.prefect_env` makes those lines reach the API (the UI's run page, `prefect flow-run
logs`) while the terminal shows warnings only. Log decisions and counts, ids and roles; never a
token, a signing secret or a database URL (settings hold those as SecretStr; none is formatted
here).
"""

from __future__ import annotations

import logging
from typing import Any

from prefect import get_run_logger
from prefect.exceptions import MissingContextError

_fallback = logging.getLogger("pilotgate.tasks")


def run_logger() -> logging.Logger | logging.LoggerAdapter[Any]:
    """The current run's logger, or a plain one when called outside a run (helpers in tests)."""
    try:
        return get_run_logger()
    except MissingContextError:
        return _fallback
