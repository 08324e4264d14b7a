"""The quarterly review and the daily drift monitor.

Large arguments (staged files, policies, results) are wrapped in ``quote``: otherwise Prefect
walks every element looking for futures, which cost more than the review itself at 10,000
portfolios.

stage inbox ─► validate (GX) ─► load / quarantine ─► load policies ─► compute (per shard)
                                                                    ─► render ─► record, publish

Around the stages: each one is announced through ``ballast.ops.progress`` (the command line shows
it) and logged with its duration and counts; every log line of the run carries the run id and
goes to ``<workspace>/logs/ballast.jsonl`` (``ballast.ops.runlog``); tasks retry transient failures
as ``ballast.yaml`` says (``ballast.tasks.retrying``).
"""

from __future__ import annotations

import datetime as dt
import time
from collections import deque
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from ballast.flows.states import RunResult, ballast_flow, finished
from ballast.tasks import retrying
from ballast.tasks.compute import compute, find_policies
from ballast.tasks.ingest import load_files, stage_inbox
from ballast.tasks.record import finish_run, start_run
from ballast.tasks.render import render
from ballast.tasks.shard import review_shard, review_shard_here
from ballast.tasks.validate import validate_files
from prefect import get_run_logger
from prefect.states import State
from prefect.utilities.annotations import quote

from ballast import config as ballast_config
from ballast.audit import records, recovery
from ballast.config import ExecutionConfig
from ballast.ops import memory, notify, progress, runlog, runs
from ballast.portfolio.policy_set import PolicyFiles, PolicySet, PolicyTexts
from ballast.reporting.outputs import RenderResult
from ballast.reporting.pdf import PdfChoice
from ballast.reporting.run_folder import RunFolder
from ballast.reporting.summary import TerminalRows
from ballast.warehouse import db
from ballast.warehouse.result_files import ResultFiles
from ballast.workspace import Workspace


def _shards(found: PolicyFiles, shard_size: int) -> Sequence[PolicyFiles]:
    if len(found.ids) <= shard_size:
        return [found]
    return found.split(shard_size)


def _counts(stage: str, out: Any) -> dict[str, int]:
    """The numbers logged with a finished stage."""
    if out is None:
        return {}
    if stage in ("ingest", "validate"):
        return {
            "files": len(out),
            "deferred": sum(1 for s in out if s.deferred),
            "rows": sum(s.rows or 0 for s in out),
        }
    if stage == "load":
        return {k: len(files) for k, files in out.as_dict().items()}
    if stage == "policies":
        return {"portfolios": len(out.ids), "refused": len(out.refused)}
    if stage == "compute":
        return {"portfolios": out.terminal.count, "positions": out.positions}
    if stage == "render":
        return {"portfolios": out.terminal.count, "files": out.files}
    return {}


def _tasks(workspace: Path) -> SimpleNamespace:
    """The run's tasks, with the retries the workspace's ``ballast.yaml`` asks for."""
    retry = retrying.for_workspace(workspace)
    tasks = (
        start_run,
        stage_inbox,
        validate_files,
        load_files,
        find_policies,
        compute,
        render,
        review_shard,
        review_shard_here,
        finish_run,
    )
    return SimpleNamespace(**{t.fn.__name__: retrying.configured(t, retry) for t in tasks})


