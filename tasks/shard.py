"""The tasks of one shard that runs in another process: on a Dask worker, a review's
(``ballast.cluster.shard.work``: compute and render) and a rerun's
(``ballast.audit.rerun_jobs.work``: compute); on this machine, a review's in one of the shard
workers of a local review (``ballast.cluster.shard_pool``). Nothing is recorded, and reports are
written only to the run's staging folder, so a retry (or a rerun after a lost worker) is always
safe."""

from __future__ import annotations

from typing import Any

from ballast.tasks import retrying
from prefect import task
from prefect.cache_policies import NO_CACHE

from ballast.audit import rerun_jobs as rerun_job
from ballast.cluster import shard, versions
from ballast.cluster.shard_pool import ShardPool


@task(name="review-shard", cache_policy=NO_CACHE, **retrying.DEFAULT)
def review_shard(parcel: shard.Parcel[shard.ShardJob], code: dict[str, str]) -> shard.ShardOutcome:
    """Checks, drift, bands, trades, results entries and reports of one shard, on a worker
    running the coordinator's ``code`` (``versions.fingerprint``; else ``CodeMismatch``)."""
    versions.check_worker(code)
    return shard.work(parcel.job)


@task(name="review-shard", cache_policy=NO_CACHE, **retrying.DEFAULT)
def review_shard_here(parcel: shard.Parcel[shard.ShardJob], pool: ShardPool) -> shard.ShardOutcome:
    """``review_shard`` in one of this machine's shard workers (the same code: nothing to
    check); the task's thread waits for the worker."""
    return pool.run(parcel.job)


@task(name="rerun-shard", cache_policy=NO_CACHE, **retrying.DEFAULT)
def rerun_shard(
    parcel: shard.Parcel[rerun_job.RerunJob], code: dict[str, str]
) -> list[dict[str, Any]]:
    """The results entries of one shard of a past run rebuilt (``ballast rerun``), on a worker
    running the coordinator's ``code``."""
    versions.check_worker(code)
    return rerun_job.work(parcel.job)
