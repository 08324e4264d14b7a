"""The floor for ``bench_cli.py``: the irreducible work of a review with DuckDB and Polars only.

    python benchmarks/floor.py WORKSPACE OUT_DIR [--db FILE]

Run as a whole process next to ``ballast review`` on the same generated files, it does what
no review can skip, and nothing else (no ballast import, no Prefect, no validation suite, no
reports):

1. reads every custodian CSV of ``WORKSPACE/inbox`` (positions and lots) and the security master
   into DuckDB (``read_csv``; in memory unless ``--db`` names a file);
2. reads every IPS (``ips/*.yaml``, PyYAML's C loader): accounts, class targets, bands;
3. in Polars, vectorised: market value per (portfolio, class), weights against the portfolio
   total (cash included), drift against the target, the band's bounds and the breach flags;
4. writes ``OUT_DIR/floor.csv`` (one row per portfolio: total value, breached, largest drift
   in bp) and prints a JSON summary (portfolios, breached, rows, seconds per step).

Band rules as in ``ballast.portfolio.policy.Band``: ``500bp`` / ``5%`` absolute, ``25%rel``
relative to the target, ``5/25`` the narrower of 500 bp and 25 % of the target; a class is
breached when its weight is strictly outside ``[target - h, target + h]``. Classes the IPS does
not name are never breached (as in ``ballast.portfolio.drift``). Floats, not decimals: a floor.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import duckdb
import polars as pl
import yaml

LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_NUM = r"(\d+(?:\.\d+)?)"
_BP, _PCT, _REL = re.compile(_NUM + "bp"), re.compile(_NUM + "%"), re.compile(_NUM + "%rel")
NEVER = 1e9  # a half-width that never binds


def percent(value: object) -> float:
    """``"14%"`` → 0.14, ``"250bp"`` → 0.025, a bare number is a fraction."""
    text = str(value).strip().replace(" ", "")
    if m := _PCT.fullmatch(text):
        return float(m.group(1)) / 100
    if m := _BP.fullmatch(text):
        return float(m.group(1)) / 10_000
    return float(text)


def band(text: object) -> tuple[float, float]:
    """Band text → (absolute half-width, relative half-width); the narrower one applies."""
    s = str(text).strip().replace(" ", "").lower()
    if s == "5/25":
        return 0.05, 0.25
    if m := _REL.fullmatch(s):
        return NEVER, float(m.group(1)) / 100
    if m := _BP.fullmatch(s):
        return float(m.group(1)) / 10_000, NEVER
    if m := _PCT.fullmatch(s):
        return float(m.group(1)) / 100, NEVER
    raise ValueError(f"{text!r} is not a band")


def read_policies(ips_dir: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(accounts: account_id → portfolio_id, targets: portfolio, class, target, band widths)."""
    acc_pf: list[str] = []
    acc_id: list[str] = []
    t_pf: list[str] = []
    t_cls: list[str] = []
    t_target: list[float] = []
    t_abs: list[float] = []
    t_rel: list[float] = []
    for path in sorted(ips_dir.glob("*.yaml")):
        doc = yaml.load(path.read_bytes(), Loader=LOADER)
        pid = str(doc["id"])
        for acc in doc.get("accounts") or []:
            acc_pf.append(pid)
            acc_id.append(str(acc["id"]))
        default = band(doc.get("default_band", "500bp"))
        for cls, spec in (doc.get("asset_classes") or {}).items():
            spec = spec if isinstance(spec, dict) else {"target": spec}
            a, r = band(spec["band"]) if "band" in spec else default
            t_pf.append(pid)
            t_cls.append(str(cls))
            t_target.append(percent(spec["target"]))
            t_abs.append(a)
            t_rel.append(r)
    accounts = pl.DataFrame({"portfolio_id": acc_pf, "account_id": acc_id})
    targets = pl.DataFrame(
        {
            "portfolio_id": t_pf,
            "asset_class": t_cls,
            "target": t_target,
            "abs_width": t_abs,
            "rel_width": t_rel,
        }
    )
    return accounts, targets


