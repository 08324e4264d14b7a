"""One shard's review, cut in two so that it can run on a Dask worker.

``prepare`` runs on the coordinator, the only process that opens the warehouse: it reads the
shard's IPS files (their texts: it parses only those it has not seen,
``ballast.cluster.policy_accounts``) and takes its snapshot (Polars frames, shipped as Arrow),
with the facts of the files and the drift history its reports show. ``work`` runs anywhere: it
parses and validates the IPS texts, then checks, drift, bands and trades
(``ballast.review.compute``), the results entries and result tables, and the reports rendered
to bytes. The coordinator writes what comes back (``RunFolder.add_documents``) and
records the run, so outputs are byte for byte those of a local review. Workers that share the
coordinator's disk (a local cluster) write the reports into the run's staging folder themselves
(``ShardJob.folder``) and send back only their hashes.

``failed`` stands in for a shard whose work failed for good (not a transient fault, which
Prefect retries): each of its portfolios is reported invalid with the reason, the run goes on.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import duckdb
import polars as pl

from ballast import review
from ballast.audit import records
from ballast.cluster.policy_accounts import PolicyAccounts
from ballast.cluster.shard_results import shard_results
from ballast.errors import printable
from ballast.ops.runs import RunIdentity
from ballast.portfolio.models import ModelCatalog, ModelFile
from ballast.portfolio.policy_set import (
    PolicyFiles,
    PolicySet,
    PolicyTexts,
    parse_cached,
    parse_texts,
    read_texts,
)
from ballast.reporting import drift_history, outputs, performance
from ballast.reporting.run_folder import EncodedShard, encode
from ballast.warehouse import snapshot
from ballast.workspace import Workspace


@dataclass(frozen=True)
class ShardJob:
    """Everything a worker needs for one shard: no path, no connection."""

    run: RunIdentity
    ips: PolicyTexts  # the shard's IPS files as read: the worker parses them
    models: ModelCatalog  # the model files an IPS may name
    root: str  # the workspace, left out of an IPS error (as in a local review)
    snapshot: snapshot.Snapshot
    stale_after: int
    html: bool
    pdf: str
    info: pl.DataFrame | None  # facts of the files the snapshot read (reports only)
    history: dict[str, list[dict[str, Any]]] | None  # earlier review points (reports only)
    folder: str | None = None  # the run's staging folder, when workers share this disk
    earlier: pl.DataFrame | None = None  # earlier review points (performance, results.json)
    policy_cache: bool = False  # parse through the workspace's cache (a worker on this disk)


J = TypeVar("J")  # the job a parcel carries: a ShardJob, or a rerun's RerunJob


class Parcel(Generic[J]):
    """A job as a task's argument: an opaque box, so that Prefect does not walk every policy
    and frame of it looking for futures (and Dask ships it as it is)."""

    __slots__ = ("job", "token")

    def __init__(self, job: J, token: str) -> None:
        self.job = job
        self.token = token  # unique per run and shard

    def __dask_tokenize__(self) -> str:
        """Dask's key for the task: this token, not a hash of the pickled job (which would
        pickle every shard twice on the coordinator)."""
        return self.token

    def __reduce__(self) -> tuple[Any, tuple[bytes, str]]:
        """Pickled by the standard library's C pickler, as one blob: Dask sends a task's
        arguments through cloudpickle, whose Python-level pickler made the coordinator spend
        about 0.2 ms per portfolio on its policies and frames."""
        return _unparcel, (pickle.dumps(self.job, protocol=pickle.HIGHEST_PROTOCOL), self.token)


def _unparcel(data: bytes, token: str) -> Parcel[Any]:
    return Parcel(pickle.loads(data), token)  # the coordinator's own job


@dataclass(frozen=True)
class ShardOutcome:
    """What a worker sends back: the shard's entries encoded for the run folder, the result
    tables to record, the reports' bytes."""

    encoded: EncodedShard
    frames: dict[str, pl.DataFrame]
    documents: dict[str, bytes]  # reports to write (empty when the worker wrote them)
    file_ids: list[int]
    positions: int
    written: dict[str, str] = field(default_factory=dict)  # reports the worker wrote: hashes
    errors: dict[str, str] = field(default_factory=dict)  # refused IPS files: why
    models: dict[str, ModelFile] = field(default_factory=dict)  # model files the IPS named

    def policies(self, ips: PolicyTexts) -> PolicySet:
        """The shard's IPS files (``ShardJob.ips``) as the record stage keeps them: texts,
        hashes, refusals and models (no parsed policies)."""
        return PolicySet([], self.errors, ips.hashes, ips.texts, self.models)


