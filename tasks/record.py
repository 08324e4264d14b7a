"""Record stage: the run's row, inputs, results and outputs in the warehouse, and the
hash-chained audit trail (appended only after each record has been committed)."""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from ballast import audit, records, warehouse
from ballast.review import PolicySet
from ballast.workspace import Workspace


@task(name="start-run", cache_policy=NO_CACHE)
def start_run(workspace: str, run: dict) -> None:
    """Record that the run has started (so a crash leaves a trace)."""
    ws = Workspace(Path(workspace))
    with warehouse.connect(ws.warehouse) as con:
        records.start(con, run)
        audit.record_run_started(con, ws, run)


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
        audit.record_run_finished(con, ws, run["run_id"])