class _Shards:
    """What a run keeps of its shards once each is written: the policies refused and the
    models read (for the record stage), what the terminal shows (``TerminalRows``: every
    portfolio only for ``all_rows`` or a small run), the files read and the positions counted.
    Their result rows, IPS hashes and report hashes go to disk (``ResultFiles``) as each is
    written."""

    def __init__(self, ws: Workspace, run_id: str, all_rows: bool = False) -> None:
        self.reviewed = PolicySet()
        self.terminal = TerminalRows(keep_all=all_rows)
        self.results = ResultFiles.begin(ws, run_id)
        self.file_ids: set[int] = set()
        self.positions = 0

    def policies(self, ws: Workspace, pset: PolicySet) -> None:
        records.archive_policies(ws, pset)  # content-addressed: idempotent
        self.reviewed.errors |= pset.errors
        self.reviewed.models |= pset.models
        self.results.add_ips(pset.hashes)

    def add(self, part: Any, folder: RunFolder) -> None:
        """A shard's results (``ShardResults``, ``ShardOutcome``), and the hashes of the
        reports written so far. Its terminal rows come from the run folder as it writes the
        shard's entries (``RunFolder(on_rows=...)``)."""
        self.results.add(part.frames)
        self.results.add_outputs(folder.take_hashes())
        self.file_ids.update(part.file_ids)
        self.positions += part.positions

    def folder_for_outcomes(
        self, ws: Workspace, run: runs.RunIdentity, html: bool, pdf: str
    ) -> RunFolder:
        """The run folder of a review whose shards are rendered by workers
        (``ShardOutcome``): no report pool of its own."""
        rows, choice = self.terminal.add, PdfChoice(pdf)
        return RunFolder(ws.reports, run.meta(), total=0, html=html, pdf=choice, on_rows=rows)

    def add_outcome(self, ws: Workspace, folder: RunFolder, part: Any, ips: PolicyTexts) -> None:
        """A worker's ``ShardOutcome`` of the shard of IPS files ``ips`` (``ShardJob.ips``): its
        policies kept for the record, its entries and reports written."""
        self.policies(ws, part.policies(ips))
        folder.add_encoded(part.encoded)
        folder.add_documents(part.documents, part.written)
        self.add(part, folder)

    def result(self, folder: RunFolder, hashes: dict[str, str]) -> RenderResult:
        return RenderResult(
            folder.final, hashes, self.results, sorted(self.file_ids), self.terminal, self.positions
        )


def _review(
    t: SimpleNamespace,
    ws: Workspace,
    run: runs.RunIdentity,
    found: PolicyFiles,
    execution: ExecutionConfig,
    html: bool,
    pdf: str,
    all_rows: bool = False,
) -> tuple[RenderResult, PolicySet, float]:
    """Compute and render the run shard by shard (the next shard is computed while this one
    is written); each shard's policies and results go to the archive and the run folder and
    are released, so memory is set by the shard size. Returns what was written, the policies
    reviewed (their hashes and errors, for the record stage) and the seconds spent waiting for
    compute (the rest of the time is the render stage's)."""
    from ballast.cluster import shard_pool

    workers = shard_pool.workers_for(len(found.ids), execution)
    if workers:
        return _review_in_pool(t, ws, run, found, execution, workers, html, pdf, all_rows)
    root, with_trades = str(ws.root), run.kind != "monitor"
    shards = _shards(found, execution.shard_size)
    kept, waited = _Shards(ws, run.run_id, all_rows), 0.0
    with RunFolder(
        ws.reports,
        run.meta(),
        total=len(found.ids),
        html=html,
        pdf=PdfChoice(pdf),
        nice=execution.report_nice,
        on_rows=kept.terminal.add,
    ) as folder:
        following = t.compute.submit(root, run.as_of, quote(shards[0]), with_trades)
        for i in range(len(shards)):
            t0 = time.perf_counter()
            computed = following.result().take()
            waited += time.perf_counter() - t0
            if i + 1 < len(shards):
                following = t.compute.submit(root, run.as_of, quote(shards[i + 1]), with_trades)
            if i == 0:
                progress.stage("render", len(found.ids) if html else None)
            kept.policies(ws, computed.policies)
            part = t.render(root, run, quote(computed), html)
            del computed
            folder.add(part.entries, part.contexts)
            kept.add(part, folder)
            del part
        hashes = folder.close()
    return kept.result(folder, hashes), kept.reviewed, waited


def _awaited(future: Any, tick: float = 0.2) -> Any:
    """``future.result()``, waking every ``tick`` seconds: Ctrl-C's signal may be taken by
    another of this process's threads, which does not wake a main thread blocked on a lock, so
    a wait of a whole shard would hold the interrupt that long."""
    while not future.wrapped_future.done():
        future.wait(tick)
    return future.result()


