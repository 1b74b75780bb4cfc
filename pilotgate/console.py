"""What every `pilotgate` command shares: where output goes, exit codes, and how pilotgate's
errors become one line on stderr (never a traceback) and an exit code.

The command modules (`cli`, `commands`, `metrics_cli`) all build on this one, so none of them
imports another.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy.exc import OperationalError

from lifecycle.errors import InputError
from lifecycle.gates import GateUnsatisfiable
from lifecycle.stages import IllegalTransition
from store.errors import Conflict, NotFound
from tasks.runtime import NotMigrated, Runtime

out = Console()
err = Console(stderr=True)

EXIT_CHECK_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_NOT_FOUND = 3
EXIT_CONFLICT = 4
EXIT_UNAVAILABLE = 5


def fail(message: str, code: int) -> NoReturn:
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def guarded() -> Iterator[None]:
    """Map pilotgate's errors to a message on stderr and an exit code."""
    try:
        yield
    except InputError as exc:
        fail(str(exc), EXIT_BAD_INPUT)
    except NotFound as exc:
        fail(str(exc), EXIT_NOT_FOUND)
    except (Conflict, IllegalTransition, GateUnsatisfiable) as exc:
        fail(str(exc), EXIT_CONFLICT)
    except NotMigrated as exc:
        fail(str(exc), EXIT_CONFLICT)
    except OperationalError as exc:
        fail(f"the database is unreachable: {exc.orig}", EXIT_UNAVAILABLE)


def runtime() -> Runtime:
    rt = Runtime()
    with guarded():
        rt.require_schema()
        _ = rt.policy
    return rt


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
