"""What every `pilotgate` command shares: where output goes, exit codes, and how pilotgate's
errors become one line on stderr (never a traceback) and an exit code.

The command modules (`cli`, `commands`, `metrics_cli`) all build on this one, so none of them
imports another. It loads only typer and rich: `pilotgate --help` imports this module, and
pydantic, SQLAlchemy and the policy load when a command runs (`guarded`, `runtime`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from rich.status import Status

    from config.settings import Settings
    from tasks.runtime import Runtime

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
    # Deferred: pydantic and SQLAlchemy (their exceptions) load when a command runs, not for
    # `--help` (see the module docstring).
    from sqlalchemy.exc import OperationalError

    from lifecycle.errors import InputError
    from lifecycle.gates import GateUnsatisfiable
    from lifecycle.stages import IllegalTransition
    from store.errors import Conflict, NotFound
    from tasks.runtime import NotMigrated

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
        fail(f"the database is unreachable: {' '.join(str(exc.orig).split())}", EXIT_UNAVAILABLE)


#: each kind of refusal (`error_kind`) and its exit code, for an error that crossed a process
#: boundary as text (a flow `serve` ran for this command).
EXIT_FOR_KIND = {
    "input": EXIT_BAD_INPUT,
    "not-found": EXIT_NOT_FOUND,
    "conflict": EXIT_CONFLICT,
    "database": EXIT_UNAVAILABLE,
}


def error_kind(exc: BaseException) -> str | None:
    """What kind of refusal an exception is, as `guarded` sees it."""
    # Deferred: the exceptions' modules bring pydantic and SQLAlchemy (see `guarded`).
    from sqlalchemy.exc import OperationalError

    from lifecycle.errors import InputError
    from lifecycle.gates import GateUnsatisfiable
    from lifecycle.stages import IllegalTransition
    from store.errors import Conflict, NotFound
    from tasks.runtime import NotMigrated

    kinds: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], str], ...] = (
        (InputError, "input"),
        (NotFound, "not-found"),
        ((Conflict, IllegalTransition, GateUnsatisfiable, NotMigrated), "conflict"),
        (OperationalError, "database"),
    )
    return next((kind for types, kind in kinds if isinstance(exc, types)), None)


class Progress:
    """Says at once what a slow command is doing, on stderr: a spinner on a terminal, one line
    per step otherwise (a log, CI), so nobody waits in front of a silent terminal."""

    def __init__(self) -> None:
        self._status: Status | None = None

    def say(self, message: str) -> None:
        if not err.is_terminal:
            err.print(message, highlight=False, markup=False, soft_wrap=True)
        elif self._status is None:
            self._status = err.status(escape(message))
            self._status.start()
        else:
            self._status.update(escape(message))

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None


def runtime() -> Runtime:
    # Deferred: the runtime (SQLAlchemy, the policy's pydantic models) loads when a command
    # runs.
    from tasks.runtime import Runtime

    with guarded():
        rt = Runtime(settings())
    with guarded():
        rt.require_schema()
        _ = rt.policy
    return rt


def settings() -> Settings:
    """The settings from the environment; a bad value is exit 2 naming the variable."""
    # Deferred: pydantic-settings loads when a command runs.
    from pydantic import ValidationError

    from config.settings import Settings
    from lifecycle.errors import InputError

    try:
        return Settings()
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: "
            f"{str(e['msg']).removeprefix('Value error, ')}"
            for e in exc.errors()
        ]
        raise InputError("environment", problems) from None


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
