"""Run records in the warehouse: who ran what, when, on which inputs, with which outputs.

A run's row and its ``run_started`` event, and its records and its ``run_finished`` event
(with the digests of those records), are committed together (``chain.transaction``): the
runs table and the audit trail never disagree because a write failed half-way.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import duckdb
import polars as pl

from ballast.audit import chain, run_finished
from ballast.portfolio.policy_set import PolicySet
from ballast.warehouse import db, result_files
from ballast.workspace import Workspace

if TYPE_CHECKING:
    from ballast.ingest.inbox import IngestReport
    from ballast.ops.runs import RunIdentity
    from ballast.reporting.outputs import RenderResult


def run_status(con: duckdb.DuckDBPyConnection, run_id: str) -> str | None:
    """The run's recorded status, or None before its row exists."""
    rows = db.query(con, "audit/run", {"run_id": run_id})
    return None if rows.is_empty() else rows["status"][0]


def audit_events(con: duckdb.DuckDBPyConnection, run_id: str) -> set[str]:
    """The audit events already appended for the run itself (not for its re-creations)."""
    rows = db.query(con, "audit/run_events", {"run_id": run_id})
    return set(rows.filter(pl.col("run_id") == run_id)["event"])


def start(con: duckdb.DuckDBPyConnection, run: RunIdentity, ws: Workspace | None = None) -> None:
    """The run's row in ``runs``, status ``running``; with ``ws``, committed together with its
    ``run_started`` audit event."""
    if ws is not None:
        with chain.transaction(con, ws) as t:
            _insert_run(con, run)
            payload = chain.run_started_payload(run.as_dict())
            t.append("run_started", actor=run.who, run_id=run.run_id, payload=payload)
        return
    _insert_run(con, run)


def _insert_run(con: duckdb.DuckDBPyConnection, run: RunIdentity) -> None:
    row = run.as_dict()
    db.execute(
        con,
        "marts/insert_run",
        {
            k: row[k]
            for k in (
                "run_id",
                "kind",
                "as_of",
                "trigger",
                "who",
                "reason",
                "code_version",
                "started_at",
            )
        },
    )


