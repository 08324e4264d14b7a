"""A rerun's computation, shard by shard, locally or on a Dask cluster.

``ballast rerun`` rebuilds a past review from the archived bytes of its inputs
(``ballast.audit.rerun``). Its computation is cut as a review's is (``ballast.cluster.shard``):
``prepare`` runs where the warehouses are (the scratch warehouse rebuilt from the archive, and
the workspace's for the earlier review points) and packs one shard's policies and pinned
snapshot; ``work`` runs anywhere and returns the shard's results.json entries. Locally the whole
run is one job; with ``--executor dask`` each shard is one ``rerun-shard`` task on Prefect's
``DaskTaskRunner`` (``on_cluster``), and the entries come back in shard order, which is
portfolio id order: the rebuilt documents are byte for byte those of a local rerun. A shard that
fails for good fails the rerun (a rerun that skipped portfolios would prove nothing).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import duckdb
import polars as pl

from ballast import review
from ballast.config import ExecutionConfig
from ballast.errors import BallastError, printable
from ballast.portfolio.policy_set import PolicySet
from ballast.reporting import performance, results
from ballast.warehouse import snapshot


@dataclass(frozen=True)
class RerunJob:
    """One shard of a rerun: no path, no connection."""

    kind: str
    policies: PolicySet  # without the IPS texts
    snapshot: snapshot.Snapshot
    earlier: pl.DataFrame | None  # earlier review points (performance)


def prepare(
    con: duckdb.DuckDBPyConnection,
    data: duckdb.DuckDBPyConnection,
    run: dict[str, Any],
    pset: PolicySet,
    max_file_id: int | None,
) -> RerunJob:
    """The job of the portfolios of ``pset``: their snapshot as of the run, read from ``data``
    (bounded by ``max_file_id``, the run's high-water file id; None for today's data), and
    their earlier review points from ``con``. ``run`` is the run's metadata with its
    ``started_at``."""
    accounts = sorted({a.id for p in pset.policies for a in p.accounts})
    as_of = dt.date.fromisoformat(str(run["as_of"])[:10])
    bound = {} if max_file_id is None else {"max_file_id": max_file_id}
    snap = snapshot.take(data, as_of, accounts, **bound)
    earlier = performance.fetch_for(con, run, pset.ids)
    return RerunJob(str(run["kind"]), dataclasses.replace(pset, texts={}), snap, earlier)


def work(job: RerunJob) -> list[dict[str, Any]]:
    """The shard's results.json entries, as the run computed them (anywhere: no warehouse)."""
    computed = review.compute(job.snapshot, job.policies, with_trades=job.kind != "monitor")
    perf = performance.compute(computed, job.earlier, kind=job.kind)
    return results.portfolio_entries(computed, kind=job.kind, performance=perf)


def on_cluster(
    jobs: Iterator[RerunJob], count: int, execution: ExecutionConfig, run_id: str
) -> list[dict[str, Any]]:
    """Every job's entries, in job order, each job one ``rerun-shard`` task on the cluster
    ``execution`` names; at most a few jobs are prepared ahead of the workers. A shard that
    failed for good is a ``BallastError``.

    The tasks run under no flow run (a rerun is recorded in the audit trail, not as a Prefect
    flow): a flow's context travels with each task to the workers, and a rerun's jobs come
    from open warehouse connections that cannot be shipped. Their logs stay on the workers."""
    from prefect.settings import PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW, temporary_settings

    with temporary_settings({PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW: "ignore"}):
        return _on_cluster(jobs, count, execution, f"rerun-{run_id}")


def _on_cluster(
    jobs: Iterator[RerunJob], count: int, execution: ExecutionConfig, token: str
) -> list[dict[str, Any]]:
    from ballast.cluster import runner as cluster_runner
    from ballast.cluster import versions
    from ballast.cluster.shard import Parcel
    from ballast.tasks.shard import rerun_shard

    entries: list[dict[str, Any]] = []
    with cluster_runner.opened(execution) as task_runner:
        window = cluster_runner.in_flight(task_runner)
        code = versions.fingerprint()
        pending: deque[tuple[Any, int]] = deque()

        def submit(job: RerunJob, i: int) -> Any:
            parcel = Parcel(job, f"{token}-{i}")
            return task_runner.submit(rerun_shard, {"parcel": parcel, "code": code})

        sent = 0
        for _ in range(count):
            while sent < count and len(pending) < window:
                job = next(jobs)
                pending.append((submit(job, sent), len(job.policies.ids)))
                sent += 1
            future, size = pending.popleft()
            try:
                entries += future.result()
            except Exception as exc:  # the task failed for good (retries spent)
                reason = printable(f"{type(exc).__name__}: {exc}".splitlines()[0])[:300]
                raise BallastError(
                    f"a shard of {size} portfolios failed on {cluster_runner.describe(execution)} "
                    f"({reason}): the run was not re-created"
                ) from exc
    return entries
