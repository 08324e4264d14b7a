"""Writing a run's folder: results.json, trades.csv, one HTML report per portfolio, index.html.

Publishing is two-phase, so no reader ever sees a folder of a run that is not recorded as
finished: ``write_run`` writes the folder under its hidden staging name
(``reports/<as_of>/.<run_id>.partial``) and leaves it there; the record stage commits the run
(status and output hashes) and only then calls ``publish``, which renames it to
``reports/<as_of>/<run_id>``. A run killed in between is rolled forward by the next run's
recovery (``ballast.audit.recovery``); a staging folder of a run never recorded is removed.

The report pool's workers (``spawn``) import this module to find ``_render_chunk``: its
top-level imports stay light (Jinja, not Polars and the review), so a worker starts in a
fraction of a second; what only the calling process needs is imported where it is used.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import multiprocessing
import os
import shutil
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ballast.ops import progress
from ballast.reporting.html import environment, render_portfolio_report
from ballast.reporting.pdf import PdfChoice, html_to_pdf, wanted

if TYPE_CHECKING:
    import polars as pl

    from ballast.portfolio.policy import Policy
    from ballast.reporting.run_folder import EncodedShard
    from ballast.reporting.summary import TerminalRows
    from ballast.review import Computed
    from ballast.warehouse.result_files import ResultFiles


@dataclass(frozen=True)
class RenderResult:
    """What the review wrote, for the record stage and the command line: the run folder's
    final path (still under its staging name until ``publish``), the SHA-256 of the outputs
    written last (results.json, the CSVs, the index, the last reports), the files of the rows to
    record (``ballast.warehouse.result_files``: the results, the IPS hashes, the other outputs'
    hashes), the ids of the files the review read, what the terminal shows of the portfolios
    (``ballast.reporting.summary.TerminalRows``) and the positions reviewed. No results
    entries: they were written shard by shard and released."""

    folder: Path
    outputs: dict[str, str]
    results: ResultFiles
    file_ids: list[int]
    terminal: TerminalRows
    positions: int = 0

    @property
    def files(self) -> int:
        """How many files the run folder holds."""
        return len(self.outputs) + self.results.rows.get("run_outputs", 0)

    @property
    def invalid(self) -> list[str]:
        """Portfolios whose data was invalid, in id order."""
        return self.terminal.invalid


def policy_context(p: Policy, ips_sha256: str | None) -> dict[str, Any]:
    return {
        "id": p.id,
        "name": p.name,
        "base_currency": p.base_currency,
        "review": p.review.value,
        "rebalance_to": p.rebalance_to.value,
        "trade_classes": p.trade_classes.value,
        "default_band": str(p.default_band),
        "ips_sha256": ips_sha256,
        "model": None
        if p.model is None
        else {"id": p.model.id, "name": p.model.name, "sha256": p.model.sha256},
        "accounts": [{"id": a.id, "tax_status": a.tax_status.value} for a in p.accounts],
        "classes": [
            {"asset_class": k, "target": f"{c.target:.6f}", "band": str(p.band_for(k))}
            for k, c in p.asset_classes.items()
        ],
    }


def _files_by_portfolio(
    c: Computed, info: pl.DataFrame
) -> dict[str, list[tuple[dict[str, Any], dict[str, Any]]]]:
    """Per portfolio, in file id order, each file it read as (input file, validation) entries
    of its report. A file read by many portfolios gets its two dicts once, shared by all."""
    from ballast.review import used_files

    by_id: dict[int, list[tuple[dict[str, Any], dict[str, Any]]]] = {}
    for f in info.to_dicts():
        by_id.setdefault(f["file_id"], []).append(
            (
                {
                    "name": f["original_name"],
                    "sha256": f["sha256"],
                    "kind": f["kind"],
                    "rows": f["rows"],
                    "status": f["status"],
                },
                {
                    "file": f["original_name"],
                    "kind": f["kind"],
                    "success": bool(f["success"]),
                    "evaluated": f["evaluated"] or 0,
                    "failures": list(f["failures"] or []),
                },
            )
        )
    pairs = used_files(c).select("portfolio_id", "file_id")
    out: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {}
    for pid, fid in zip(pairs["portfolio_id"].to_list(), pairs["file_id"].to_list(), strict=True):
        if fid in by_id:
            out.setdefault(pid, []).extend(by_id[fid])
    return out


def _quarantined_by_portfolio(c: Computed) -> dict[str, list[dict]]:
    import polars as pl

    q = c.snapshot.quarantined
    if q.is_empty():
        return {}
    accounts = pl.DataFrame(
        [(p.id, a.id) for p in c.policies.policies for a in p.accounts],
        orient="row",
        schema={"portfolio_id": pl.String, "account_id": pl.String},
    )
    rows = (
        q.join(accounts, on="account_id")
        .select("portfolio_id", "original_name", "reason")
        .unique()
        .sort("portfolio_id", "original_name")
        .to_dicts()
    )
    out: dict[str, list[dict]] = {}
    for r in rows:
        out.setdefault(r["portfolio_id"], []).append(
            {"file": r["original_name"], "reason": r["reason"]}
        )
    return out


def report_contexts(
    run: dict[str, Any],
    c: Computed,
    entries: list[dict[str, Any]],
    info: pl.DataFrame,
    history: dict[str, list[dict[str, Any]]] | None = None,
) -> list[dict[str, Any]]:
    """The context of each portfolio's report (see ``ballast.reporting.html``)."""
    from ballast.reporting import drift_history

    policies = {p.id: p for p in c.policies.policies}
    files = _files_by_portfolio(c, info)
    quarantined = _quarantined_by_portfolio(c)
    contexts = []
    for e in entries:
        pid = e["portfolio_id"]
        used = files.get(pid, [])
        contexts.append(
            {
                "run": {**run, "input_files": [f for f, _ in used]},
                "policy": policy_context(policies[pid], c.policies.hashes.get(pid))
                if pid in policies
                else None,
                "portfolio": e,
                "validation": [v for _, v in used],
                "quarantined": quarantined.get(pid, []),
                "drift_history": drift_history.series(history, run, e),
            }
        )
    return contexts