def list_runs(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return db.query(con, "marts/list_runs")


def file_info(con: duckdb.DuckDBPyConnection, file_ids: list[int]) -> pl.DataFrame:
    return db.query(con, "marts/file_info", {"file_ids": file_ids})


def archive_policies(ws: Workspace, policies: PolicySet) -> None:
    """Keep each IPS version byte for byte, named by its hash, so a review can be re-created."""
    folder = ws.archive / "ips"
    folder.mkdir(parents=True, exist_ok=True)
    for pid, sha in policies.hashes.items():
        dest = folder / f"{sha}.yaml"
        if not dest.exists() and pid in policies.texts:  # a review archives shard by shard
            dest.write_text(policies.texts[pid], encoding="utf-8")
    if policies.models:  # the model files the IPS named, the same way (``archive/models/``)
        models = ws.archive / "models"
        models.mkdir(parents=True, exist_ok=True)
        for sha, found in policies.models.items():
            if not (dest := models / f"{sha}.yaml").exists():
                dest.write_text(found.text, encoding="utf-8")


_MONEY, _WEIGHT = pl.Decimal(18, 2), pl.Decimal(18, 6)


def _decimals(name: str, texts: list[str | None], dtype: pl.DataType) -> pl.Series:
    """A decimal column from decimal strings, cast by Polars; a string with more digits than
    the column holds is cut to its scale as a ``Decimal`` of it would be (Polars' cast refuses
    it), and one that is not a number is an error."""
    try:
        return pl.Series(name, texts, dtype=pl.String).cast(dtype)
    except pl.exceptions.InvalidOperationError:
        values = [None if t is None else Decimal(t) for t in texts]
        return pl.Series(name, values, dtype=dtype)


def _frame(
    rows: list[tuple[Any, ...]], schema: dict[str, pl.DataType], decimals: set[str]
) -> pl.DataFrame:
    """A frame of ``schema`` from row tuples, built column by column (Polars builds a column
    from a list far faster than a frame from row dicts); ``decimals`` are decimal strings."""
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(schema)
    return pl.DataFrame(
        {
            name: (
                _decimals(name, list(col), dtype)
                if name in decimals
                else pl.Series(name, list(col), dtype=dtype)
            )
            for (name, dtype), col in zip(schema.items(), columns, strict=True)
        }
    )


_PORTFOLIOS: dict[str, pl.DataType] = {
    "run_id": pl.String(),
    "portfolio_id": pl.String(),
    "status": pl.String(),
    "breached": pl.Boolean(),
    "action": pl.String(),
    "total_value": _MONEY,
    "errors": pl.List(pl.String),
    "warnings": pl.List(pl.String),
}
_ALLOCATIONS: dict[str, pl.DataType] = {
    "run_id": pl.String(),
    "portfolio_id": pl.String(),
    "asset_class": pl.String(),
    "market_value": _MONEY,
    "weight": _WEIGHT,
    "target": _WEIGHT,
    "lower_bound": _WEIGHT,
    "upper_bound": _WEIGHT,
    "drift_bp": _MONEY,
    "breached": pl.Boolean(),
    "post_trade_weight": _WEIGHT,
}
_TRADES: dict[str, pl.DataType] = {
    "run_id": pl.String(),
    "portfolio_id": pl.String(),
    "account_id": pl.String(),
    "security_id": pl.String(),
    "side": pl.String(),
    "quantity": _WEIGHT,
    "price": _WEIGHT,
    "amount": _MONEY,
    "reason": pl.String(),
}


def result_frames(run_id: str, entries: list[dict]) -> dict[str, pl.DataFrame]:
    """The rows of run_portfolios, run_allocations and run_trades for these results entries."""
    portfolios = _frame(
        [
            (
                run_id,
                e["portfolio_id"],
                e["status"],
                e["breached"],
                e["action"],
                e["total_value"],
                e["errors"],
                e["warnings"],
            )
            for e in entries
        ],
        _PORTFOLIOS,
        {"total_value"},
    )
    allocations = _frame(
        [
            (
                run_id,
                e["portfolio_id"],
                a["asset_class"],
                a["market_value"],
                a["weight"],
                a["target"],
                a["lower"],
                a["upper"],
                a["drift_bp"],
                a["breached"],
                a["post_trade_weight"],
            )
            for e in entries
            for a in e["asset_classes"]
        ],
        _ALLOCATIONS,
        {"market_value", "weight", "target", "lower_bound", "upper_bound", "drift_bp"}
        | {"post_trade_weight"},
    )
    trades = _frame(
        [
            (
                run_id,
                e["portfolio_id"],
                t["account_id"],
                t["security_id"],
                t["side"],
                t["quantity"],
                t["price"],
                t["amount"],
                t["reason"],
            )
            for e in entries
            for t in e["trades"]
        ],
        _TRADES,
        {"quantity", "price", "amount"},
    )
    return {"run_portfolios": portfolios, "run_allocations": allocations, "run_trades": trades}


def _inputs(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    policies: PolicySet | None,
    rendered: RenderResult | None,
) -> pl.DataFrame:
    """One row per input of the run: each IPS version and each custodian or reference file."""
    rows = []
    if policies is not None:
        rows += [
            {"run_id": run_id, "role": "ips", "name": f"{pid}.yaml", "sha256": sha, "file_id": None}
            for pid, sha in sorted(policies.hashes.items())
        ]
        rows += [
            {"run_id": run_id, "role": "model", "name": m.file, "sha256": sha, "file_id": None}
            for sha, m in sorted(policies.models.items(), key=lambda kv: (kv[1].file, kv[0]))
        ]
    if rendered is not None:
        used = db.query(con, "marts/used_files", {"file_ids": rendered.file_ids})
        rows += [
            {
                "run_id": run_id,
                "role": f["kind"] or "file",
                "name": f["original_name"],
                "sha256": f["sha256"],
                "file_id": f["file_id"],
            }
            for f in used.iter_rows(named=True)
        ]
    return pl.DataFrame(
        rows,
        schema={
            "run_id": pl.String,
            "role": pl.String,
            "name": pl.String,
            "sha256": pl.String,
            "file_id": pl.Int32,
        },
    )


def finish(
    con: duckdb.DuckDBPyConnection,
    ws: Workspace,
    run: RunIdentity,
    policies: PolicySet | None,
    rendered: RenderResult | None,
    ingest: IngestReport | None,
    status: str,
) -> None:
    """Record inputs, results and outputs, then the run's final status, and the
    ``run_finished`` event with the digests of those records, in one transaction."""
    run_id = run.run_id
    if policies is not None:
        archive_policies(ws, policies)
    with chain.transaction(con, ws) as t:
        db.append(con, "run_inputs", _inputs(con, run_id, policies, rendered))
        if rendered is not None:
            for table in result_files.TABLES:
                db.append_parquet(con, table, rendered.results.files(table))
            db.append(
                con,
                "run_outputs",
                pl.DataFrame(
                    [
                        {"run_id": run_id, "name": k, "sha256": v}
                        for k, v in sorted(rendered.outputs.items())
                    ],
                    schema={"run_id": pl.String, "name": pl.String, "sha256": pl.String},
                ),
            )
        db.execute(
            con,
            "marts/finish_run",
            {
                "run_id": run_id,
                "status": status,
                "report_dir": str(rendered.folder) if rendered else None,
                "ended_at": dt.datetime.now(dt.UTC).replace(tzinfo=None),
            },
        )
        payload, detail = run_finished.event(con, run_id)
        t.append(
            "run_finished", actor=payload["who"], run_id=run_id, payload=payload, detail=detail
        )
