"""Turning validation failures into messages a programme manager can act on.

Every error names the file, the field path and what is allowed, so a bad YAML file is fixed in
one go rather than by trial and error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class InputError(ValueError):
    """Bad input from a person: a file, a flag or an id. The message says what to change."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(
            f"{source}: " + "; ".join(problems)
            if len(problems) == 1
            else f"{source}:\n" + "\n".join(f"  - {p}" for p in problems)
        )


def _loc(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts)


def describe(err: ValidationError) -> list[str]:
    problems = []
    for e in err.errors():
        msg = e["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        where = _loc(tuple(e["loc"]))
        # A rule across fields (a model validator) has no field path: its message says it all.
        problems.append(f"{where}: {msg}" if where else msg)
    return problems


def read_source(path: str | Path) -> tuple[str, str]:
    """A policy or proposal file's text and its name for messages; unreadable or non-UTF-8
    files are an InputError naming the file, never a traceback."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8"), str(path)
    except UnicodeDecodeError as exc:
        raise InputError(
            str(path),
            [
                f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); "
                "save the file as UTF-8"
            ],
        ) from None
    except OSError as exc:
        raise InputError(str(path), [f"cannot read the file ({exc.strerror})"]) from None


#: libyaml's parser where PyYAML was built with it: the policy is read by nearly every command,
#: and the pure-Python parser took ~35 ms of `pilotgate list` for it. Same safe constructor.
_FAST_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml_text(text: str, source: str) -> dict[str, Any]:
    try:
        try:
            data = yaml.load(text, Loader=_FAST_SAFE_LOADER)
        except yaml.YAMLError:
            # Read again by the Python parser, whose error (problem, line, column) is the one
            # people are shown.
            data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise InputError(source, [f"{where}invalid YAML ({problem})"]) from None
    if not isinstance(data, dict):
        raise InputError(source, ["expected a mapping of fields at the top level"])
    return data


def validate_model(model: type[M], data: Any, source: str, **context: Any) -> M:
    try:
        return model.model_validate(data, context=context or None)
    except ValidationError as err:
        raise InputError(source, describe(err)) from None
