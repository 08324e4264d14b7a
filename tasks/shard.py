"""The task a Dask worker runs for one shard (``ballast.cluster.shard.work``): compute and
render, nothing written, so a retry (or a rerun after a lost worker) is always safe."""

from __future__ import annotations

from ballast.tasks import retrying
from prefect import task
from prefect.cache_policies import NO_CACHE

from ballast.cluster import shard, versions


@task(name="review-shard", cache_policy=NO_CACHE, **retrying.DEFAULT)
def review_shard(parcel: shard.Parcel, code: dict[str, str]) -> shard.ShardOutcome:
    """Checks, drift, bands, trades, results entries and reports of one shard, on a worker
    running the coordinator's ``code`` (``versions.fingerprint``; else ``CodeMismatch``)."""
    versions.check_worker(code)
    return shard.work(parcel.job)
