"""Proposal time, heuristic against LP optimiser, for taxable households with many lots.

    uv run python benchmarks/bench_optimizer.py [--households 1000] [--lots 50] [--workers 2]
        [--recent] [--budget 5000] [--check-repeat] [--pipeline]

Each household has three accounts (taxable, tax-deferred, tax-exempt), four asset classes,
one holding per class in every account plus cash, and ``--lots`` tax lots per taxable holding
(acquired over the last six years, costs from 40% to 130% of today's price, so short- and
long-term gains and losses all occur). Holdings are drawn so most households breach a band.
Everything is generated in memory with NumPy (``optimiser_inputs``; the tests reuse it).

``--check-repeat`` runs the optimiser twice more, once with the same worker count and once with
the other (1 against 2, or 1 against ``--workers``), and reports whether the proposals (trades,
classes, warnings, lot sales) are identical: the optimiser must not depend on load or workers.
It also compares them byte for byte: the SHA-256 of the trades and the lot sales written as
NDJSON.

``--budget AMOUNT`` gives every household the gains budget of issue 12 (``max_net_gain``
AMOUNT, ``state_rate`` 5%): one more row per programme. The generated transactions hold no
sale, so the year to date is 0 and the whole budget is left for the proposal.

``--pipeline`` times the whole trading pipeline (``pipeline.propose_trades``, every household
on ``engine: optimizer``: the optimiser, the wash-sale check, the gains budget, gains and tax
from the lots relieved, post-trade values) twice, and compares the two proposals byte for byte
(trades with their lots, classes, warnings, the budget frame).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import time
from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import polars as pl

from ballast.portfolio import policy_frames as pf
from ballast.portfolio.drift import allocation
from ballast.portfolio.policy import Policy
from ballast.trading import gains_budget, wash_sales
from ballast.trading.heuristic import propose
from ballast.trading.inputs import TradingInputs
from ballast.trading.lots import annotate_trades
from ballast.trading.optimizer import engine, optimise, weights
from ballast.trading.pipeline import propose_trades
from ballast.trading.proposal import OptimisedProposal, Proposal

AS_OF = dt.date(2026, 9, 30)
CLASSES = ("us_equity", "intl_equity", "bonds", "real_assets")
TARGETS = np.array([0.40, 0.20, 0.30, 0.10])
PRICES = np.array([250.0, 60.0, 95.0, 40.0])
STATUSES = ("taxable", "tax_deferred", "tax_exempt")
CODES = ("TAX", "IRA", "ROTH")


def policies(n: int, tax: dict[str, object] | None = None) -> list[Policy]:
    """n household IPSs, 500 bp bands, min-tax lots, small costs and minimums (``tax``: more
    IPS ``tax`` fields, e.g. the gains budget)."""
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
                "tax": {"lot_method": "min_tax", **(tax or {})},
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


def purchases(
    rng: np.random.Generator, h: pl.DataFrame, lot_rows: pl.DataFrame, per: int
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Purchases of the last 30 days for the wash-sale rule: (lots, transactions).

    One taxable holding in five has its last lot bought 1–30 days ago at 90–110% of today's
    price, with the BUY in the transactions (a purchase the sale may take along: the
    optimiser's wash-sale switch); one household in ten reinvested 5–40 shares of one class in
    its IRA 1–30 days ago (a purchase no sale clears: that class's taxable loss lots are held
    back under ``wash_sale: block``)."""
    taxable = h.filter(
        (pl.col("tax_status") == "taxable") & (pl.col("security_id") != "CASH")
    ).select("account_id", "security_id", pl.col("price").cast(pl.Float64))
    n = taxable.height
    taxable = taxable.with_columns(
        pl.Series("recent", rng.random(n) < 0.2),
        pl.Series("days", rng.integers(1, 31, n)),
        pl.Series("px", rng.uniform(0.9, 1.1, n)),
    ).filter(pl.col("recent"))
    last = f"L{per - 1}"
    recent = (
        lot_rows.filter(pl.col("lot_id") == last)
        .join(taxable, on=["account_id", "security_id"])
        .with_columns(
            (pl.lit(AS_OF) - pl.duration(days=pl.col("days"))).alias("acquired_date"),
            (pl.col("quantity").cast(pl.Float64) * pl.col("price") * pl.col("px"))
            .round(2)
            .cast(pl.Decimal(18, 4))
            .alias("cost_basis"),
        )
    )
    keys = ["account_id", "security_id", "lot_id"]
    lot_rows = pl.concat(
        [
            lot_rows.join(recent.select(keys), on=keys, how="anti"),
            recent.select(lot_rows.columns),
        ]
    ).sort(keys)
    buys = recent.select(
        pl.format("B-{}-{}", "account_id", "security_id").alias("transaction_id"),
        pl.col("acquired_date").alias("trade_date"),
        "account_id",
        "security_id",
        pl.lit("BUY").alias("type"),
        pl.col("quantity").cast(pl.Decimal(18, 6)),
        (-pl.col("cost_basis")).cast(pl.Decimal(18, 4)).alias("amount"),
    )
    ira = h.filter(
        (pl.col("tax_status") == "tax_deferred") & (pl.col("security_id") != "CASH")
    ).select("portfolio_id", "account_id", "security_id", pl.col("price").cast(pl.Float64))
    m = ira.height
    ira = ira.with_columns(
        pl.Series("pick", rng.random(m) < 0.025),  # about one household in ten (4 classes)
        pl.Series("q", rng.integers(5, 41, m)),
        pl.Series("days", rng.integers(1, 31, m)),
    ).filter(pl.col("pick"))
    reinvest = ira.select(
        pl.format("R-{}-{}", "account_id", "security_id").alias("transaction_id"),
        (pl.lit(AS_OF) - pl.duration(days=pl.col("days"))).alias("trade_date"),
        "account_id",
        "security_id",
        pl.lit("REINVEST").alias("type"),
        pl.col("q").cast(pl.Decimal(18, 6)).alias("quantity"),
        (-pl.col("q") * pl.col("price")).cast(pl.Decimal(18, 4)).alias("amount"),
    )
    return lot_rows, pl.concat([buys, reinvest]).with_columns(pl.col("trade_date").cast(pl.Date))