def _file_ids(snap: snapshot.Snapshot) -> list[int]:
    """Every file the snapshot read from (a superset of those a report names)."""
    frames = [f.select("file_id") for f in (snap.positions, snap.lots) if "file_id" in f.columns]
    if not frames:
        return []
    return pl.concat(frames)["file_id"].drop_nulls().unique().sort().to_list()


def prepare(
    con: duckdb.DuckDBPyConnection,
    ws: Workspace,
    run: RunIdentity,
    files: PolicyFiles,
    accounts: PolicyAccounts,
    *,
    stale_after: int,
    html: bool,
    pdf: str,
    folder: Path | None = None,
) -> ShardJob:
    """The shard's job: its IPS texts (parsed by the worker, through the workspace's cache of
    parsed IPS files when ``accounts`` says the worker is on this disk) and its snapshot."""
    ips = read_texts(ws, files)
    snap = snapshot.take(con, dt.date.fromisoformat(run.as_of), accounts.accounts(ips))
    info = history = None
    if html:
        info = records.file_info(con, _file_ids(snap))
        history = drift_history.fetch(con, run.meta(), ips.ids)
    earlier = performance.fetch_for(con, run.meta(), ips.ids)
    shared = str(folder) if folder is not None else None
    catalog, root = accounts.catalog, str(ws.root)
    return ShardJob(
        run,
        ips,
        catalog,
        root,
        snap,
        stale_after,
        html,
        pdf,
        info,
        history,
        shared,
        earlier,
        accounts.policy_cache,
    )


def _parsed(job: ShardJob) -> PolicySet:
    if job.policy_cache:
        return parse_cached(job.ips, job.models, Path(job.root))
    return parse_texts(job.ips, job.models, Path(job.root))


def work(job: ShardJob) -> ShardOutcome:
    """Parse, compute and render one shard (on a worker): no warehouse, no files written."""
    pset = _parsed(job)
    return _work(job, pset, pset)


def _work(job: ShardJob, pset: PolicySet, kept: PolicySet) -> ShardOutcome:
    computed = review.compute(
        job.snapshot,
        pset,
        with_trades=job.run.kind != "monitor",
        stale_after=job.stale_after,
    )
    part = shard_results(job.run, computed, job.info, job.history, job.earlier)
    del computed
    encoded = encode(part.entries, tables=job.run.kind != "monitor", html=job.html)
    documents: dict[str, bytes] = {}
    written: dict[str, str] = {}
    if job.html and job.folder is not None:  # this disk is the coordinator's: write them here
        written = outputs.render_and_write(Path(job.folder), part.contexts, job.pdf)
    elif job.html:
        documents = outputs.render_documents(part.contexts, job.pdf)
    return ShardOutcome(
        encoded,
        part.frames,
        documents,
        part.file_ids,
        part.positions,
        written,
        kept.errors,
        kept.models,
    )


def failed(job: ShardJob, error: BaseException) -> ShardOutcome:
    """The outcome of a shard whose work failed for good: every portfolio in it is invalid,
    with the reason (computed here, on the coordinator, from no data at all). Its IPS files
    are parsed here, so the run records their refusals and models as a local review would."""
    reason = printable(f"{type(error).__name__}: {error}".splitlines()[0])[:300]
    message = f"not reviewed: its shard failed on the cluster ({reason})"
    pset = PolicySet(errors=dict.fromkeys(job.ips.ids, message))
    snap = job.snapshot
    frames = {f.name: getattr(snap, f.name) for f in dataclasses.fields(snap)[1:]}
    empty = snapshot.Snapshot(snap.as_of, **{k: v.clear() for k, v in frames.items()})
    blank = dataclasses.replace(job, snapshot=empty, history={})
    return _work(blank, pset, _parsed(job))