def _review_in_pool(
    t: SimpleNamespace,
    ws: Workspace,
    run: runs.RunIdentity,
    found: PolicyFiles,
    execution: ExecutionConfig,
    workers: int,
    html: bool,
    pdf: str,
    all_rows: bool = False,
) -> tuple[RenderResult, PolicySet, float]:
    """``_review`` with each shard's work (parse, compute, results, reports) in one of this
    machine's shard workers (``ballast.cluster.shard_pool``), as on a Dask cluster
    (``_review_on_cluster``): this process reads each shard's IPS files and snapshot, keeps
    every worker busy with one more job ready, and writes what comes back in shard order. The
    workers parse the IPS files through the workspace's cache of parsed files, so a review of
    files seen before parses none. The run folder is byte for byte that of ``_review``; a
    shard that fails fails the run, as there."""
    from ballast.cluster import shard as cluster_shard
    from ballast.cluster import shard_pool
    from ballast.cluster.policy_accounts import PolicyAccounts
    from ballast.portfolio import models as model_files

    shards = shard_pool.balanced(found, execution.shard_size, workers)
    stale = ballast_config.load_checks(ws.root).stale_price_sessions
    catalog = model_files.read_folder(ws.models) if found.names else model_files.ModelCatalog()
    kept, waited = _Shards(ws, run.run_id, all_rows), 0.0
    pending: deque[tuple[Any, PolicyTexts]] = deque()  # not the job: its snapshot is sent
    with (
        shard_pool.adopt(workers, execution.report_nice) as pool,
        kept.folder_for_outcomes(ws, run, html, pdf) as folder,
        db.connect(ws.warehouse, memory_limit=db.review_memory_limit(ws.warehouse)) as con,
    ):
        accounts = PolicyAccounts(con, catalog, ws.root, policy_cache=True)
        job_of = partial(
            cluster_shard.prepare, con, ws, run, accounts=accounts, stale_after=stale, html=html
        )
        sent = 0
        for i in range(len(shards)):
            while sent < len(shards) and len(pending) <= workers:
                accounts.offer(pool.parsed_ahead(shards[sent]))  # when the command asked
                job = job_of(shards[sent], pdf=pdf, folder=folder.folder)
                parcel = cluster_shard.Parcel(job, f"{run.run_id}-{sent}")
                pending.append((t.review_shard_here.submit(quote(parcel), quote(pool)), job.ips))
                sent += 1
                del parcel, job
            if i == 0:
                progress.stage("render", len(found.ids) if html else None)
            future, ips = pending.popleft()
            t0 = time.perf_counter()
            part = _awaited(future)
            waited += time.perf_counter() - t0
            kept.add_outcome(ws, folder, part, ips)
            del future, ips, part
            memory.release()
        hashes = folder.close()
    return kept.result(folder, hashes), kept.reviewed, waited


