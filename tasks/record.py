"""Record stage: the run's row, inputs, results and outputs in the warehouse."""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from ballast import records, warehouse
from ballast.review import PolicySet
from ballast.workspace import Workspace


@task(name="start-run", cache_policy=NO_CACHE)
def start_run(workspace: str, run: dict) -> None:
    """Record that the run has started (so a crash leaves a trace)."""
    with warehouse.connect(Workspace(Path(workspace)).warehouse) as con:
        records.start(con, run)


@task(name="finish-run", cache_policy=NO_CACHE)
def finish_run(
    workspace: str,
    run: dict,
    policies: PolicySet | None,
    rendered: dict | None,
    ingest: dict | None,
    status: str,
) -> None:
    """Record the run's inputs, results, outputs and final status."""
    ws = Workspace(Path(workspace))
    with warehouse.connect(ws.warehouse) as con:
        records.finish(con, ws, run, policies, rendered, ingest, status)
