"""Writing a run's folder: results.json, trades.csv, one HTML report per portfolio, index.html.

The folder is written under a temporary name and renamed when complete, so a reader never sees
a half-written run.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import polars as pl

from ballast import drift_history, results
from ballast.pdf import PdfChoice, html_to_pdf, wanted
from ballast.policy import Policy
from ballast.report import make_environment, render_portfolio_report, render_run_index
from ballast.review import Computed, used_files


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
    """The context of each portfolio's report (see ``ballast.report``)."""
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


def _render_chunk(folder: str, contexts: list[dict[str, Any]], pdf: str = "none") -> dict[str, str]:
    """Render and write some reports (and their PDFs where wanted); returns names and hashes."""
    env = make_environment()
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


def render_reports(
    folder: Path,
    contexts: list[dict[str, Any]],
    workers: int | None = None,
    pdf: PdfChoice = PdfChoice.NONE,
) -> dict[str, str]:
    """Every portfolio's report, rendered on all cores when there are many."""
    workers = workers or os.cpu_count() or 1
    if workers == 1 or len(contexts) < PARALLEL_FROM:
        return _render_chunk(str(folder), contexts, pdf.value)
    size = -(-len(contexts) // (workers * 4))
    chunks = [contexts[i : i + size] for i in range(0, len(contexts), size)]
    # spawn, not fork: the calling process runs Prefect's threads
    ctx = multiprocessing.get_context("spawn")
    hashes: dict[str, str] = {}
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        for part in pool.map(
            _render_chunk, [str(folder)] * len(chunks), chunks, [pdf.value] * len(chunks)
        ):
            hashes |= part
    return hashes


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def write_run(
    reports_root: Path,
    run: dict[str, Any],
    entries: list[dict[str, Any]],
    contexts: list[dict[str, Any]],
    *,
    html: bool = True,
    pdf: PdfChoice = PdfChoice.NONE,
) -> tuple[Path, dict[str, str]]:
    """Write the run folder ``reports/<as_of>/<run_id>/``; returns it and its files' hashes."""
    final = reports_root / run["as_of"] / run["run_id"]
    tmp = final.with_name(f".{run['run_id']}.partial")
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
    os.replace(tmp, final)
    return final, outputs