def load_inbox(con: duckdb.DuckDBPyConnection, ws: Path) -> dict[str, int]:
    """Custodian CSVs and the security master into DuckDB tables; rows per table."""
    inbox = ws / "inbox"
    tables = {
        "positions": sorted(inbox.glob("custodian_positions_*.csv")),
        "lots": sorted(inbox.glob("custodian_lots_*.csv")),
        "securities": [ws / "reference" / "securities.csv"],
    }
    rows = {}
    for name, files in tables.items():
        if not files:
            continue
        con.execute(
            f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM read_csv(?, header = true)",
            [[str(f) for f in files]],
        )
        rows[name] = con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0]  # drains
    return rows


def drift(
    positions: pl.DataFrame, securities: pl.DataFrame, accounts: pl.DataFrame, targets: pl.DataFrame
) -> pl.DataFrame:
    """Per (portfolio, class): value, weight, target, drift (bp) and breach flag."""
    classes = securities.select("security_id", "asset_class")
    values = (
        positions.join(accounts, on="account_id", how="inner")
        .join(classes, on="security_id", how="left")
        .with_columns(
            pl.when(pl.col("security_id") == "CASH")
            .then(pl.lit("cash"))
            .otherwise(pl.col("asset_class"))
            .alias("asset_class"),
        )
        .group_by("portfolio_id", "asset_class")
        .agg(pl.col("market_value").cast(pl.Float64).sum())
    )
    frame = targets.join(values, on=["portfolio_id", "asset_class"], how="full", coalesce=True)
    weight = pl.col("market_value") / pl.col("market_value").sum().over("portfolio_id")
    half = pl.min_horizontal(pl.col("abs_width"), pl.col("rel_width") * pl.col("target"))
    return (
        frame.with_columns(pl.col("market_value").fill_null(0.0))
        .with_columns(weight.alias("weight"), half.alias("half_width"))
        .with_columns(
            ((pl.col("weight") - pl.col("target")) * 10_000).alias("drift_bp"),
            ((pl.col("weight") - pl.col("target")).abs() > pl.col("half_width"))
            .fill_null(False)
            .alias("breached"),
        )
    )


def per_portfolio(alloc: pl.DataFrame) -> pl.DataFrame:
    return (
        alloc.group_by("portfolio_id")
        .agg(
            pl.col("market_value").sum().round(2).alias("total_value"),
            pl.col("breached").any(),
            pl.col("drift_bp").abs().max().round(2).alias("max_abs_drift_bp"),
        )
        .sort("portfolio_id")
    )


def run(ws: Path, out: Path, db: str = ":memory:") -> dict[str, object]:
    """The whole floor on ``ws``; writes ``out/floor.csv`` and returns the summary."""
    seconds: dict[str, float] = {}
    t = time.perf_counter()
    con = duckdb.connect(db)
    rows = load_inbox(con, ws)
    positions = con.sql("SELECT account_id, security_id, market_value FROM positions").pl()
    securities = con.sql("SELECT security_id, asset_class FROM securities").pl()
    seconds["duckdb"] = time.perf_counter() - t
    t = time.perf_counter()
    accounts, targets = read_policies(ws / "ips")
    seconds["ips"] = time.perf_counter() - t
    t = time.perf_counter()
    summary = per_portfolio(drift(positions, securities, accounts, targets))
    seconds["polars"] = time.perf_counter() - t
    t = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    summary.write_csv(out / "floor.csv")
    con.close()
    seconds["write"] = time.perf_counter() - t
    return {
        "portfolios": summary.height,
        "breached": int(summary["breached"].sum()),
        "rows": rows,
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workspace", type=Path)
    ap.add_argument("out", type=Path, help="folder for floor.csv")
    ap.add_argument("--db", default=":memory:", help="DuckDB file (default: in memory)")
    args = ap.parse_args(argv)
    print(json.dumps(run(args.workspace, args.out, args.db)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
