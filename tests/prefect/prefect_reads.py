"""Reading back what pilotgate left in Prefect, as a platform engineer would: flow runs by tag,
a run's logs, artifacts by key, through Prefect's own client against the session's API."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from uuid import UUID


def client() -> Any:
    from prefect.client.orchestration import get_client

    return get_client(sync_client=True)


def runs_tagged(*tags: str) -> list[Any]:
    """Flow runs carrying every tag, oldest first."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags
    from prefect.client.schemas.sorting import FlowRunSort

    with client() as c:
        runs = c.read_flow_runs(
            flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=list(tags))),
            sort=FlowRunSort.EXPECTED_START_TIME_ASC,
        )
    return sorted(runs, key=lambda r: r.created)


def read_run(run_id: UUID | str) -> Any:
    with client() as c:
        return c.read_flow_run(UUID(str(run_id)))


def _until(read: Callable[[], Any], done: Callable[[Any], bool], timeout: float) -> Any:
    """Poll `read` until `done` (run logs reach the API in batches, every 2 s by default)."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.5)


def logs_of(run_id: UUID, *, containing: str = "", timeout: float = 60.0) -> list[Any]:
    """The logs of a flow run (its tasks' included), waiting until one contains `containing`."""
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    def read() -> list[Any]:
        with client() as c:
            return list(
                c.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])))
            )

    return list(_until(read, lambda logs: any(containing in log.message for log in logs), timeout))


def artifacts(key: str, *, flow_run_id: UUID | None = None) -> list[Any]:
    """Every version of an artifact key, oldest first (optionally of one flow run)."""
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        ArtifactFilterKey,
    )

    flt = ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
    if flow_run_id is not None:
        flt = ArtifactFilter(
            key=ArtifactFilterKey(any_=[key]),
            flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]),
        )
    with client() as c:
        found = list(c.read_artifacts(artifact_filter=flt))
    return sorted(found, key=lambda a: a.created)
