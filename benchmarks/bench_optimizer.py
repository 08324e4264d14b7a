"""Proposal time, heuristic against LP optimiser, for taxable households with many lots.

    uv run python benchmarks/bench_optimizer.py [--households 1000] [--lots 50] [--workers 2]

Each household has three accounts (taxable, tax-deferred, tax-exempt), four asset classes,
one holding per class in every account plus cash, and ``--lots`` tax lots per taxable holding
(acquired over the last six years, costs from 40% to 130% of today's price, so short- and
long-term gains and losses all occur). Holdings are drawn so most households breach a band.
Everything is generated in memory with NumPy.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

import numpy as np
import polars as pl

from ballast.portfolio import policy_frames as pf
from ballast.portfolio.drift import allocation
from ballast.portfolio.policy import Policy
from ballast.trading.heuristic import propose
from ballast.trading.inputs import TradingInputs
from ballast.trading.lots import annotate_trades
from ballast.trading.optimizer import engine, optimise
from ballast.trading.proposal import Proposal

AS_OF = dt.date(2026, 9, 30)
CLASSES = ("us_equity", "intl_equity", "bonds", "real_assets")
TARGETS = np.array([0.40, 0.20, 0.30, 0.10])
PRICES = np.array([250.0, 60.0, 95.0, 40.0])
STATUSES = ("taxable", "tax_deferred", "tax_exempt")
CODES = ("TAX", "IRA", "ROTH")


def policies(n: int) -> list[Policy]:
    """n household IPSs, 500 bp bands, min-tax lots, small costs and minimums."""
    return [
        Policy.model_validate(
            {
                "id": f"H{i:05d}",
                "name": f"household {i}",
                "accounts": [
                    {"id": f"H{i:05d}-{c}", "tax_status": s}
                    for s, c in zip(STATUSES, CODES, strict=True)
                ],
                "default_band": "500bp",
                "asset_classes": {
                    c: {"target": f"{t * 100:g}%"} for c, t in zip(CLASSES, TARGETS, strict=True)
                },
                "cash": {"reserve": 2000},
                "trading": {"min_trade": 500, "cost_bp": {c: 5 for c in CLASSES}},
                "tax": {"lot_method": "min_tax"},
            }
        )
        for i in range(n)
    ]


def holdings_frame(rng: np.random.Generator, pols: list[Policy]) -> pl.DataFrame:
    """One holding per (account, class) plus cash; class weights drift about ±8 points."""
    n, na, nc = len(pols), len(STATUSES), len(CLASSES)
    size = rng.uniform(0.5e6, 5e6, n)
    weights = np.clip(TARGETS + rng.normal(0, 0.05, (n, nc)), 0.02, None)
    weights /= weights.sum(axis=1, keepdims=True)
    split = rng.dirichlet(np.ones(na) * 2, (n, nc))  # (n, class, account)
    value = size[:, None, None] * weights[:, :, None] * split
    qty = np.floor(value / PRICES[None, :, None])
    pid = np.repeat([p.id for p in pols], na * nc)
    status = np.tile(np.repeat(STATUSES, 1), n * nc)
    acct_idx = np.tile(np.arange(na), n * nc)
    cls_idx = np.tile(np.repeat(np.arange(nc), na), n)
    frame = pl.DataFrame(
        {
            "portfolio_id": pid,
            "account_id": [f"{p}-{CODES[a]}" for p, a in zip(pid, acct_idx, strict=True)],
            "security_id": [f"SEC{c}" for c in cls_idx],
            "asset_class": [CLASSES[c] for c in cls_idx],
            "quantity": qty.reshape(-1),
            "price": PRICES[cls_idx],
            "tax_status": status,
        }
    )
    cash = pl.DataFrame(
        {
            "portfolio_id": np.repeat([p.id for p in pols], na),
            "account_id": [f"{p.id}-{c}" for p in pols for c in CODES],
            "security_id": "CASH",
            "asset_class": "cash",
            "quantity": rng.uniform(0, 20000, n * na).round(2),
            "price": 1.0,
            "tax_status": np.tile(STATUSES, n),
        }
    )
    return (
        pl.concat([frame, cash])
        .filter(pl.col("quantity") > 0)
        .with_columns(
            pl.col("quantity").cast(pl.Decimal(18, 6)),
            pl.col("price").cast(pl.Decimal(18, 6)),
        )
        .with_columns(
            (pl.col("quantity") * pl.col("price")).cast(pl.Decimal(18, 4)).alias("market_value")
        )
    )


def lots_frame(rng: np.random.Generator, h: pl.DataFrame, per: int) -> pl.DataFrame:
    """``per`` lots per taxable holding; quantities add up exactly to the holding."""
    taxable = h.filter((pl.col("tax_status") == "taxable") & (pl.col("security_id") != "CASH"))
    q = taxable["quantity"].cast(pl.Float64).to_numpy()
    px = taxable["price"].cast(pl.Float64).to_numpy()
    m = len(q)
    share = rng.dirichlet(np.ones(per), m)
    lot_q = np.floor(share * q[:, None])
    lot_q[:, -1] += q - lot_q.sum(axis=1)  # the last lot takes the remainder
    days = rng.integers(1, 6 * 365, (m, per))
    cost_ps = px[:, None] * rng.uniform(0.4, 1.3, (m, per))
    return (
        pl.DataFrame(
            {
                "account_id": np.repeat(taxable["account_id"].to_numpy(), per),
                "security_id": np.repeat(taxable["security_id"].to_numpy(), per),
                "lot_id": [f"L{j}" for j in range(per)] * m,
                "acquired_date": (np.datetime64(AS_OF) - days.reshape(-1)).astype("datetime64[D]"),
                "quantity": lot_q.reshape(-1),
                "cost_basis": (lot_q * cost_ps).reshape(-1).round(2),
            }
        )
        .with_columns(
            pl.col("acquired_date").cast(pl.Date),
            pl.col("quantity").cast(pl.Decimal(18, 6)),
            pl.col("cost_basis").cast(pl.Decimal(18, 4)),
        )
        .filter(pl.col("quantity") > 0)
    )


SOLVE_SECONDS: list[float] = []


def _timed_solve_all(lps, workers=None):
    """engine.solve_all, timed, to split set-up from solving."""
    t = time.perf_counter()
    out = _SOLVE_ALL(lps, workers)
    SOLVE_SECONDS.append(time.perf_counter() - t)
    return out


_SOLVE_ALL = engine.solve_all
engine.solve_all = _timed_solve_all


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--households", type=int, default=1000)
    ap.add_argument("--lots", type=int, default=50)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    pols = policies(args.households)
    h = holdings_frame(rng, pols)
    lots = lots_frame(rng, h, args.lots)
    alloc = allocation(h, pf.targets_frame(pols))
    frames = (
        pf.settings_frame(pols),
        pf.accounts_frame(pols),
        pl.DataFrame(
            schema={"security_id": pl.String, "asset_class": pl.String, "price": pl.Decimal(18, 6)}
        ),
        pf.restrictions_frame(pols),
        pf.costs_frame(pols),
    )
    breached = alloc.filter(pl.col("portfolio_breached"))["portfolio_id"].n_unique()
    print(
        f"{args.households} households, {h.height} holdings, {lots.height} lots, "
        f"{breached} breached"
    )
    t0 = time.perf_counter()
    settings, accounts, cands, restr, costs = frames
    heur = propose(TradingInputs(alloc, h, *frames))
    trades, _ = annotate_trades(heur.trades, lots, settings, accounts, AS_OF)
    heur = Proposal(trades, heur.classes, heur.warnings)
    t1 = time.perf_counter()
    opt = optimise(
        TradingInputs(alloc, h, settings, accounts, cands, restr, costs, None, lots, AS_OF),
        workers=args.workers,
    )
    t2 = time.perf_counter()
    n = max(breached, 1)
    for name, secs, prop in (
        ("heuristic (+ lots.annotate_trades)", t1 - t0, heur),
        ("optimiser", t2 - t1, opt),
    ):
        print(
            f"{name}: {secs:7.2f} s total, {secs / n * 1000:7.2f} ms per breached household, "
            f"{prop.trades.height} trades, {prop.warnings.height} warnings"
        )
    solve = sum(SOLVE_SECONDS)
    print(
        f"  of which HiGHS solves ({args.workers} worker(s)): {solve:.2f} s, "
        f"{solve / n * 1000:.2f} ms per household; set-up and rounding {t2 - t1 - solve:.2f} s"
    )
    for name, prop in (("heuristic", heur), ("optimiser", opt)):
        st, lt, tax = prop.trades.select(
            pl.col("realized_gain_short_term", "realized_gain_long_term", "estimated_tax")
            .cast(pl.Float64)
            .sum()
        ).row(0)
        print(f"{name:9}: realised short-term {st:,.0f}, long-term {lt:,.0f}, tax {tax:,.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
