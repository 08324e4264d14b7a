"""A local review's shard workers: processes on this machine that each review whole shards.

A review of many portfolios on one machine runs each shard's work (``ballast.cluster.shard.work``:
parse, compute, results entries, reports rendered and written) in one of these processes, as a
Dask worker would, while the flow's process prepares the next shard's job (IPS files, snapshot)
and writes what comes back. So the shards use every core without sharing one interpreter's lock:
a shard's compute, its results and its reports run in parallel with the next shard's. The
workers share this disk: they write the reports into the run's staging folder and parse the IPS
files through the workspace's cache (``ShardJob.folder``, ``ShardJob.policy_cache``).

Workers are started with ``spawn`` (the flow's process runs Prefect's threads) and import only
what a shard needs (no Prefect, no Great Expectations). A job travels by the standard library's
C pickler. The command line starts them ahead (``ahead``), before it imports Prefect: they import
on the other core while this process does, and the review adopts them (``adopt``).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import wait as wait_for
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported by the workers, and here only when a job is sent
    from ballast.cluster.policy_accounts import Row
    from ballast.cluster.shard import ShardJob, ShardOutcome
    from ballast.config import ExecutionConfig
    from ballast.portfolio.policy_set import PolicyFiles

POOL_FROM = 1000
"""Below this many portfolios a local review computes in its own process: starting workers
costs more than they save."""


def workers_for(portfolios: int, execution: ExecutionConfig) -> int:
    """How many shard workers a local review of ``portfolios`` runs: ``execution.local_workers``
    (unset: one per core), or none for fewer than ``POOL_FROM`` portfolios or one worker (the
    flow's process then computes each shard and a report pool renders it)."""
    workers = execution.local_workers or os.cpu_count() or 1
    return workers if workers > 1 and portfolios >= POOL_FROM else 0


def balanced(found: PolicyFiles, shard_size: int, workers: int) -> Sequence[PolicyFiles]:
    """Shards of at most ``shard_size`` portfolios, of one size, as many as a multiple of
    ``workers`` where there are portfolios enough, so no worker is left alone with a last,
    smaller shard while the others wait. How a run is cut never changes what it writes."""
    n = len(found.ids)
    count = -(-n // shard_size)
    count = -(-count // workers) * workers
    size = max(1, -(-n // count))
    return [found] if n <= size else found.split(size)


def _start(nice: int, threads: int) -> None:
    """A worker's start: Ctrl-C left to the command (which stops the pool: a worker would
    print a traceback), Polars given ``threads`` threads (the workers share the cores: more
    threads than cores spend CPU waiting for each other), ``nice`` added to its niceness, and
    the shard code imported and the report template compiled (so the first job does not wait
    for them)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ["POLARS_MAX_THREADS"] = str(threads)  # read when Polars is first imported
    if nice:
        with contextlib.suppress(OSError):
            os.nice(nice)
    import ballast.cluster.shard  # noqa: F401
    from ballast.reporting.html import environment

    environment().get_template("report.html.j2")  # compiled now (~0.2 s), not in a first shard


def _ready() -> int:
    return os.getpid()


def _work(job: ShardJob) -> ShardOutcome:
    """``shard.work``, then the worker's garbage collected and freed pages handed back
    (``memory.release``): each worker holds one shard at a time, not its largest shard's
    high-water mark."""
    from ballast.cluster.shard import work
    from ballast.ops.memory import release

    try:
        return work(job)
    finally:
        release()


def _parse_ahead(root: str, shard: PolicyFiles) -> list[Row]:
    """``policy_set.parse_ahead`` of one shard: the ``policy_accounts`` rows of what it parsed
    (none when the shard was kept already), then the garbage collected and the freed pages
    handed back. Optional work: a failure leaves the shard to be parsed by the review itself."""
    from ballast.cluster.policy_accounts import context, kept_rows
    from ballast.ops.memory import release
    from ballast.portfolio.models import read_folder
    from ballast.portfolio.policy_set import parse_ahead
    from ballast.workspace import Workspace

    try:
        ws = Workspace(Path(root))
        catalog = read_folder(ws.models)
        parsed = parse_ahead(ws, shard, catalog)
        return [] if parsed is None else kept_rows(parsed, context(catalog))
    except Exception:
        return []
    finally:
        release()


class ShardPool:
    """``workers`` processes reviewing shards (``run``), started on creation; ``close`` (or
    leaving the ``with`` block) stops them, ``abort`` (or an error leaving it) at once.
    ``nice`` (``execution.report_nice``) lowers their priority, so the flow's process, which
    prepares their next jobs, is never kept waiting."""

    def __init__(self, workers: int, nice: int = 0) -> None:
        self.workers, self.nice = workers, nice
        self._pool: ProcessPoolExecutor | None = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start,
            initargs=(nice, max(1, (os.cpu_count() or 1) // workers)),
        )
        for _ in range(workers):  # start them now: they import while the first job is prepared
            self._pool.submit(_ready)
        self._parsing: dict[tuple[str, ...], Future[list[Row]]] = {}

    def parse_ahead(self, root: Path, shards: Sequence[PolicyFiles]) -> None:
        """Have the workers parse these shards' IPS files into the workspace's cache of parsed
        files (those not there yet), before any job sent after: the workers of a command do
        this while it imports Prefect, ingests and validates, and the review then finds them
        parsed (``parsed_ahead``)."""
        if self._pool is None:
            raise RuntimeError("the shard pool is closed")
        for shard in shards:
            self._parsing[tuple(shard.ids)] = self._pool.submit(_parse_ahead, str(root), shard)

    def parsed_ahead(self, shard: PolicyFiles, tick: float = 0.2) -> list[Row]:
        """Wait until the IPS files of ``shard`` parsed ahead (if they were asked for) are in
        the cache, waking every ``tick`` seconds so Ctrl-C is seen; the ``policy_accounts``
        rows of those the worker parsed (``PolicyAccounts.offer``). A failure is the review's
        to meet when it reads them."""
        future = self._parsing.pop(tuple(shard.ids), None)
        if future is None:
            return []
        while not future.done():
            wait_for([future], timeout=tick)
        return [] if future.cancelled() or future.exception() else future.result()

    def submit(self, job: ShardJob) -> Future[ShardOutcome]:
        """Review one shard in a worker."""
        if self._pool is None:
            raise RuntimeError("the shard pool is closed")
        return self._pool.submit(_work, job)

    def run(self, job: ShardJob) -> ShardOutcome:
        """Review one shard in a worker and wait for its outcome."""
        return self.submit(job).result()

    def close(self) -> None:
        """Stop the workers once their jobs are done (jobs not started are cancelled)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def abort(self) -> None:
        """Stop the workers now, whatever they are doing (the run failed or was interrupted:
        what they wrote is in the run's staging folder, which recovery removes). Jobs waited
        for end with ``BrokenProcessPool``."""
        if self._pool is not None:
            processes = getattr(self._pool, "_processes", None) or {}
            for process in list(processes.values()):  # Python 3.14 has terminate_workers()
                with contextlib.suppress(Exception):
                    process.terminate()
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> ShardPool:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()


_AHEAD: list[ShardPool] = []  # started by ``ahead``, not adopted yet


@contextlib.contextmanager
def ahead(
    workers: int,
    nice: int,
    enabled: bool = True,
    root: Path | None = None,
    shards: Sequence[PolicyFiles] = (),
) -> Iterator[None]:
    """Start a pool of ``workers`` now, for the review run inside the block to ``adopt``,
    parsing ``shards`` of the workspace ``root`` meanwhile (``ShardPool.parse_ahead``); one
    not adopted by the end of the block is stopped."""
    pool = ShardPool(workers, nice) if enabled and workers > 1 else None
    if pool is not None:
        _AHEAD.append(pool)
        if root is not None and shards:
            pool.parse_ahead(root, shards)
    try:
        yield
    except BaseException:
        if pool is not None and pool in _AHEAD:
            _AHEAD.remove(pool)
            pool.abort()
        raise
    if pool is not None and pool in _AHEAD:
        _AHEAD.remove(pool)
        pool.close()


def started_ahead() -> bool:
    """Whether a pool started ahead waits to be adopted (its workers may be parsing)."""
    return bool(_AHEAD)


def adopt(workers: int, nice: int) -> ShardPool:
    """The pool started ahead when it is the one wanted (its owner is now the caller), else a
    new one."""
    for pool in _AHEAD:
        if pool.workers == workers and pool.nice == nice:
            _AHEAD.remove(pool)
            return pool
    return ShardPool(workers, nice)
