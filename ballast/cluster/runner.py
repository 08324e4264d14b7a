"""Prefect's ``DaskTaskRunner`` for a review's shards, opened from the ``execution:`` settings.

With an ``address`` the review runs on that scheduler's workers (a cluster started by
dask-kubernetes, dask-jobqueue, a cloud provider or ``dask scheduler`` / ``dask worker``);
without one, on a ``distributed.LocalCluster`` of one single-threaded worker process per core.
The scheduler is reached at once, before any work: one that does not answer within
``connect_timeout_seconds`` is a ``ClusterError`` (exit status 69).

Workers run the shard tasks through Prefect's task engine, so they must reach the same Prefect
API as the flow: the runner is opened with the API's URL set explicitly in Prefect's settings,
which travel with each task (a temporary server listens on loopback only: a remote cluster needs
a Prefect server the workers can reach, ``prefect.api_url`` in ``ballast.yaml``).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ballast.config import ExecutionConfig
from ballast.errors import ClusterError

if TYPE_CHECKING:
    from prefect_dask import DaskTaskRunner

IN_FLIGHT_PER_THREAD = 2  # shards sent per worker thread: one running, one waiting


def api_url() -> str | None:
    """The Prefect API this process uses: the configured one, or its temporary server's."""
    from prefect.settings import PREFECT_API_URL

    configured: str | None = PREFECT_API_URL.value()
    if configured:
        return configured
    from prefect.server.api.server import SubprocessASGIServer  # 2 s of imports: only here

    server = SubprocessASGIServer()
    return server.api_url if server.running else None


def local_cluster() -> dict[str, object]:
    """``LocalCluster`` arguments: one single-threaded worker process per core (a shard's
    review is one Python thread), the dashboard on any free port."""
    return {
        "n_workers": os.cpu_count() or 1,
        "threads_per_worker": 1,
        "processes": True,
        "dashboard_address": ":0",
        "silence_logs": logging.ERROR,
    }


def describe(cfg: ExecutionConfig) -> str:
    return f"the Dask scheduler at {cfg.address}" if cfg.address else "a local Dask cluster"


def _runner(cfg: ExecutionConfig) -> DaskTaskRunner:
    from prefect_dask import DaskTaskRunner

    if cfg.address:
        timeout = f"{cfg.connect_timeout_seconds}s"
        return DaskTaskRunner(address=cfg.address, client_kwargs={"timeout": timeout})
    return DaskTaskRunner(cluster_kwargs=local_cluster())


@contextlib.contextmanager
def opened(cfg: ExecutionConfig) -> Iterator[DaskTaskRunner]:
    """The task runner, connected (or its local cluster started), for the block."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    api = api_url()
    settings = temporary_settings({PREFECT_API_URL: api}) if api else contextlib.nullcontext()
    runner = _runner(cfg)
    with settings, runner:
        try:
            runner.client  # noqa: B018 (connects, or starts the local cluster)
        except (OSError, TimeoutError) as exc:
            raise ClusterError(
                f"{describe(cfg)} did not answer within {cfg.connect_timeout_seconds:g} s "
                f"({type(exc).__name__}); start it, or fix execution.address in ballast.yaml "
                "or --address"
            ) from exc
        check_versions(runner, cfg)
        yield runner


def check_versions(runner: DaskTaskRunner, cfg: ExecutionConfig) -> None:
    """Every worker connected now runs this process's code and libraries
    (``versions.fingerprint``), else a ``ClusterError`` naming the first that does not. A
    worker that joins later is checked by each shard it runs (``tasks.shard``)."""
    from ballast.cluster import versions

    try:
        theirs = runner.client.run(versions.fingerprint)
    except Exception as exc:  # e.g. a worker without ballast cannot import the check
        raise ClusterError(
            f"{describe(cfg)}: a worker could not report its ballast version "
            f"({type(exc).__name__}: {exc}); install this ballast on every worker"
        ) from exc
    found = versions.mismatches(versions.fingerprint(), theirs)
    if found:
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise ClusterError(
            f"{describe(cfg)}: worker {found[0]}{more}; install the same ballast and "
            "libraries on every worker (docs/scaling.md)"
        )


def in_flight(runner: DaskTaskRunner) -> int:
    """How many shards to keep on the cluster at once: enough to keep every worker thread
    busy, few enough that the coordinator holds only a handful of shards."""
    workers = runner.client.scheduler_info(n_workers=-1).get("workers", {})
    threads = sum(int(w.get("nthreads", 1)) for w in workers.values()) or 1
    return max(2, IN_FLIGHT_PER_THREAD * threads)
