"""A rerun's computation as jobs: one for the whole run here, or one per shard on a cluster.

``ballast rerun`` rebuilds a past review from the archived bytes of its inputs
(``ballast.audit.rerun``). Its computation is cut as a review's is (``ballast.cluster.shard``):
``prepare`` runs where the warehouses are (the scratch warehouse rebuilt from the archive, and
the workspace's for the earlier review points) and packs one shard's policies and pinned
snapshot; ``work`` runs anywhere and returns the shard's results.json entries. With
``--executor dask`` each shard is one ``rerun-shard`` task on Prefect's ``DaskTaskRunner``
(``ballast.flows.rerun_cluster``); the entries come back in shard order, which is portfolio id
order, so the rebuilt documents are byte for byte those of a local rerun.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any

import duckdb
import polars as pl

from ballast import review
from ballast.portfolio.policy_set import PolicySet, accounts_of
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
    accounts = accounts_of(pset)
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
