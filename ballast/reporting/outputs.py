"""Writing a run's folder: results.json, trades.csv, one HTML report per portfolio, index.html.

Publishing is two-phase, so no reader ever sees a folder of a run that is not recorded as
finished: ``write_run`` writes the folder under its hidden staging name
(``reports/<as_of>/.<run_id>.partial``) and leaves it there; the record stage commits the run
(status and output hashes) and only then calls ``publish``, which renames it to
``reports/<as_of>/<run_id>``. A run killed in between is rolled forward by the next run's
recovery (``ballast.audit.recovery``); a staging folder of a run never recorded is removed.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import shutil
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from ballast.ops import progress
from ballast.portfolio.policy import Policy
from ballast.reporting import drift_history, results
from ballast.reporting.html import make_environment, render_portfolio_report, render_run_index
from ballast.reporting.pdf import PdfChoice, html_to_pdf, wanted
from ballast.review import Computed, used_files

if TYPE_CHECKING:
    import jinja2


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


def _files_by_portfolio(c: Computed, info: pl.DataFrame) -> dict[str, list[dict]]:
    rows = used_files(c).join(info, on="file_id").sort("portfolio_id", "file_id").to_dicts()
    out: dict[str, list[dict]] = {}
    for r in rows:
        out.setdefault(r["portfolio_id"], []).append(r)
    return out


def _quarantined_by_portfolio(c: Computed) -> dict[str, list[dict]]:
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
    policies = {p.id: p for p in c.policies.policies}
    files = _files_by_portfolio(c, info)
    quarantined = _quarantined_by_portfolio(c)
    contexts = []
    for e in entries:
        pid = e["portfolio_id"]
        used = files.get(pid, [])
        contexts.append(
            {
                "run": {
                    **run,
                    "input_files": [
                        {
                            "name": f["original_name"],
                            "sha256": f["sha256"],
                            "kind": f["kind"],
                            "rows": f["rows"],
                            "status": f["status"],
                        }
                        for f in used
                    ],
                },
                "policy": policy_context(policies[pid], c.policies.hashes.get(pid))
                if pid in policies
                else None,
                "portfolio": e,
                "validation": [
                    {
                        "file": f["original_name"],
                        "kind": f["kind"],
                        "success": bool(f["success"]),
                        "evaluated": f["evaluated"] or 0,
                        "failures": list(f["failures"] or []),
                    }
                    for f in used
                ],
                "quarantined": quarantined.get(pid, []),
                "drift_history": drift_history.series(history, run, e),
            }
        )
    return contexts


PARALLEL_FROM = 1000  # below this many reports, a process pool costs more than it saves
SERIAL_CHUNK = 25  # reports per progress step when rendering in this process


@cache
def _environment() -> jinja2.Environment:
    """One Jinja environment per process, so templates are compiled once."""
    return make_environment()


def _render_chunk(folder: str, contexts: list[dict[str, Any]], pdf: str = "none") -> dict[str, str]:
    """Render and write some reports (and their PDFs where wanted); returns names and hashes."""
    env = _environment()
    choice = PdfChoice(pdf)
    hashes = {}
    for ctx in contexts:
        pid = ctx["portfolio"]["portfolio_id"]
        html = render_portfolio_report(ctx, env)
        (Path(folder) / f"{pid}.html").write_text(html, encoding="utf-8")
        hashes[f"{pid}.html"] = sha256_text(html)
        if wanted(choice, ctx["portfolio"]):
            data = html_to_pdf(html, Path(folder))
            (Path(folder) / f"{pid}.pdf").write_bytes(data)
            hashes[f"{pid}.pdf"] = hashlib.sha256(data).hexdigest()
    return hashes


def _chunks(contexts: list[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    return [contexts[i : i + size] for i in range(0, len(contexts), size)]


def render_reports(
    folder: Path,
    contexts: list[dict[str, Any]],
    workers: int | None = None,
    pdf: PdfChoice = PdfChoice.NONE,
) -> dict[str, str]:
    """Every portfolio's report, rendered on all cores when there are many; each finished
    chunk advances ``ballast.ops.progress`` by its number of reports."""
    workers = workers or os.cpu_count() or 1
    hashes: dict[str, str] = {}
    if workers == 1 or len(contexts) < PARALLEL_FROM:
        for chunk in _chunks(contexts, SERIAL_CHUNK):
            hashes |= _render_chunk(str(folder), chunk, pdf.value)
            progress.advance(len(chunk))
        return hashes
    chunks = _chunks(contexts, -(-len(contexts) // (workers * 8)))
    # spawn, not fork: the calling process runs Prefect's threads
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        pending = {pool.submit(_render_chunk, str(folder), c, pdf.value): len(c) for c in chunks}
        for done in as_completed(pending):
            hashes |= done.result()
            progress.advance(pending[done])
    return hashes


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
    final = reports_root / run["as_of"] / run["run_id"]
    tmp = staging(final)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    outputs: dict[str, str] = {}

    def put(name: str, text: str) -> None:
        (tmp / name).write_text(text, encoding="utf-8")
        outputs[name] = sha256_text(text)

    put("results.json", results.results_document(run, entries))
    if run["kind"] != "monitor":
        put("trades.csv", results.trades_csv(entries))
    if html:
        outputs |= render_reports(tmp, contexts, pdf=pdf)
        put("index.html", render_run_index(run, entries))
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