def optimiser_inputs(
    households: int,
    lots: int = 50,
    seed: int = 7,
    *,
    recent: bool = False,
    budget: int | None = None,
) -> TradingInputs:
    """The benchmark's households as the optimiser's inputs (lots, sale date ``AS_OF``);
    ``recent``: with purchases of the last 30 days and ``wash_sale: block`` (``purchases``);
    ``budget``: every IPS with ``max_net_gain: budget`` and ``state_rate: 5%``."""
    rng = np.random.default_rng(seed)
    tax = None if budget is None else {"max_net_gain": budget, "state_rate": "5%"}
    pols = policies(households, tax)
    h = holdings_frame(rng, pols)
    lot_rows = lots_frame(rng, h, lots)
    if recent:
        lot_rows, txns = purchases(rng, h, lot_rows, lots)
        securities = pl.DataFrame(
            {"security_id": [f"SEC{c}" for c in range(len(CLASSES))]},
        ).with_columns(pl.lit(None, pl.String).alias("identical_group"))
        return replace(
            optimiser_inputs(households, lots, seed, budget=budget),
            lots=lot_rows,
            transactions=txns,
            securities=securities,
            wash_settings=wash_sales.wash_settings(pols),
        )
    budgets = gains_budget.budget_settings(pols)
    return TradingInputs(
        allocation(h, pf.targets_frame(pols)),
        h,
        gains_budget.with_state_rates(pf.settings_frame(pols), budgets),
        pf.accounts_frame(pols),
        pl.DataFrame(
            schema={
                "base_currency": pl.String,
                "security_id": pl.String,
                "asset_class": pl.String,
                "price": pl.Decimal(18, 6),
            }
        ),
        pf.restrictions_frame(pols),
        pf.costs_frame(pols),
        None,
        lot_rows,
        AS_OF,
        tax_budgets=budgets,
    )


def digest(*frames: pl.DataFrame) -> str:
    """SHA-256 of the frames written as NDJSON, one after the other: the same digest means
    the same rows, values and column order, byte for byte."""
    h = hashlib.sha256()
    for f in frames:
        h.update(f.write_ndjson().encode())
        h.update(b"\x00")
    return h.hexdigest()


def identical(a: OptimisedProposal, b: OptimisedProposal) -> bool:
    """Same trades, classes, warnings and lot sales, row for row and value for value."""
    return all(
        x.equals(y)
        for x, y in (
            (a.trades, b.trades),
            (a.classes, b.classes),
            (a.warnings, b.warnings),
            (a.lot_sales, b.lot_sales),
        )
    )


