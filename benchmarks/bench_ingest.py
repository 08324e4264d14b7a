"""Ingest throughput: canonical positions CSV through read, GX validation and DuckDB load.

    uv run python benchmarks/bench_ingest.py --rows 1000000 [--files 4]

Generates the file(s) with Polars (seeded), then times the three ingest stages through the
same functions the flows call (``ballast.ingest.inbox``), in one process, without Prefect.
Prints rows/s and MB/s per stage and end to end, and the peak memory.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from ballast import workspace
from ballast.ingest import inbox
from ballast.warehouse import db


def write_positions(folder: Path, rows: int, files: int, seed: int = 7) -> int:
    """Canonical positions files with ``rows`` rows in all; returns the bytes written."""
    rng = np.random.default_rng(seed)
    qty = rng.integers(1, 100_000, rows)
    cents = rng.integers(100, 50_000, rows)  # prices 1.00 .. 500.00
    frame = pl.DataFrame(
        {
            "as_of_date": ["2026-09-30"] * rows,
            "account_id": [f"ACC-{i // 10:07d}" for i in range(rows)],
            "security_id": [f"SEC-{i % 10:02d}-{i // 10 % 997:03d}" for i in range(rows)],
            "quantity": qty,
            "price": [f"{c // 100}.{c % 100:02d}" for c in cents],
            "market_value": [f"{v // 100}.{v % 100:02d}" for v in (qty * cents).tolist()],
            "currency": ["USD"] * rows,
        }
    )
    size = 0
    for i, part in enumerate(frame.iter_slices(n_rows=-(-rows // files))):
        path = folder / f"positions_{i:02d}.csv"
        part.write_csv(path)
        size += path.stat().st_size
    return size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--files", type=int, default=4)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ws = workspace.init(Path(tmp) / "ws")
        t0 = time.perf_counter()
        size = write_positions(ws.inbox, args.rows, args.files)
        gen = time.perf_counter() - t0
        from ballast.ingest.validation import warm_up

        warm_up()  # GX start-up (seconds) is a fixed cost, reported apart
        timings = {}
        with db.connect(ws.warehouse) as con:
            t = time.perf_counter()
            staged = inbox.stage_workspace(con, ws)
            timings["read"] = time.perf_counter() - t
            t = time.perf_counter()
            staged = inbox.validate(staged)
            timings["validate"] = time.perf_counter() - t
            t = time.perf_counter()
            report = inbox.commit(con, ws, staged)
            timings["load"] = time.perf_counter() - t
            loaded = con.sql("select count(*) from positions").fetchall()[0][0]
    assert loaded == args.rows and not report.quarantined, report.quarantined
    total = sum(timings.values())
    mb = size / 1e6
    print(f"{args.rows:,} positions in {args.files} files, {mb:,.1f} MB (generated in {gen:.1f} s)")
    for stage, secs in [*timings.items(), ("end to end", total)]:
        print(
            f"  {stage:<11} {secs:6.2f} s  {args.rows / secs:>12,.0f} rows/s  {mb / secs:7.1f} MB/s"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak RSS {peak:,.0f} MB")
    out = Path(__file__).parent / "out"
    out.mkdir(exist_ok=True)
    (out / f"ingest-{args.rows}.json").write_text(
        json.dumps(
            {
                "rows": args.rows,
                "files": args.files,
                "mb": mb,
                "seconds": timings,
                "rows_per_s": args.rows / total,
                "mb_per_s": mb / total,
                "peak_rss_mb": peak,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
