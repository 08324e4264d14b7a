"""``ballast orders RUN_ID``: a review run's proposed trades as block orders for a trading desk,
a CSV or FIX 4.4 NewOrderSingle messages (docs/orders.md).

The run's ``results.json`` is checked against the SHA-256 the run recorded before a figure of it
is used (an altered, missing or linked file: exit 65). The orders go to ``--out`` or stdout,
never into the run folder: it is an audit record, hashed when the run finished.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import sys
import tempfile
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from ballast import workspace
from ballast.cli.options import WorkspaceOpt
from ballast.errors import EXIT_STORAGE, BallastError, Unproven
from ballast.trading import order_export, order_fix

FINISHED = ("completed", "completed_with_errors")


class OrderFormat(StrEnum):
    """What ``ballast orders`` writes."""

    CSV = "csv"
    FIX = "fix"


class OutNotWritten(BallastError):
    """``--out`` could not be written (a missing folder, no permission, a full disk)."""

    exit_code = EXIT_STORAGE


RunIdArg = Annotated[str, typer.Argument(help="The review run's id (see 'ballast runs').")]
FormatOpt = Annotated[
    OrderFormat,
    typer.Option("--format", "-f", case_sensitive=False, help="csv (block orders) or fix."),
]
OutOpt = Annotated[
    Path | None,
    typer.Option("--out", "-o", help="Write to this file (default: stdout).", show_default=False),
]
SenderOpt = Annotated[str, typer.Option("--sender-comp-id", help="FIX SenderCompID(49).")]
TargetOpt = Annotated[str, typer.Option("--target-comp-id", help="FIX TargetCompID(56).")]


def _out_path(ws: workspace.Workspace, out: Path) -> Path:
    """``--out`` as an absolute path; refused inside ``reports/`` (run folders are audit
    records) and when it names a folder."""
    path = Path(os.path.abspath(out.expanduser()))
    reports = ws.reports.resolve()
    if path.resolve().is_relative_to(reports) or path.is_relative_to(reports):
        raise BallastError(
            f"--out {out}: inside the workspace's reports/ folder, whose run folders are audit "
            "records; write the orders elsewhere"
        )
    if path.is_dir():
        raise BallastError(f"--out {out}: is a folder; name a file")
    return path


def _run(ws: workspace.Workspace, run_id: str) -> tuple[dict[str, Any], str | None]:
    """The run as recorded (one line for an unknown, unfinished or monitor run) and the
    SHA-256 the run recorded for its results.json."""
    from ballast.audit import chain, evidence
    from ballast.warehouse import db

    with db.connect(ws.warehouse) as con:
        summary = chain.run_summary(con, run_id)  # unknown id: one line, exit 2
        if summary["kind"] == "monitor":
            raise order_export.monitor_refused(run_id, str(summary["as_of"]))
        if summary["status"] == "purged":
            raise BallastError(f"run {run_id} was purged under retention: its results are gone")
        if summary["status"] not in FINISHED:
            raise BallastError(f"run {run_id} is {summary['status']}: it wrote no results")
        recorded = evidence.recorded_outputs(con, run_id, summary["outputs"])
    return summary, recorded.get("results.json")


def _master(ws: workspace.Workspace, summary: dict[str, Any]) -> dict[str, Any]:
    """The market identifiers (symbol, ISIN, CUSIP) of every security in the master the run
    read (its ``securities`` input; the latest loaded one when it recorded none)."""
    from ballast.warehouse import db, snapshot

    used = [i["file_id"] for i in summary["inputs"] if i.get("role") == "securities"]
    bound = max((f for f in used if f is not None), default=snapshot.LATEST)
    with db.connect(ws.warehouse) as con:
        rows = db.query(con, "snapshot/securities", {"max_file_id": bound}).to_dicts()
    return {
        r["security_id"]: order_fix.SecurityIds(r["symbol"], r["isin"], r["cusip"]) for r in rows
    }


def _results(folder: Path, run_id: str, recorded: str | None) -> dict[str, Any]:
    """The run's results.json, refused (exit 65) unless it is the regular file the run wrote."""
    path = folder / "results.json"
    data = order_export.read_run_file(path)
    if recorded is None:
        raise Unproven(f"{path}: the run recorded no hash for its results.json; not used")
    now = hashlib.sha256(data).hexdigest()
    if now != recorded:
        raise Unproven(
            f"{path}: altered since the run (sha256 now {now[:12]}…, recorded {recorded[:12]}…); "
            "no orders were written"
        )
    doc = order_export.load_results(data, str(path))
    if doc["run_id"] != run_id:
        raise Unproven(f"{path}: holds run {doc['run_id']}, not {run_id}")
    return doc


def _started(summary: dict[str, Any], doc: dict[str, Any]) -> dt.datetime:
    """The run's recorded start (UTC): TransactTime of every order; never the clock."""
    started = summary.get("started_at")
    if isinstance(started, dt.datetime):
        return started
    return dt.datetime.fromisoformat(str(doc["as_of"]))  # no start recorded: the as-of date


def _write(path: Path, data: bytes) -> None:
    """Replace ``path`` at once (a file beside it, renamed: a link at ``path`` is replaced, not
    followed); the file is readable by its owner only (it names accounts)."""
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise OutNotWritten(f"--out {path}: cannot write it ({exc.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise OutNotWritten(f"--out {path}: cannot write it ({exc.strerror})") from None


def orders_cmd(
    run_id: RunIdArg,
    ws_path: WorkspaceOpt = None,
    fmt: FormatOpt = OrderFormat.CSV,
    out: OutOpt = None,
    sender: SenderOpt = order_fix.SENDER_COMP_ID,
    target: TargetOpt = order_fix.TARGET_COMP_ID,
) -> None:
    """Export a review run's proposed trades as block orders: CSV, or FIX 4.4 NewOrderSingle
    messages (one per line). To --out or stdout; never into the run folder."""
    from ballast.reporting.results_text import csv_safe

    ws = workspace.resolve(ws_path).check()
    path = None if out is None else _out_path(ws, out)
    summary, recorded = _run(ws, run_id)
    doc = _results(ws.reports / str(summary["as_of"]) / run_id, run_id, recorded)
    orders = order_export.block_orders(doc)
    if fmt is OrderFormat.FIX:
        data = order_fix.fix_messages(
            orders,
            transact_time=_started(summary, doc),
            sender_comp_id=sender,
            target_comp_id=target,
            master=_master(ws, summary),
        )
    else:
        data = order_export.orders_csv(orders, csv_safe).encode("utf-8")
    if not orders:
        typer.echo(f"run {run_id} proposes no trades: no orders", err=True)
    if path is None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    _write(path, data)
    typer.echo(f"{len(orders)} orders of run {run_id} written to {path} ({fmt.value})")


def register(app: typer.Typer) -> None:
    """Add ``orders`` to the ``ballast`` app."""
    app.command("orders")(orders_cmd)