@contextlib.contextmanager
def timed_solves(seconds: list[float]) -> Iterator[None]:
    """engine.solve_all, timed into ``seconds``, to split set-up from solving."""
    solve_all = engine.solve_all

    def timed(lps, workers=None):
        t = time.perf_counter()
        out = solve_all(lps, workers)
        seconds.append(time.perf_counter() - t)
        return out

    engine.solve_all = timed
    try:
        yield
    finally:
        engine.solve_all = solve_all


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--households", type=int, default=1000)
    ap.add_argument("--lots", type=int, default=50)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument(
        "--recent",
        action="store_true",
        help="purchases of the last 30 days and wash_sale: block (the wash-sale switches)",
    )
    ap.add_argument(
        "--check-repeat",
        action="store_true",
        help="run the optimiser again (same and other worker count): are the proposals identical?",
    )
    ap.add_argument(
        "--budget",
        type=int,
        default=None,
        metavar="AMOUNT",
        help="every household with max_net_gain AMOUNT and state_rate 5%% (the gains budget)",
    )
    ap.add_argument(
        "--pipeline",
        action="store_true",
        help="time the whole trading pipeline (engine: optimizer) twice, compare byte for byte",
    )
    args = ap.parse_args(argv)
    inputs = optimiser_inputs(
        args.households, args.lots, args.seed, recent=args.recent, budget=args.budget
    )
    alloc, h, lots = inputs.allocation, inputs.holdings, inputs.lots
    assert lots is not None
    settings, accounts = inputs.settings, inputs.accounts
    breached = alloc.filter(pl.col("portfolio_breached"))["portfolio_id"].n_unique()
    print(
        f"{args.households} households, {h.height} holdings, {lots.height} lots, "
        f"{breached} breached"
    )
    t0 = time.perf_counter()
    heur = propose(
        TradingInputs(
            alloc, h, settings, accounts, inputs.candidates, inputs.restrictions, inputs.costs
        )
    )
    trades, _ = annotate_trades(heur.trades, lots, settings, accounts, AS_OF)
    heur = Proposal(trades, heur.classes, heur.warnings)
    t1 = time.perf_counter()
    solve_seconds: list[float] = []
    with timed_solves(solve_seconds):
        opt = optimise(inputs, workers=args.workers)
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
    solve = sum(solve_seconds)
    print(
        f"  of which HiGHS solves ({args.workers} worker(s), node limit "
        f"{weights.MIP_NODE_LIMIT}): {solve:.2f} s, {solve / n * 1000:.2f} ms per household; "
        f"set-up and rounding {t2 - t1 - solve:.2f} s"
    )
    for name, prop in (("heuristic", heur), ("optimiser", opt)):
        st, lt, tax = prop.trades.select(
            pl.col("realized_gain_short_term", "realized_gain_long_term", "estimated_tax")
            .cast(pl.Float64)
            .sum()
        ).row(0)
        print(f"{name:9}: realised short-term {st:,.0f}, long-term {lt:,.0f}, tax {tax:,.0f}")
    if args.check_repeat:
        other = 1 if args.workers != 1 else 2
        if breached < weights.PARALLEL_MIN:
            print(f"  (fewer than {weights.PARALLEL_MIN} programmes: no process pool is used)")
        for label, workers in (("again", args.workers), (f"with {other} worker(s)", other)):
            t = time.perf_counter()
            again = optimise(inputs, workers=workers)
            same = "identical" if identical(opt, again) else "DIFFERENT"
            same_bytes = digest(opt.trades, opt.lot_sales) == digest(again.trades, again.lot_sales)
            print(
                f"optimiser {label}: {time.perf_counter() - t:.2f} s, "
                f"{again.trades.height} trades: {same}; trades and lots byte for byte: "
                f"{'identical' if same_bytes else 'DIFFERENT'} "
                f"(sha256 {digest(again.trades, again.lot_sales)[:16]})"
            )
    if args.pipeline:
        run_pipeline_twice(inputs)
    return 0


def run_pipeline_twice(inputs: TradingInputs) -> None:
    """``pipeline.propose_trades`` for every household on the optimiser, twice: times, and
    whether the two proposals are the same byte for byte."""
    securities = pl.DataFrame(
        {"security_id": [f"SEC{c}" for c in range(len(CLASSES))]},
    ).with_columns(pl.lit(None, pl.String).alias("identical_group"))
    pols_wash = inputs.wash_settings
    if pols_wash is None:
        pols_wash = inputs.settings.select(
            "portfolio_id", pl.lit("block").alias("wash_sale"), "whole_shares"
        )
    full = replace(
        inputs,
        settings=inputs.settings.with_columns(pl.lit("optimizer").alias("engine")),
        transactions=inputs.transactions
        if inputs.transactions is not None
        else pl.DataFrame(
            schema={
                "transaction_id": pl.String,
                "trade_date": pl.Date,
                "account_id": pl.String,
                "security_id": pl.String,
                "type": pl.String,
                "quantity": pl.Decimal(18, 6),
                "amount": pl.Decimal(18, 4),
            }
        ),
        securities=inputs.securities if inputs.securities is not None else securities,
        wash_settings=pols_wash,
    )
    digests = []
    for label in ("pipeline", "pipeline again"):
        t = time.perf_counter()
        prop, warnings = propose_trades(full)
        secs = time.perf_counter() - t
        frames = [prop.trades, prop.classes, warnings]
        if prop.tax_budget is not None:
            frames.append(prop.tax_budget)
        digests.append(digest(*frames))
        lots_relieved = prop.trades["lots"].list.len().sum() if prop.trades.height else 0
        print(
            f"{label} (propose_trades, the optimiser's default workers): "
            f"{secs:.2f} s, {prop.trades.height} trades, {lots_relieved} lots relieved, "
            f"sha256 {digests[-1][:16]}"
        )
    print(
        "pipeline twice, trades (with lots), classes, warnings, budget byte for byte: "
        + ("identical" if digests[0] == digests[1] else "DIFFERENT")
    )


if __name__ == "__main__":
    raise SystemExit(main())