PARALLEL_FROM = 1000  # below this many reports, a process pool costs more than it saves
SERIAL_CHUNK = 25  # reports per progress step when rendering in this process
CHUNKS_PER_WORKER = 8  # pool chunks: small enough to balance the workers and show progress


def render_documents(
    contexts: list[dict[str, Any]], pdf: str = "none", base: Path | None = None
) -> dict[str, bytes]:
    """The bytes of some reports (and their PDFs where wanted), by file name; writes nothing
    (a Dask worker renders a shard's reports this way and the coordinator writes them)."""
    env = environment()  # this process's, templates compiled once
    choice = PdfChoice(pdf)
    documents = {}
    for ctx in contexts:
        pid = ctx["portfolio"]["portfolio_id"]
        html = render_portfolio_report(ctx, env)
        documents[f"{pid}.html"] = html.encode("utf-8")
        if wanted(choice, ctx["portfolio"]):
            documents[f"{pid}.pdf"] = html_to_pdf(html, base or Path.cwd())
    return documents


def write_documents(folder: Path, documents: dict[str, bytes]) -> dict[str, str]:
    """Write rendered reports into ``folder``; their names and SHA-256 (of the bytes written)."""
    hashes = {}
    for name, data in documents.items():
        with open(folder / name, "wb") as f:
            f.write(data)
        hashes[name] = hashlib.sha256(data).hexdigest()
    return hashes


def render_and_write(
    folder: Path, contexts: list[dict[str, Any]], pdf: str = "none"
) -> dict[str, str]:
    """Render and write some reports (and their PDFs where wanted) one at a time, so their
    pages are never all held at once; returns names and hashes (of the bytes written)."""
    hashes: dict[str, str] = {}
    for ctx in contexts:
        hashes |= write_documents(folder, render_documents([ctx], pdf, folder))
    return hashes


