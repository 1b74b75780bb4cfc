"""Prefect defaults for pilotgate's processes, set before Prefect is imported.

Only defaults: anything already in the environment (PREFECT_API_URL at scale, a chosen
PREFECT_HOME, a PREFECT_LOGGING_LEVEL someone wants for debugging) wins.

Logging: a run's log lines (`get_run_logger()` in tasks and flows) must reach the Prefect API at
INFO, so the UI and `prefect flow-run logs` show what each run decided, while the terminal of
`pilotgate advance` / `sweep` / `serve` stays quiet. Prefect 3 reads its logging config from
`prefect/logging/logging.yml`, and `prefect.logging.configuration.load_logging_config` lets an
environment variable `PREFECT_LOGGING_<PATH>_<KEY>` override any key of that file. So:

* `PREFECT_LOGGING_LEVEL=INFO` (Prefect's own default, written down): the `prefect` loggers,
  and with them `prefect.flow_runs` / `prefect.task_runs` (level NOTSET, which inherit it), pass
  INFO records to their `api` handler;
* `PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL=WARNING` overrides `handlers.console.level` (0 in
  logging.yml): the console handler on the root logger drops anything below WARNING, so run
  records that propagate to it are not printed, and warnings and errors still are.

Both must be in the environment before `import prefect` configures logging (and before a
Prefect server subprocess starts, which inherits them).
"""

from __future__ import annotations

import os

DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    # The temporary local API can take a while to start on a busy 2-core machine.
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    # Run logs go to the API at INFO ...
    "PREFECT_LOGGING_LEVEL": "INFO",
    # ... while the terminal shows warnings and errors only (logging.yml handlers.console.level).
    "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "WARNING",
}


def apply_defaults() -> None:
    for key, value in DEFAULTS.items():
        os.environ.setdefault(key, value)