def _review_on_cluster(
    t: SimpleNamespace,
    ws: Workspace,
    run: runs.RunIdentity,
    found: PolicyFiles,
    execution: ExecutionConfig,
    html: bool,
    pdf: str,
    all_rows: bool = False,
) -> tuple[RenderResult, PolicySet, float]:
    """``_review`` with each shard computed and rendered by a task on a Dask cluster (Prefect's
    ``DaskTaskRunner``). This process stays the warehouse's only reader and writer: it prepares
    each shard's job (IPS files, snapshot), keeps a few shards in flight, and writes what comes
    back in shard order, so the run folder is byte for byte a local review's. A shard that
    fails for good has its portfolios reported invalid; the others go on."""
    from ballast.cluster import runner as cluster_runner
    from ballast.cluster import shard as cluster_shard
    from ballast.cluster import versions as cluster_versions
    from ballast.cluster.policy_accounts import PolicyAccounts
    from ballast.portfolio.models import ModelCatalog
    from ballast.portfolio.models import read_folder as read_models

    logger = get_run_logger()
    shards = _shards(found, execution.shard_size)
    stale = ballast_config.load_checks(ws.root).stale_price_sessions
    kept, waited = _Shards(ws, run.run_id, all_rows), 0.0
    pending: deque[tuple[Any, cluster_shard.ShardJob]] = deque()
    with (
        cluster_runner.opened(execution) as task_runner,
        kept.folder_for_outcomes(ws, run, html, pdf) as folder,
        db.connect(ws.warehouse, memory_limit=db.review_memory_limit(ws.warehouse)) as con,
    ):
        window = cluster_runner.in_flight(task_runner)
        code = cluster_versions.fingerprint()  # each shard's worker must run the same
        shared = folder.folder if execution.address is None else None  # a local cluster
        logger.info(
            "%d shards on %s, %d at a time",
            len(shards),
            cluster_runner.describe(execution),
            window,
        )
        progress.stage("render", len(found.ids) if html else None)
        catalog = read_models(ws.models) if found.names else ModelCatalog()
        accounts = PolicyAccounts(con, catalog, ws.root)
        job_of = partial(
            cluster_shard.prepare, con, ws, run, accounts=accounts, stale_after=stale, html=html
        )
        sent = 0
        for _ in range(len(shards)):
            while sent < len(shards) and len(pending) < window:
                job = job_of(shards[sent], pdf=pdf, folder=shared)
                parcel = cluster_shard.Parcel(job, f"{run.run_id}-{sent}")
                future = task_runner.submit(t.review_shard, {"parcel": parcel, "code": code})
                pending.append((future, job))
                sent += 1
            future, job = pending.popleft()
            t0 = time.perf_counter()
            try:
                part = future.result()
            except Exception as exc:  # the task failed for good (retries spent)
                logger.error("a shard of %d portfolios failed: %s", len(job.ips.ids), exc)
                part = cluster_shard.failed(job, exc)
            waited += time.perf_counter() - t0
            kept.add_outcome(ws, folder, part, job.ips)
            del future, job, part
        hashes = folder.close()
    if accounts.parsed:
        logger.info("parsed %d IPS files here to find their accounts", accounts.parsed)
    return kept.result(folder, hashes), kept.reviewed, waited


def run_review(
    workspace: str,
    as_of: str,
    portfolios: list[str] | None = None,
    reason: str | None = None,
    trigger: str = "manual",
    kind: str = "quarterly_review",
    html: bool = True,
    shard_size: int | None = None,
    pdf: str = "none",
    executor: str | None = None,
    address: str | None = None,
    all_rows: bool = False,
) -> dict[str, Any]:
    """The body shared by both flows: ingest, compute, render and record one run. The shard
    size, executor (local or dask) and scheduler address default to ``ballast.yaml``'s
    ``execution:`` section. The result's ``rows`` are every portfolio's terminal row for
    ``all_rows`` or a run of at most ``FULL_TABLE_MAX`` portfolios, else the first exceptions
    (``ballast.reporting.summary.TerminalRows``)."""
    ws = Workspace(Path(workspace)).check()
    dt.date.fromisoformat(as_of)
    execution = ballast_config.execution_for(ws.root, shard_size, executor, address)
    run = runs.RunIdentity.begin(as_of, kind, trigger, reason)
    with runlog.bound(ws.root, run.run_id):
        return _run(ws, run, portfolios, html, execution, pdf, all_rows)


