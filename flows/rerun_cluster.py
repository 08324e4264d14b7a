"""A rerun's shards on a Dask cluster: each one ``rerun-shard`` task on Prefect's
``DaskTaskRunner`` (``ballast rerun --executor dask``; docs/scaling.md). The jobs come from
``ballast.audit.rerun_jobs``; a shard that fails for good fails the rerun (a rerun that skipped
portfolios would prove nothing)."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Any

from ballast.tasks.shard import rerun_shard

from ballast.audit.rerun_jobs import RerunJob
from ballast.cluster import runner as cluster_runner
from ballast.cluster import versions
from ballast.cluster.shard import Parcel
from ballast.config import ExecutionConfig
from ballast.errors import BallastError, printable


def on_cluster(
    execution: ExecutionConfig, jobs: Iterator[RerunJob], count: int, run_id: str
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
