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

import gc
import hashlib
import multiprocessing
import os
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ballast.ops import progress
from ballast.ops.memory import collector_paused
from ballast.reporting.html import environment, render_portfolio_report, render_run_index
from ballast.reporting.pdf import PdfChoice, html_to_pdf, wanted

if TYPE_CHECKING:
    import polars as pl

    from ballast.portfolio.policy import Policy
    from ballast.review import Computed


@dataclass(frozen=True)
class RenderResult:
    """What the render stage wrote, for the record stage: the run folder's final path (still
    under its staging name until ``publish``), each output's SHA-256, the results entries
    (one per portfolio) and the ids of the files the review read."""

    folder: Path
    outputs: dict[str, str]
    entries: list[dict[str, Any]]
    file_ids: list[int]


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


def _render_chunk(folder: str, contexts: list[dict[str, Any]], pdf: str = "none") -> dict[str, str]:
    """Render and write some reports (and their PDFs where wanted); returns names and hashes.

    Each page is encoded once: the bytes written are the bytes hashed."""
    env = environment()  # this process's, templates compiled once
    choice = PdfChoice(pdf)
    hashes = {}
    for ctx in contexts:
        pid = ctx["portfolio"]["portfolio_id"]
        html = render_portfolio_report(ctx, env)
        data = html.encode("utf-8")
        with open(os.path.join(folder, f"{pid}.html"), "wb") as f:
            f.write(data)
        hashes[f"{pid}.html"] = hashlib.sha256(data).hexdigest()
        if wanted(choice, ctx["portfolio"]):
            pdf_data = html_to_pdf(html, Path(folder))
            (Path(folder) / f"{pid}.pdf").write_bytes(pdf_data)
            hashes[f"{pid}.pdf"] = hashlib.sha256(pdf_data).hexdigest()
    return hashes


def _chunks(contexts: list[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    return [contexts[i : i + size] for i in range(0, len(contexts), size)]


@contextmanager
def _rendering(
    folder: Path,
    contexts: list[dict[str, Any]],
    workers: int | None = None,
    pdf: PdfChoice = PdfChoice.NONE,
) -> Iterator[Callable[[], dict[str, str]]]:
    """Reports rendered while the caller goes on: yields ``finish``, which returns the written
    files' hashes once all are done. Many reports go to a spawn pool started on entry, so the
    calling process writes its own files meanwhile; a few are rendered by ``finish`` itself,
    in this process. Each finished chunk advances ``ballast.ops.progress`` by its reports."""
    workers = workers or os.cpu_count() or 1
    if workers == 1 or len(contexts) < PARALLEL_FROM:

        def serial() -> dict[str, str]:
            hashes: dict[str, str] = {}
            for chunk in _chunks(contexts, SERIAL_CHUNK):
                hashes |= _render_chunk(str(folder), chunk, pdf.value)
                progress.advance(len(chunk))
            return hashes

        yield serial
        return
    chunks = _chunks(contexts, -(-len(contexts) // (workers * CHUNKS_PER_WORKER)))
    # spawn, not fork: the calling process runs Prefect's threads. A worker only unpickles
    # contexts and renders pages, which leaves no garbage cycles: without the cycle collector
    # walking the contexts it holds, unpickling takes a third of the time. WeasyPrint does leave
    # cycles, so workers that make PDFs keep the collector.
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=gc.disable if pdf is PdfChoice.NONE else None,
    )
    try:
        pending = {pool.submit(_render_chunk, str(folder), c, pdf.value): len(c) for c in chunks}

        def parallel() -> dict[str, str]:
            hashes: dict[str, str] = {}
            for done in as_completed(pending):
                hashes |= done.result()
                progress.advance(pending[done])
            return hashes

        yield parallel
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def render_reports(
    folder: Path,
    contexts: list[dict[str, Any]],
    workers: int | None = None,
    pdf: PdfChoice = PdfChoice.NONE,
) -> dict[str, str]:
    """Every portfolio's report, rendered on all cores when there are many; each finished
    chunk advances ``ballast.ops.progress`` by its number of reports."""
    with _rendering(folder, contexts, workers, pdf) as finish:
        return finish()


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
    """Write the run folder under its staging name; returns its final path
    ``reports/<as_of>/<run_id>`` (see ``publish``) and its files' hashes."""
    from ballast.reporting import results

    final = reports_root / run["as_of"] / run["run_id"]
    tmp = staging(final)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    outputs: dict[str, str] = {}

    def put(name: str, text: str) -> None:
        (tmp / name).write_text(text, encoding="utf-8")
        outputs[name] = sha256_text(text)

    # with many reports, the pool renders them while this process writes the other files
    with _rendering(tmp, contexts if html else [], pdf=pdf) as reports:
        with collector_paused():
            put("results.json", results.results_document(run, entries))
            if run["kind"] != "monitor":
                put("trades.csv", results.trades_csv(entries))
            if html:
                put("index.html", render_run_index(run, entries))
        outputs |= reports()
    return final, outputs


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