def _run(
    ws: Workspace,
    run: runs.RunIdentity,
    portfolios: list[str] | None,
    html: bool,
    execution: ExecutionConfig,
    pdf: str,
    all_rows: bool = False,
) -> dict[str, Any]:
    root, as_of, kind = str(ws.root), run.as_of, run.kind
    logger = get_run_logger()
    logger.info("run %s: %s as of %s", run.run_id, kind, as_of)
    seconds: dict[str, float] = {}
    t = _tasks(ws.root)

    def done(stage: str, took: float, out: Any) -> None:
        seconds[stage] = seconds.get(stage, 0.0) + took
        rss, peak = memory.rss_mib()
        numbers = {"seconds": round(took, 3), "rss_mib": rss, "peak_rss_mib": peak}
        numbers |= _counts(stage, out)
        with runlog.about(stage):
            logger.info("%s done in %.2f s (memory %.0f MiB)", stage, took, rss, extra=numbers)

    def timed(stage: str, fn: Callable[..., Any], *args: Any, total: int | None = None) -> Any:
        progress.stage(stage, total)
        t0 = time.perf_counter()
        out = fn(*args)
        done(stage, time.perf_counter() - t0, out)
        return out

    t_run = time.perf_counter()
    progress.stage("start")
    found = recovery.recover(root, run.run_id)  # first: clean up after killed runs
    if found:
        logger.info("recovered after killed runs: %s", found.describe())
    t.start_run(root, run)
    pset = rendered = ingest = None
    status = "failed"
    try:
        staged = timed("ingest", t.stage_inbox, root)
        staged = timed("validate", t.validate_files, quote(staged), total=len(staged))
        for s in staged:
            if s.deferred:
                logger.info("still being written: %s (%s)", s.name, s.deferred)
        ingest = timed("load", t.load_files, root, quote(staged), run.run_id, total=len(staged))
        found = timed("policies", t.find_policies, root, portfolios)
        progress.stage("compute")
        t0 = time.perf_counter()
        if execution.executor == "dask":
            rendered, pset, waited = _review_on_cluster(
                t, ws, run, found, execution, html, pdf, all_rows
            )
        else:
            rendered, pset, waited = _review(t, ws, run, found, execution, html, pdf, all_rows)
        done("compute", waited, rendered)  # waiting for shards to be computed
        done("render", time.perf_counter() - t0 - waited, rendered)  # the rest: writing them
        invalid = rendered.invalid
        status = "completed_with_errors" if invalid else "completed"
    finally:
        try:
            timed("record", t.finish_run, root, run, quote(pset), quote(rendered), ingest, status)
        except BaseException:  # not recorded (a full disk): the next run marks it crashed
            recovery.abandon(root, run.run_id)
            raise
        recovery.release(root)
    terminal = rendered.terminal
    result = {
        "run_id": run.run_id,
        "as_of": as_of,
        "kind": kind,
        "status": status,
        "report_dir": str(rendered.folder),
        "ingest": ingest.as_dict(),
        "invalid": invalid,
        "portfolios": terminal.count,
        "breached": terminal.breached,
        "trades": terminal.trades,
        "exceptions": terminal.exceptions,
        "rows": terminal.rows,
        "positions": rendered.positions,
        "stage_seconds": seconds,
    }
    numbers = {k: result[k] for k in ("portfolios", "breached", "trades", "positions")}
    took = time.perf_counter() - t_run
    logger.info("run %s in %.2f s", status, took, extra={"seconds": round(took, 3), **numbers})
    notify.send(ws.root, result, logger)
    return result


@ballast_flow(name="quarterly-review")
def quarterly_review(
    workspace: str,
    as_of: str,
    portfolios: list[str] | None = None,
    reason: str | None = None,
    trigger: str = "manual",
    html: bool = True,
    shard_size: int | None = None,
    pdf: str = "none",
    executor: str | None = None,
    address: str | None = None,
    all_rows: bool = False,
) -> RunResult | State:
    """Ingest, validate, compute drift, breaches and trades, and render the reports (PDF copies
    for ``pdf``: none, action (portfolios to rebalance or with invalid data) or all). Shards run
    on this machine or, with ``executor="dask"``, on the Dask scheduler at ``address`` (a local
    cluster without one); unset, as ``ballast.yaml`` says. The result lists every portfolio
    for ``all_rows`` (``--table``) or a small run, else the first exceptions. Ends ``Completed
    with exceptions`` (``finished``) when portfolios were invalid or files quarantined."""
    return finished(
        run_review(
            workspace,
            as_of,
            portfolios,
            reason,
            trigger,
            "quarterly_review",
            html,
            shard_size,
            pdf,
            executor,
            address,
            all_rows,
        )
    )


@ballast_flow(name="daily-monitor")
def monitor(
    workspace: str,
    as_of: str,
    portfolios: list[str] | None = None,
    reason: str | None = None,
    trigger: str = "manual",
    executor: str | None = None,
    address: str | None = None,
    all_rows: bool = False,
) -> RunResult | State:
    """The daily drift check: ingest and report breaches, propose no trades (``finished``);
    ``all_rows`` as for ``quarterly_review``."""
    return finished(
        run_review(
            workspace,
            as_of,
            portfolios,
            reason,
            trigger,
            "monitor",
            True,
            None,
            executor=executor,
            address=address,
            all_rows=all_rows,
        )
    )