def _render_chunk(folder: str, contexts: list[dict[str, Any]], pdf: str = "none") -> dict[str, str]:
    """``render_and_write`` in a pool worker."""
    return render_and_write(Path(folder), contexts, pdf)


def _start_worker(nice: int, collector_off: bool) -> None:
    """A report worker's start: ``nice`` added to its niceness (see ``ReportRenderer``), and
    Python's cycle collector off when it makes no PDFs."""
    if nice:
        with contextlib.suppress(OSError):
            os.nice(nice)
    if collector_off:
        gc.disable()


def _chunks(contexts: list[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    return [contexts[i : i + size] for i in range(0, len(contexts), size)]


def _encode_chunk(entries: list[dict[str, Any]], tables: bool, html: bool) -> EncodedShard:
    """Some results entries encoded for the run folder, in a pool worker."""
    from ballast.reporting.run_folder import encode

    return encode(entries, tables=tables, html=html)


@dataclass
class _Batch:
    """One ``submit`` in the pool: its entries being encoded (in order, each handed on once)
    and its reports being rendered (with how many each chunk holds)."""

    encoded: list[Future[EncodedShard]]
    rendered: dict[Future[dict[str, str]], int]

    def encoded_to(self, sink: Callable[[EncodedShard], None] | None) -> None:
        while self.encoded:
            part = self.encoded.pop(0).result()
            if sink is not None:
                sink(part)


class ReportRenderer:
    """Reports rendered while the caller goes on, batch by batch (one batch per shard).

    A run of many reports (``total`` at least ``PARALLEL_FROM``) renders them in a spawn pool
    started on creation, so the calling process computes and writes the next shard meanwhile;
    at most ``WINDOW`` batches are in the pool at once (``submit`` waits for the oldest), so the
    contexts held are bounded by the shard size, not the run. A small run renders each batch in
    this process as it is submitted. Each finished chunk advances ``ballast.ops.progress`` by
    its reports; ``finish`` waits for the rest and returns every written file's hash. A pool's
    workers can also encode a batch's results entries (``submit(..., entries=...)``): that is
    plain Python the calling process then need not run while it computes the next shard.

    ``nice`` (a review's ``execution.report_nice``) lowers the pool workers' CPU priority: a
    review's pace is set by the process computing the next shard, and at equal priority the
    workers took half of its CPU; niced, they render with what it leaves (the bytes are the
    same, only the order in which the scheduler runs things changes)."""

    WINDOW = 2

    def __init__(
        self,
        folder: Path,
        total: int,
        workers: int | None = None,
        pdf: PdfChoice = PdfChoice.NONE,
        nice: int = 0,
        on_encoded: Callable[[EncodedShard], None] | None = None,
    ) -> None:
        self.folder, self.pdf = folder, pdf
        self.workers = workers or os.cpu_count() or 1
        self.hashes: dict[str, str] = {}
        self.on_encoded = on_encoded
        self._batches: list[_Batch] = []
        self._pool: ProcessPoolExecutor | None = None
        if self.workers > 1 and total >= PARALLEL_FROM:
            # spawn, not fork: the calling process runs Prefect's threads. A worker only
            # unpickles contexts and renders pages, which leaves no garbage cycles: without the
            # cycle collector walking the contexts it holds, unpickling takes a third of the
            # time. WeasyPrint does leave cycles, so workers that make PDFs keep the collector.
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(nice, pdf is PdfChoice.NONE),
            )

    @property
    def pooled(self) -> bool:
        """Whether the reports are rendered in a pool (else in this process)."""
        return self._pool is not None

    def submit(
        self,
        contexts: list[dict[str, Any]],
        entries: list[dict[str, Any]] | None = None,
        encoding: tuple[bool, bool] = (True, True),
    ) -> None:
        """Render these reports: now in this process, or in the pool (see the class). With
        ``entries`` (pool only), the pool's workers also encode them for the run folder
        (``run_folder.encode`` with ``encoding``: (tables, html)), ahead of the reports; each
        encoded part goes to ``on_encoded``, in the order submitted (``drain_encoded``)."""
        if self._pool is None:
            if entries is not None:
                raise ValueError("entries are encoded by a pool's workers only")
            for chunk in _chunks(contexts, SERIAL_CHUNK):
                self.hashes |= _render_chunk(str(self.folder), chunk, self.pdf.value)
                progress.advance(len(chunk))
            return
        if not contexts and not entries:
            return
        while len(self._batches) >= self.WINDOW:
            self._drain(self._batches.pop(0))
        size = -(-max(len(contexts), len(entries or ())) // (self.workers * CHUNKS_PER_WORKER))
        pool = self._pool
        batch = _Batch(
            [pool.submit(_encode_chunk, e, *encoding) for e in _chunks(entries or [], size)],
            {
                pool.submit(_render_chunk, str(self.folder), c, self.pdf.value): len(c)
                for c in _chunks(contexts, size)
            },
        )
        self._batches.append(batch)

    def drain_encoded(self) -> None:
        """Hand every part encoded by the pool's workers to ``on_encoded``, in order (waiting
        for those not encoded yet; the reports may still be rendering)."""
        for batch in self._batches:
            batch.encoded_to(self.on_encoded)

    def _drain(self, batch: _Batch) -> None:
        batch.encoded_to(self.on_encoded)
        for done in as_completed(batch.rendered):
            self.hashes |= done.result()
            progress.advance(batch.rendered[done])

    def take(self) -> dict[str, str]:
        """The hashes of the files written so far and not taken yet (``finish`` gives the
        rest)."""
        taken, self.hashes = self.hashes, {}
        return taken

    def finish(self) -> dict[str, str]:
        """Wait for every report submitted (and part encoded); the hashes of the written files
        not taken."""
        while self._batches:
            self._drain(self._batches.pop(0))
        return self.hashes

    def close(self) -> None:
        """Stop the pool (pending reports are cancelled when ``finish`` was not reached)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def render_reports(
    folder: Path,
    contexts: list[dict[str, Any]],
    workers: int | None = None,
    pdf: PdfChoice = PdfChoice.NONE,
) -> dict[str, str]:
    """Every portfolio's report, rendered on all cores when there are many; each finished
    chunk advances ``ballast.ops.progress`` by its number of reports."""
    renderer = ReportRenderer(folder, len(contexts), workers, pdf)
    try:
        renderer.submit(contexts)
        return renderer.finish()
    finally:
        renderer.close()


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def staging(final: Path) -> Path:
    """The hidden name a run folder has until its run is recorded: ``.<run_id>.partial``."""
    return final.with_name(f".{final.name}.partial")


def write_run(
    reports_root: Path,
    run: dict[str, Any],
    entries: list[dict[str, Any]],
    contexts: list[dict[str, Any]],
    *,
    html: bool = True,
    pdf: PdfChoice = PdfChoice.NONE,
) -> tuple[Path, dict[str, str]]:
    """Write the run folder in one go, under its staging name; returns its final path
    ``reports/<as_of>/<run_id>`` (see ``publish``) and its files' hashes. A review writes it
    shard by shard instead (``ballast.reporting.run_folder.RunFolder``), with the same bytes."""
    from ballast.reporting.run_folder import RunFolder

    with RunFolder(reports_root, run, total=len(contexts), html=html, pdf=pdf) as folder:
        folder.add(entries, contexts)
        return folder.final, folder.close()


def publish(final: Path) -> Path:
    """Rename a recorded run's staging folder to ``final`` (idempotent: an already published
    folder stays, a leftover staging copy beside it is dropped)."""
    tmp = staging(final)
    if tmp.is_dir():
        if final.exists():
            shutil.rmtree(tmp)
        else:
            os.replace(tmp, final)
    return final
