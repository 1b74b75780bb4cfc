"""Commands that need the orchestration side (flows, Slack); kept apart so `pilotgate list`
does not import Prefect."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    return None
