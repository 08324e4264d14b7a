"""Trade proposals as a linear programme per portfolio, solved with HiGHS (pure; no Prefect).

Same inputs and output frames as :func:`ballast.trading.heuristic.propose`, plus the tax lots.
For every portfolio the heuristic would trade (breached, or with planned flows) it minimises

    Σ tax on the lots sold + Σ transaction costs + λ Σ|post-trade class value − destination|
    + large penalties on band violations and on a planned withdrawal left unfunded

over sell amounts per (account, lot) and buy amounts per (account, class vehicle), subject to
each account's own cash (idle cash above the reserve + planned flows + sales − buys − costs ≥ 0),
no shorts (a lot sells at most its quantity), do-not-sell / do-not-buy, each class inside its
band (soft), and no class passing its mirror image around target. Destinations, vehicles and
the direction each class may trade in come from the heuristic (``proposal.destinations`` and
its vehicle choice). The LP is continuous: quantities are rounded afterwards (sells up, buys
down), trades below the IPS minimum are dropped afterwards, and buys are trimmed until every
account can pay for them. See docs/optimizer.md.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import polars as pl
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from ballast.kinds import CASH_CLASS, CASH_SECURITY
from ballast.trading import heuristic as hp
from ballast.trading import lots as lots_mod
from ballast.trading import post_trade
from ballast.trading.heuristic import AMT, Proposal
from ballast.trading.lots import GAIN, is_long_term

DRIFT_PENALTY = 1.0
"""λ: cost per dollar a class ends away from its destination. A dollar moved from an overweight
to an underweight class saves 2λ, more than any tax or cost a dollar of trading incurs at 1.0,
so the optimiser reaches the heuristic's destination whenever the constraints allow and spends
its freedom on *how* (accounts, lots). With 2λ below a lot's tax + cost per dollar (λ < 0.185
for a zero-basis short-term lot at 37%) it stops short of the destination, inside the band."""
BAND_PENALTY = 100.0
"""Cost per dollar a class ends outside its band (the band is soft so the LP is always
feasible; any violation is reported as a warning)."""
SHORTFALL_PENALTY = 1_000.0
"""Cost per dollar of a planned withdrawal the account's sales leave unfunded."""
LOSS_CREDIT = 0.1
"""Fraction of the tax value of a realised loss counted as a saving: small, so losses are taken
before zero-gain lots but the optimiser never harvests losses for their own sake."""
AVOID_SHORT_TERM_PENALTY = 3.0
"""Extra cost per dollar of a short-term gain lot sold under ``avoid_short_term_gains``: more
than the 2λ a dollar moved toward the destination saves, less than the band penalty, so such a
lot is sold only to bring a class back inside its band (a last resort, as in the heuristic)."""
ACCOUNT_TIE_BREAK = 1e-6
"""Per-dollar nudge by tax status (exempt 0, deferred 1, taxable 2) to break exact ties."""
PARALLEL_MIN = 500
"""Solve in a process pool when at least this many portfolios need the LP (a solve takes about
1–2 ms, so below this the pool cannot pay for itself; it pays only on otherwise idle cores)."""
UNIT = 1_000_000  # fractional quantities are kept to 6 decimals
BUY_CAP = 2.0
"""Upper bound of one buy as a fraction of the portfolio's total (big-M of the minimum-trade
switch; a buy cannot exceed the account's funds, which are less than the total)."""
MIP_TIME_LIMIT = 0.25
"""Seconds HiGHS may spend on one portfolio's whole-share branch and bound. Most households of
the benchmark take 5–50 ms; about 3% would search for seconds to close the last 0.01%."""
MIP_GAP = 1e-4
"""Branch and bound stops within this fraction of the portfolio's value of the best objective
(tax + costs + penalties) possible: $10 on a $100,000 household."""


@dataclass(frozen=True)
class OptimisedProposal(Proposal):
    """A proposal plus the lots each sell relieves (specific identification)."""

    lot_sales: pl.DataFrame = field(default_factory=pl.DataFrame)


# --- set-up ---------------------------------------------------------------------------------


def _cash(
    accounts: pl.DataFrame, holdings: pl.DataFrame, settings: pl.DataFrame, flows: pl.DataFrame
) -> pl.DataFrame:
    """Per account: cash, kept reserve and idle cash, as the heuristic computes them."""
    held = (
        holdings.filter(pl.col("security_id") == CASH_SECURITY)
        .group_by("portfolio_id", "account_id")
        .agg(pl.col("market_value").sum())
    )
    return (
        accounts.join(held, on=["portfolio_id", "account_id"], how="left")
        .join(settings.select("portfolio_id", "reserve"), on="portfolio_id")
        .join(flows, on=["portfolio_id", "account_id"], how="left")
        .with_columns(pl.col("planned").fill_null(0).cast(AMT))
        .with_columns(
            (pl.col("market_value").fill_null(0).cast(AMT) + pl.col("planned")).alias("cash")
        )
        .with_columns(
            pl.min_horizontal(hp.positive(pl.col("cash")), pl.col("reserve").cast(AMT)).alias(
                "kept_cash"
            )
        )
        .with_columns((pl.col("cash") - pl.col("kept_cash")).alias("idle_cash"))
    )


def _classes(dest: pl.DataFrame) -> pl.DataFrame:
    """Targeted non-cash classes with their local index and right-hand sides (fractions of T)."""
    t = pl.col("total_after_flows").cast(pl.Float64)
    v = pl.col("market_value").cast(pl.Float64)
    mirror = 2 * pl.col("target").cast(pl.Float64) * t - v
    return (
        dest.filter(pl.col("has_target") & (pl.col("asset_class") != CASH_CLASS))
        .with_columns(
            (v / t).alias("v"),
            (pl.col("dest").cast(pl.Float64) / t).alias("d"),
            pl.col("upper", "lower").cast(pl.Float64),
            (pl.col("max_sell").cast(pl.Float64) / t).alias("max_sell_f"),
            (pl.max_horizontal(mirror - v, pl.lit(0.0)) / t).alias("max_buy_f"),
        )
        .with_columns(pl.int_range(pl.len()).over("portfolio_id").alias("cidx"))
    )


def _sell_vars(
    dest: pl.DataFrame,
    holdings: pl.DataFrame,
    lots: pl.DataFrame,
    settings: pl.DataFrame,
    restrictions: pl.DataFrame,
    as_of: dt.date,
    washing: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """One row per (account, lot) of every holding in a class that sells. Tax-advantaged
    holdings are one lot with no gain; taxable quantity no lot covers is a zero-basis,
    short-term lot (the worst case, so the optimiser avoids selling what it cannot price).

    ``held`` says why a lot may not be sold (null: it may): ``short_term_wait`` for a
    short-term gain lot about to turn long-term (``lots.sell_tiers``), ``wash_sale`` for a loss
    lot of a portfolio with ``wash_sale: block`` whose security (or identical group) the
    household bought in the last 30 days (``washing``: portfolio_id, security_id, from
    ``wash_sales.recent_purchases``). Under ``warn`` such a loss earns no tax credit."""
    selling = dest.filter((pl.col("class_trade") < 0) & (pl.col("asset_class") != CASH_CLASS))
    hold = (
        holdings.filter((pl.col("security_id") != CASH_SECURITY) & (pl.col("quantity") > 0))
        .join(
            restrictions.filter(pl.col("rule") == "do_not_sell"),
            on=["portfolio_id", "security_id"],
            how="anti",
        )
        .join(selling.select("portfolio_id", "asset_class"), on=["portfolio_id", "asset_class"])
        .with_columns(
            pl.col("quantity").cast(pl.Decimal(38, 6)).alias("qty_dec"),
            pl.col("quantity", "price").cast(pl.Float64),
        )
    )
    keys = ["account_id", "security_id"]
    lot_rows = (
        hold.filter(pl.col("tax_status") == "taxable")
        .select("portfolio_id", *keys)
        .join(lots, on=keys)
        .select(
            "portfolio_id",
            *keys,
            "lot_id",
            pl.col("quantity").cast(pl.Float64).alias("lot_qty"),
            (pl.col("cost_basis").cast(pl.Float64) / pl.col("quantity").cast(pl.Float64)).alias(
                "cost_ps"
            ),
            pl.col("quantity").cast(pl.Decimal(38, 6)).alias("lot_dec"),
            pl.col("cost_basis").cast(GAIN).alias("cost_dec"),
            is_long_term(pl.col("acquired_date"), pl.lit(as_of)).alias("long_term"),
            "acquired_date",
        )
    )
    covered = lot_rows.group_by("portfolio_id", *keys).agg(pl.col("lot_dec").sum().alias("cov"))
    rest = (
        hold.join(covered, on=["portfolio_id", *keys], how="left")
        .with_columns(
            pl.when(pl.col("tax_status") == "taxable")
            .then(pl.col("qty_dec") - pl.col("cov").fill_null(0))
            .otherwise(pl.col("qty_dec"))
            .cast(pl.Decimal(38, 6))
            .alias("lot_dec")
        )
        .filter(pl.col("lot_dec") > 0)
        .with_columns(pl.col("lot_dec").cast(pl.Float64).alias("lot_qty"))
        .select(
            "portfolio_id",
            *keys,
            pl.lit(None, pl.String).alias("lot_id"),
            "lot_qty",
            pl.when(pl.col("tax_status") == "taxable")
            .then(0.0)
            .otherwise(pl.col("price"))
            .alias("cost_ps"),
            pl.lit(False).alias("long_term"),
            "lot_dec",
            pl.lit(0).cast(GAIN).alias("cost_dec"),
        )
    )
    frame = (
        pl.concat([lot_rows, rest], how="diagonal_relaxed")
        .join(
            hold.select(
                "portfolio_id",
                *keys,
                "asset_class",
                "price",
                "tax_status",
                pl.col("price").cast(pl.Decimal(38, 6)).alias("price_dec"),
            ),
            on=["portfolio_id", *keys],
        )
        .join(
            settings.select(
                "portfolio_id",
                pl.col("short_term_rate").cast(pl.Float64).alias("st"),
                pl.col("long_term_rate").cast(pl.Float64).alias("lt"),
                "avoid_short_term_gains",
                "short_term_wait_days",
                "wash_sale",
            ),
            on="portfolio_id",
        )
        .with_columns(
            pl.when(pl.col("tax_status") == "taxable")
            .then(pl.col("price") - pl.col("cost_ps"))
            .otherwise(0.0)
            .alias("gain_ps")
        )
    )
    washing = _no_washing() if washing is None else washing
    is_lot = pl.col("lot_id").is_not_null() & (pl.col("tax_status") == "taxable")
    washed = is_lot & (pl.col("gain_ps") < 0) & pl.col("_washing").fill_null(False)
    tier = pl.when(is_lot).then(
        lots_mod.tier(
            pl.col("avoid_short_term_gains"),
            pl.col("short_term_wait_days"),
            pl.col("acquired_date"),
            pl.col("gain_ps"),
            pl.lit(as_of),
        )
    )
    return (
        frame.join(
            washing.select("portfolio_id", "security_id", pl.lit(True).alias("_washing")),
            on=["portfolio_id", "security_id"],
            how="left",
        )
        .with_columns(tier.otherwise(lots_mod.TIER_FREE).alias("tier"), washed.alias("washed"))
        .with_columns(
            pl.when(pl.col("tier") == lots_mod.TIER_HELD)
            .then(pl.lit("short_term_wait"))
            .when(pl.col("washed") & (pl.col("wash_sale") == "block"))
            .then(pl.lit("wash_sale"))
            .alias("held"),
            (
                pl.col("gain_ps")
                / pl.col("price")
                * pl.when(pl.col("long_term")).then(pl.col("lt")).otherwise(pl.col("st"))
                * pl.when(pl.col("gain_ps") > 0)
                .then(1.0)
                .when(pl.col("washed"))
                .then(0.0)
                .otherwise(LOSS_CREDIT)
                + pl.when(pl.col("tier") == lots_mod.TIER_SHORT_TERM)
                .then(AVOID_SHORT_TERM_PENALTY)
                .otherwise(0.0)
            ).alias("tax_rate"),
            pl.lit("sell").alias("kind"),
        )
        .drop("_washing", "avoid_short_term_gains", "short_term_wait_days", "wash_sale")
        .sort("portfolio_id", "account_id", "security_id", "lot_id", nulls_last=True)
    )


def _minimums(holdings: pl.DataFrame, settings: pl.DataFrame, totals: pl.DataFrame) -> pl.DataFrame:
    """Per account: the IPS minimum trade, max(min_trade, min_trade_pct × account value), as a
    fraction of the portfolio's total after flows (the programme's unit of money)."""
    return (
        holdings.group_by("portfolio_id", "account_id")
        .agg(pl.col("market_value").cast(pl.Float64).sum().alias("account_value"))
        .join(settings.select("portfolio_id", "min_trade", "min_trade_pct"), on="portfolio_id")
        .join(totals, on="portfolio_id")
        .select(
            "portfolio_id",
            "account_id",
            (
                pl.max_horizontal(
                    pl.col("min_trade").cast(pl.Float64),
                    pl.col("min_trade_pct").cast(pl.Float64) * pl.col("account_value"),
                )
                / pl.col("T")
            ).alias("min_f"),
        )
    )


def _no_washing() -> pl.DataFrame:
    return pl.DataFrame(schema={"portfolio_id": pl.String, "security_id": pl.String})


def _held_warnings(rows: pl.DataFrame, dest: pl.DataFrame) -> pl.DataFrame:
    """Lots held back (``held``) in classes that cannot sell what they need without them."""
    need = dest.filter(pl.col("class_trade") < 0).select(
        "portfolio_id", "asset_class", (-pl.col("class_trade")).cast(pl.Float64).alias("need")
    )
    available = (
        rows.filter(pl.col("held").is_null())
        .group_by("portfolio_id", "asset_class")
        .agg((pl.col("lot_qty") * pl.col("price")).sum().alias("available"))
    )
    bound = (
        need.join(available, on=["portfolio_id", "asset_class"], how="left")
        .filter(pl.col("available").fill_null(0.0) < pl.col("need"))
        .select("portfolio_id", "asset_class")
    )
    held = rows.filter(pl.col("held").is_not_null()).join(
        bound, on=["portfolio_id", "asset_class"], how="semi"
    )
    waiting = held.filter(pl.col("held") == "short_term_wait").select(
        "portfolio_id",
        "account_id",
        "security_id",
        "asset_class",
        "lot_id",
        "acquired_date",
        pl.col("lot_dec").alias("quantity"),
        (pl.col("lot_dec") * pl.col("price_dec") - pl.col("cost_dec")).cast(GAIN).alias("gain"),
        lots_mod.turns_long_term(pl.col("acquired_date")).alias("long_term_on"),
        pl.lit(lots_mod.TIER_HELD).alias("tier"),
    )
    washed = (
        held.filter(pl.col("held") == "wash_sale")
        .sort("portfolio_id", "account_id", "security_id", "lot_id")
        .select(
            "portfolio_id",
            pl.format(
                "lot {} of {} in account {} (loss ${}) is not sold: the household bought {} (or "
                "an identical security) in the last 30 days, so the loss would be a wash sale "
                "(wash_sale: block); {} sells less than it needs",
                pl.col("lot_id"),
                pl.col("security_id"),
                pl.col("account_id"),
                (pl.col("cost_dec") - pl.col("lot_dec") * pl.col("price_dec")).cast(
                    pl.Decimal(38, 2)
                ),
                pl.col("security_id"),
                pl.col("asset_class"),
            ).alias("message"),
        )
    )
    return pl.concat([lots_mod.held_back_warnings(waiting, bound), washed])


def _buy_vars(
    dest: pl.DataFrame,
    holdings: pl.DataFrame,
    candidates: pl.DataFrame,
    restrictions: pl.DataFrame,
    accounts: pl.DataFrame,
) -> pl.DataFrame:
    """One variable per (account, class that buys), on the heuristic's vehicle."""
    vehicles = hp.choose_vehicles(dest, holdings, candidates, restrictions)
    return (
        dest.filter((pl.col("class_trade") > 0) & (pl.col("asset_class") != CASH_CLASS))
        .select("portfolio_id", "asset_class")
        .join(vehicles, on=["portfolio_id", "asset_class"])
        .join(accounts.select("portfolio_id", "account_id", "tax_status"), on="portfolio_id")
        .with_columns(pl.col("price").cast(pl.Float64), pl.lit("buy").alias("kind"))
        .sort("portfolio_id", "account_id", "asset_class")
    )


def _variables(
    sells: pl.DataFrame,
    buys: pl.DataFrame,
    classes: pl.DataFrame,
    cash: pl.DataFrame,
    cost_rate: pl.DataFrame,
    whole: pl.DataFrame | None = None,
    minimums: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """All variables of all portfolios: kind, local column, objective, bound, class and account
    indices and cash coefficient (money as fractions of the portfolio's total after flows).

    Whole shares and minimum trades add integer variables per trade (``_trade_groups``)."""
    acct = cash.select(
        "portfolio_id",
        "account_id",
        "aidx",
        "T",
        (pl.col("idle_cash").cast(pl.Float64) / pl.col("T")).alias("idle_f"),
    )
    rank = pl.col("tax_status").replace_strict(hp.TAX_PREFERENCE, return_dtype=pl.Float64)
    cls = classes.select("portfolio_id", "asset_class", "cidx")

    def trade_vars(frame: pl.DataFrame, bound: pl.Expr, obj: pl.Expr, sign: float) -> pl.DataFrame:
        return (
            frame.join(acct, on=["portfolio_id", "account_id"])
            .join(cls, on=["portfolio_id", "asset_class"])
            .join(cost_rate, on=["portfolio_id", "asset_class"], how="left")
            .with_columns(pl.col("cost_rate").fill_null(0.0))
            .with_columns(
                bound.alias("ub"),
                (obj + pl.col("cost_rate") + ACCOUNT_TIE_BREAK * rank).alias("obj"),
                (sign * (1 - sign * pl.col("cost_rate"))).alias("cash_coef"),
            )
        )

    s = trade_vars(sells, pl.col("lot_qty") * pl.col("price") / pl.col("T"), pl.col("tax_rate"), -1)
    b = trade_vars(buys, pl.lit(np.inf), pl.lit(0.0), 1)
    base = classes.select("portfolio_id", "asset_class", "cidx")
    dev = base.with_columns(pl.lit("dev").alias("kind"), pl.lit(DRIFT_PENALTY).alias("obj"))
    band = base.with_columns(pl.lit("band").alias("kind"), pl.lit(BAND_PENALTY).alias("obj"))
    short = acct.with_columns(
        pl.lit("short").alias("kind"),
        pl.lit(SHORTFALL_PENALTY).alias("obj"),
        pl.max_horizontal(-pl.col("idle_f"), pl.lit(0.0)).alias("ub"),
        pl.lit(-1.0).alias("cash_coef"),
    )
    order = {"sell": 0, "buy": 1, "dev": 2, "band": 3, "short": 4, "int": 5, "bin": 6}
    s, b, extra = _trade_groups(s, b, whole, minimums)
    return (
        pl.concat([s, b, dev, band, short, extra], how="diagonal_relaxed")
        .with_columns(
            pl.col("ub").fill_null(np.inf),
            pl.col("kind").replace_strict(order, return_dtype=pl.Int8).alias("block"),
        )
        .sort("portfolio_id", "block", maintain_order=True)
        .with_columns(pl.int_range(pl.len()).over("portfolio_id").alias("col"))
    )


def _trade_groups(
    sells: pl.DataFrame,
    buys: pl.DataFrame,
    whole: pl.DataFrame | None,
    minimums: pl.DataFrame | None,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(sells, buys, extra variables) for the trades (side, account, security) of portfolios
    with whole shares (``whole``: portfolio_id) or a minimum trade (``minimums``: portfolio_id,
    account_id, min_f = the account's minimum as a fraction of the total).

    Each such trade gets ``gidx``; with whole shares an integer share count (kind ``int``,
    ``unit`` = one share as a fraction of the total), with a minimum a binary (kind ``bin``):
    the trade is either 0 or between its minimum and ``cap`` (the holding's value for a sale)."""
    keys = ["portfolio_id", "side", "account_id", "security_id"]
    s = sells.with_columns(pl.lit("sell").alias("side"))
    b = buys.with_columns(pl.lit("buy").alias("side"), pl.lit(None, pl.Float64).alias("lot_qty"))
    whole = whole if whole is not None else pl.DataFrame(schema={"portfolio_id": pl.String})
    minimums = (
        minimums.filter(pl.col("min_f") > 0)
        if minimums is not None
        else pl.DataFrame(
            schema={"portfolio_id": pl.String, "account_id": pl.String, "min_f": pl.Float64}
        )
    )
    pids = pl.concat([whole, minimums.select("portfolio_id")]).unique()
    if pids.is_empty():
        return s, b, pl.DataFrame(schema={"portfolio_id": pl.String, "kind": pl.String})
    trades = pl.concat(
        [s.select(*keys, "price", "T", "lot_qty"), b.select(*keys, "price", "T", "lot_qty")]
    ).join(pids, on="portfolio_id", how="semi")
    groups = (
        trades.group_by(keys)
        .agg(pl.col("price").first(), pl.col("T").first(), pl.col("lot_qty").sum())
        .sort(keys)
        .join(minimums, on=["portfolio_id", "account_id"], how="left")
        .join(whole.with_columns(pl.lit(True).alias("whole")), on="portfolio_id", how="left")
        .with_columns(
            pl.int_range(pl.len()).over("portfolio_id").alias("gidx"),
            pl.col("whole").fill_null(False).alias("g_whole"),
            pl.col("min_f").is_not_null().alias("g_min"),
            (pl.col("price") / pl.col("T")).alias("unit"),
            pl.lit(0.0).alias("obj"),
        )
    )
    counts = groups.filter(pl.col("g_whole")).with_columns(
        pl.lit("int").alias("kind"),
        pl.when(pl.col("side") == "sell")
        .then((pl.col("lot_qty") + 1e-9).floor())
        .otherwise(np.inf)
        .alias("ub"),
    )
    switches = groups.filter(pl.col("g_min")).with_columns(
        pl.lit("bin").alias("kind"),
        pl.lit(1.0).alias("ub"),
        pl.when(pl.col("side") == "sell")
        .then(pl.col("lot_qty") * pl.col("unit"))
        .otherwise(BUY_CAP)
        .alias("cap"),
    )
    cols = ["portfolio_id", "kind", "obj", "ub", "gidx", "unit", "min_f", "cap"]
    tags = groups.select(*keys, "gidx", "g_whole", "g_min")
    return (
        s.join(tags, on=keys, how="left"),
        b.join(tags, on=keys, how="left"),
        pl.concat([counts, switches], how="diagonal_relaxed").select(cols),
    )


# class rows per class: dev+, dev-, band up, band low, sell cap, buy cap
_SELL_COEF = np.array([-1.0, 1.0, -1.0, 1.0, 1.0, 0.0])
_BUY_COEF = np.array([1.0, -1.0, 1.0, -1.0, 0.0, 1.0])
_N_CLASS_ROWS = 6


@dataclass(frozen=True)
class _LP:
    """One portfolio's programme: minimise c·x subject to A x ≤ b on the first ``n_ineq`` rows,
    A x = b on the others, 0 ≤ x ≤ ub, x integer where ``integrality`` is 1."""

    c: np.ndarray
    a: sparse.csr_matrix
    b: np.ndarray
    ub: np.ndarray
    n_ineq: int = -1
    integrality: np.ndarray | None = None


def _programmes(
    variables: pl.DataFrame, classes: pl.DataFrame, cash: pl.DataFrame, pids: list[str]
) -> list[_LP]:
    """Sparse matrices for every portfolio, built from flat triplets in one vectorised pass."""
    p_index = {p: i for i, p in enumerate(pids)}
    n_acc = cash.group_by("portfolio_id").agg(pl.len().alias("n_acc"))
    n_cls = classes.group_by("portfolio_id").agg(pl.len().alias("n_cls"))
    v = (
        variables.join(n_acc, on="portfolio_id")
        .join(n_cls, on="portfolio_id", how="left")
        .with_columns(
            pl.col("portfolio_id").replace_strict(p_index, return_dtype=pl.Int64).alias("p"),
            pl.col("n_cls").fill_null(0),
        )
    )
    for name, dtype in (
        ("gidx", pl.Int64),
        ("unit", pl.Float64),
        ("min_f", pl.Float64),
        ("cap", pl.Float64),
        ("g_whole", pl.Boolean),
        ("g_min", pl.Boolean),
    ):
        if name not in v.columns:
            v = v.with_columns(pl.lit(None, dtype).alias(name))
    p, kind = v["p"].to_numpy(), v["kind"].to_numpy()
    col, na = v["col"].to_numpy(), v["n_acc"].to_numpy()
    aidx = v["aidx"].fill_null(-1).to_numpy()
    cidx = v["cidx"].fill_null(-1).to_numpy()
    cash_coef = v["cash_coef"].fill_null(0.0).to_numpy()
    trade = (kind == "sell") | (kind == "buy")
    rows, cols, vals, ps = [], [], [], []

    def add(mask: np.ndarray, row: np.ndarray, val: np.ndarray) -> None:
        keep = mask & (val != 0)
        rows.append(row[keep])
        cols.append(col[keep])
        vals.append(val[keep])
        ps.append(p[keep])

    add(aidx >= 0, aidx, cash_coef)  # cash rows (trades and shortfall)
    class_row0 = na + _N_CLASS_ROWS * cidx
    for k in range(_N_CLASS_ROWS):
        coef = np.where(kind == "sell", _SELL_COEF[k], _BUY_COEF[k])
        add(trade, class_row0 + k, coef)
    for k in (0, 1):
        add(kind == "dev", class_row0 + k, np.full(len(v), -1.0))
    for k in (2, 3):
        add(kind == "band", class_row0 + k, np.full(len(v), -1.0))
    # minimum trade: min × z − Σ x ≤ 0 and Σ x − cap × z ≤ 0, two rows per trade (z binary)
    per_p = v.group_by("p").agg(
        (pl.col("kind") == "bin").sum().alias("n_bin"),
        (pl.col("kind") == "int").sum().alias("n_int"),
    )
    n_bin = dict(per_p.select("p", "n_bin").iter_rows())
    n_eq = dict(per_p.select("p", "n_int").iter_rows())
    v = v.join(per_p.select("p", "n_bin"), on="p", how="left", maintain_order="left")
    min_row0 = na + _N_CLASS_ROWS * v["n_cls"].to_numpy()
    gidx = v["gidx"].fill_null(-1).to_numpy()
    g_min = v["g_min"].fill_null(False).to_numpy()
    g_whole = v["g_whole"].fill_null(False).to_numpy()
    ones = np.ones(len(v))
    add(trade & g_min, min_row0 + 2 * gidx, -ones)
    add(trade & g_min, min_row0 + 2 * gidx + 1, ones)
    add(kind == "bin", min_row0 + 2 * gidx, v["min_f"].fill_null(0.0).to_numpy())
    add(kind == "bin", min_row0 + 2 * gidx + 1, -v["cap"].fill_null(0.0).to_numpy())
    # whole shares: Σ trade variables − unit × count = 0, one equality row per count
    n_ineq = min_row0 + 2 * v["n_bin"].fill_null(0).to_numpy()
    add(trade & g_whole, n_ineq + gidx, ones)
    add(kind == "int", n_ineq + gidx, -v["unit"].fill_null(0.0).to_numpy())
    r, cc, vv, pp = (np.concatenate(x) for x in (rows, cols, vals, ps))
    order = np.argsort(pp, kind="stable")
    r, cc, vv, pp = r[order], cc[order], vv[order], pp[order]
    rhs = _rhs(classes, cash, p_index)
    n = len(pids)
    v_cuts = np.searchsorted(p, np.arange(n + 1))
    e_cuts = np.searchsorted(pp, np.arange(n + 1))
    obj, ub = v["obj"].to_numpy(), v["ub"].to_numpy()
    integer = ((kind == "int") | (kind == "bin")).astype(np.int8)
    out = []
    for i in range(n):
        lo, hi = v_cuts[i], v_cuts[i + 1]
        e0, e1 = e_cuts[i], e_cuts[i + 1]
        ineq = np.concatenate([rhs[i], np.zeros(2 * n_bin.get(i, 0))])
        b = np.concatenate([ineq, np.zeros(n_eq.get(i, 0))])
        a = sparse.csr_matrix((vv[e0:e1], (r[e0:e1], cc[e0:e1])), shape=(len(b), hi - lo))
        ints = integer[lo:hi]
        out.append(_LP(obj[lo:hi], a, b, ub[lo:hi], len(ineq), ints if ints.any() else None))
    return out


def _rhs(classes: pl.DataFrame, cash: pl.DataFrame, p_index: dict[str, int]) -> list[np.ndarray]:
    """Right-hand sides per portfolio: idle cash per account, then six rows per class."""
    out: list[list[np.ndarray]] = [[] for _ in p_index]
    for (pid,), g in cash.sort("aidx").group_by("portfolio_id"):
        out[p_index[pid]].append((g["idle_cash"].cast(pl.Float64) / g["T"]).to_numpy())
    cls_rhs = classes.sort("cidx").select(
        "portfolio_id",
        pl.concat_list(
            pl.col("d") - pl.col("v"),
            pl.col("v") - pl.col("d"),
            pl.col("upper") - pl.col("v"),
            pl.col("v") - pl.col("lower"),
            pl.col("max_sell_f"),
            pl.col("max_buy_f"),
        ).alias("rhs"),
    )
    for (pid,), g in cls_rhs.group_by("portfolio_id"):
        if pid in p_index:
            out[p_index[pid]].append(np.asarray(g["rhs"].explode().to_numpy(), dtype=float))
    return [np.concatenate(parts) if parts else np.zeros(0) for parts in out]


# --- solve ----------------------------------------------------------------------------------


def solve_one(lp: _LP) -> np.ndarray:
    """HiGHS on one portfolio: branch and bound for whole shares (``MIP_TIME_LIMIT``; the LP
    relaxation, rounded afterwards, when it finds no integer solution in time); NaN everywhere
    if even that fails (reported, no trades)."""
    if lp.c.size == 0:
        return np.zeros(0)
    if lp.integrality is not None:
        x = _branch_and_bound(lp)
        if x is not None:
            return x
    n_ineq = lp.b.size if lp.n_ineq < 0 else lp.n_ineq
    a = lp.a.tocsr()
    res = linprog(
        lp.c,
        A_ub=a[:n_ineq] if n_ineq else None,
        b_ub=lp.b[:n_ineq] if n_ineq else None,
        A_eq=a[n_ineq:] if lp.b.size > n_ineq else None,
        b_eq=lp.b[n_ineq:] if lp.b.size > n_ineq else None,
        bounds=np.column_stack([np.zeros_like(lp.ub), lp.ub]),
        method="highs",
    )
    return res.x if res.status == 0 else np.full_like(lp.c, np.nan)


def _branch_and_bound(lp: _LP) -> np.ndarray | None:
    """The whole-share programme with HiGHS's MILP, or None when it finds no integer solution.

    The objective (a fraction of the portfolio's total, near zero) gets a constant 1 from one
    extra variable fixed at 1, so that the relative gap ``MIP_GAP`` is a gap of that fraction of
    the portfolio's value. Presolve is off: it saves nothing on programmes this small. At the
    time limit the best whole-share solution found so far is used."""
    lower = np.full(lp.b.size, -np.inf)
    lower[lp.n_ineq :] = 0.0
    a = sparse.hstack([lp.a, sparse.csr_matrix((lp.b.size, 1))]).tocsr()
    with _stdout_silenced():
        res = milp(
            np.append(lp.c, 1.0),
            integrality=np.append(lp.integrality, 0),
            bounds=Bounds(np.append(np.zeros_like(lp.ub), 1.0), np.append(lp.ub, 1.0)),
            constraints=LinearConstraint(a, lower, lp.b),
            options={"time_limit": MIP_TIME_LIMIT, "mip_rel_gap": MIP_GAP, "presolve": False},
        )
    return None if res.x is None else res.x[:-1]


@contextlib.contextmanager
def _stdout_silenced() -> Iterator[None]:
    """File descriptor 1 to /dev/null: HiGHS's MIP heuristics print stray debug lines from C++
    (``HighsMipSolverData::transformNewIntegerFeasibleSolution``) that ``disp`` cannot stop."""
    with _STDOUT_LOCK:  # threads (shards) must not interleave the save and the restore
        sys.stdout.flush()
        saved = os.dup(1)
        try:
            with open(os.devnull, "wb") as null:
                os.dup2(null.fileno(), 1)
                yield
        finally:
            os.dup2(saved, 1)
            os.close(saved)


_STDOUT_LOCK = threading.Lock()


def _solve_chunk(lps: list[_LP]) -> list[np.ndarray]:
    return [solve_one(lp) for lp in lps]


def solve_all(lps: list[_LP], workers: int | None = None) -> list[np.ndarray]:
    """Solve every programme, in a process pool when there are many."""
    workers = workers or min(len(os.sched_getaffinity(0)), 8)
    if len(lps) < PARALLEL_MIN or workers < 2:
        return _solve_chunk(lps)
    chunks = [lps[i::workers] for i in range(workers)]
    with ProcessPoolExecutor(workers) as pool:
        solved = list(pool.map(_solve_chunk, chunks))
    out: list[np.ndarray] = [np.zeros(0)] * len(lps)
    for w, xs in enumerate(solved):
        for j, x in enumerate(xs):
            out[w + j * workers] = x
    return out


# --- from solution to trades ----------------------------------------------------------------


def _round(qty: pl.Expr, up: bool) -> pl.Expr:
    """Whole shares, or 6 decimals with fractional trading; tolerant of solver noise."""
    scale = pl.when(pl.col("whole_shares")).then(1.0).otherwise(float(UNIT))
    scaled = qty * scale
    r = (scaled - 1e-6).ceil() if up else (scaled + 1e-6).floor()
    return (r / scale).cast(pl.Decimal(38, 6))


def _sell_trades(
    sol: pl.DataFrame, dest: pl.DataFrame, settings: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Lot sales summed per holding and rounded up (never past the holding or, per class, the
    mirror); returns (sells with exact gains, lots relieved)."""
    lots = sol.filter((pl.col("kind") == "sell") & (pl.col("x") > 1e-9)).with_columns(
        (pl.col("x") * pl.col("T") / pl.col("price")).alias("sold")
    )
    keys = ["portfolio_id", "account_id", "security_id", "asset_class"]
    per = (
        lots.group_by(keys)
        .agg(
            pl.col("sold").sum().alias("q"),
            pl.col("price").first(),
            (pl.col("sold") * pl.col("gain_ps")).filter(~pl.col("long_term")).sum().alias("st"),
            (pl.col("sold") * pl.col("gain_ps")).filter(pl.col("long_term")).sum().alias("lt"),
            pl.col("tax_status").first(),
        )
        .join(settings.select("portfolio_id", "whole_shares"), on="portfolio_id")
        .join(
            dest.select("portfolio_id", "asset_class", pl.col("max_sell").cast(pl.Float64)),
            on=["portfolio_id", "asset_class"],
        )
    )
    held = lots.group_by(keys).agg(pl.col("lot_qty").sum().alias("held"))
    per = per.join(held, on=keys).with_columns(
        pl.min_horizontal(_round(pl.col("q"), up=True).cast(pl.Float64), pl.col("held")).alias(
            "up"
        ),
        _round(pl.col("q"), up=False).cast(pl.Float64).alias("down"),
    )
    over = (pl.col("up") * pl.col("price")).sum().over("portfolio_id", "asset_class") > pl.col(
        "max_sell"
    ) + 1e-6
    qty = pl.when(over).then(pl.col("down")).otherwise(pl.col("up"))
    per = per.with_columns(qty.cast(pl.Decimal(38, 6)).alias("quantity")).filter(
        pl.col("quantity") > 0
    )
    relief = _relief(sol, per.select(*keys, "quantity"))
    zero = pl.lit(0).cast(GAIN)
    gains = relief.group_by(keys).agg(
        pl.when(pl.col("long_term")).then(zero).otherwise(pl.col("gain")).sum().alias("gst"),
        pl.when(pl.col("long_term")).then(pl.col("gain")).otherwise(zero).sum().alias("glt"),
        pl.col("relieved").filter(pl.col("lot_id").is_not_null()).sum().alias("covered"),
        (pl.col("lot_id").is_null() & pl.col("taxable")).any().alias("uncovered"),
    )
    return (
        per.join(gains, on=keys, how="left")
        .with_columns(
            # as lots.annotate_trades: no estimate when the lots do not cover the sale
            pl.when(pl.col("uncovered")).then(None).otherwise(pl.col(c).fill_null(zero)).alias(c)
            for c in ("gst", "glt")
        )
        .with_columns(pl.lit("sell").alias("side"))
        .drop("tax_status")
    ), relief


def _relief(sol: pl.DataFrame, sold: pl.DataFrame) -> pl.DataFrame:
    """The rounded quantity of each holding relieved from its lots in the LP's order (least tax
    per dollar first, which is exactly the order the LP fills one holding's lots in), with exact
    decimal gains: proceeds at the price less the lot's cost pro rata. Tax-advantaged: 0."""
    keys = ["portfolio_id", "account_id", "security_id", "asset_class"]
    q = pl.col("lot_dec").cast(GAIN)
    frame = (
        sol.filter(pl.col("kind") == "sell")
        .join(sold, on=keys)
        .sort(*keys, "tax_rate", "lot_id", nulls_last=True)
        .with_columns((q.cum_sum() - q).over(keys).alias("before"))
        .with_columns(
            pl.min_horizontal(
                q, pl.max_horizontal(pl.col("quantity").cast(GAIN) - pl.col("before"), 0)
            ).alias("relieved")
        )
        .filter(pl.col("relieved") > 0)
    )
    gain = pl.col("relieved") * pl.col("price_dec") - pl.col("cost_dec") * pl.col("relieved") / q
    return frame.select(
        *keys,
        "lot_id",
        "acquired_date",
        "long_term",
        (pl.col("tax_status") == "taxable").alias("taxable"),
        pl.col("relieved").cast(pl.Decimal(38, 6)),
        pl.when(pl.col("tax_status") == "taxable").then(gain).otherwise(0).cast(GAIN).alias("gain"),
    )


def _buy_trades(
    sol: pl.DataFrame, settings: pl.DataFrame, funds: pl.DataFrame, cost_rate: pl.DataFrame
) -> pl.DataFrame:
    """Buys rounded down, scaled down per account until its funds pay for them and costs."""
    keys = ["portfolio_id", "account_id"]
    buys = (
        sol.filter((pl.col("kind") == "buy") & (pl.col("x") > 1e-9))
        .select(
            *keys,
            "security_id",
            "asset_class",
            "price",
            (pl.col("x") * pl.col("T")).alias("want"),
            "cost_rate",
        )
        .join(funds, on=keys, how="left")
        .with_columns(pl.col("funds").fill_null(0.0))
        .with_columns((pl.col("want") * (1 + pl.col("cost_rate"))).sum().over(keys).alias("gross"))
        .with_columns(
            pl.when(pl.col("gross") > pl.col("funds"))
            .then(pl.max_horizontal(pl.col("funds"), pl.lit(0.0)) / pl.col("gross"))
            .otherwise(1.0)
            .alias("scale")
        )
        .join(settings.select("portfolio_id", "whole_shares"), on="portfolio_id")
    )
    qty = _round(pl.col("want") * pl.col("scale") / pl.col("price") * (1 - 1e-12), up=False)
    return (
        buys.with_columns(qty.alias("quantity"))
        .filter(pl.col("quantity") > 0)
        .with_columns(
            pl.lit("buy").alias("side"),
            pl.lit(0).cast(GAIN).alias("gst"),
            pl.lit(0).cast(GAIN).alias("glt"),
        )
        .drop("cost_rate")
    )


def _reason(side: str) -> pl.Expr:
    weight = hp.pct(pl.col("weight"))
    dest = hp.pct(pl.col("dest") / pl.col("total_after_flows"))
    where = (
        pl.format(
            "; {} account, lots chosen for least tax", pl.col("tax_status").str.replace("_", "-")
        )
        if side == "sell"
        else pl.lit("; paid from this account's own cash and sales")
    )
    return pl.format(
        "optimiser: {} at {} (target {}, band {}–{}): {} toward {}{}",
        pl.col("asset_class"),
        weight,
        hp.pct(pl.col("target")),
        hp.pct(pl.col("lower")),
        hp.pct(pl.col("upper")),
        pl.lit(side),
        dest,
        where,
    )


TRADE_COLUMNS = [
    "portfolio_id",
    "account_id",
    "security_id",
    "asset_class",
    "side",
    "quantity",
    "price",
    "reason",
    "amount",
    "estimated_cost",
]


def _finish(
    trades: pl.DataFrame, dest: pl.DataFrame, settings: pl.DataFrame, accounts: pl.DataFrame
) -> pl.DataFrame:
    """Reasons, gains and estimated tax, in the heuristic's column order plus the lot gains."""
    info = dest.select(
        "portfolio_id",
        "asset_class",
        "weight",
        "target",
        "lower",
        "upper",
        "dest",
        "total_after_flows",
    )
    rates = settings.select("portfolio_id", "short_term_rate", "long_term_rate")
    st, lt = pl.col("gst").cast(GAIN), pl.col("glt").cast(GAIN)
    return (
        trades.drop("tax_status", strict=False)
        .join(info, on=["portfolio_id", "asset_class"], how="left")
        .join(
            accounts.select("portfolio_id", "account_id", "tax_status"),
            on=["portfolio_id", "account_id"],
        )
        .join(rates, on="portfolio_id")
        .with_columns(
            pl.when(pl.col("side") == "sell")
            .then(_reason("sell"))
            .otherwise(_reason("buy"))
            .alias("reason"),
            st.alias("realized_gain_short_term"),
            lt.alias("realized_gain_long_term"),
            (st * pl.col("short_term_rate") + lt * pl.col("long_term_rate"))
            .cast(GAIN)
            .alias("estimated_tax"),
            pl.col("side").replace_strict({"sell": 0, "buy": 1}).alias("side_order"),
        )
        .sort("portfolio_id", "side_order", "account_id", "security_id")
        .select(
            *TRADE_COLUMNS,
            "realized_gain_short_term",
            "realized_gain_long_term",
            "estimated_tax",
        )
    )


def relieved_lots(trades: pl.DataFrame, lot_sales: pl.DataFrame) -> pl.DataFrame:
    """``lot_sales`` in the shape of ``lots.relieve`` (trade_id = the sell's row index in
    ``trades``; taxable lots only), for ``wash_sales.check_proposal``."""
    keys = ["portfolio_id", "account_id", "security_id"]
    ids = (
        trades.with_row_index("trade_id")
        .filter(pl.col("side") == "sell")
        .select("trade_id", *keys, "price")
    )
    return lot_sales.filter(pl.col("taxable") & pl.col("lot_id").is_not_null()).join(ids, on=keys)


# --- entry point ----------------------------------------------------------------------------


def _needs_lp(
    dest: pl.DataFrame, accounts: pl.DataFrame, holdings: pl.DataFrame, lots: pl.DataFrame
) -> pl.DataFrame:
    """Portfolios to optimise: traded and not a single tax-advantaged account without lots."""
    shape = accounts.group_by("portfolio_id").agg(
        pl.len().alias("n"), (pl.col("tax_status") == "taxable").any().alias("taxable")
    )
    with_lots = (
        holdings.select("portfolio_id", "account_id")
        .unique()
        .join(lots.select("account_id").unique(), on="account_id", how="semi")
        .select("portfolio_id")
        .unique()
        .with_columns(pl.lit(True).alias("lots"))
    )
    return (
        dest.select("portfolio_id")
        .unique()
        .join(shape, on="portfolio_id", how="left")
        .join(with_lots, on="portfolio_id", how="left")
        .filter(
            (pl.col("n") > 1) | pl.col("taxable").fill_null(False) | pl.col("lots").fill_null(False)
        )
        .select("portfolio_id")
    )


def _empty_flows() -> pl.DataFrame:
    return pl.DataFrame(schema={"portfolio_id": pl.String, "account_id": pl.String, "planned": AMT})


def _empty_lots() -> pl.DataFrame:
    return pl.DataFrame(schema=lots_mod.LOT_SCHEMA)


def optimise(
    alloc: pl.DataFrame,
    holdings: pl.DataFrame,
    lots: pl.DataFrame | None,
    settings: pl.DataFrame,
    accounts: pl.DataFrame,
    candidates: pl.DataFrame,
    restrictions: pl.DataFrame,
    costs: pl.DataFrame,
    flows: pl.DataFrame | None = None,
    as_of: dt.date | None = None,
    *,
    workers: int | None = None,
    washing: pl.DataFrame | None = None,
    check_bands: bool = True,
) -> OptimisedProposal:
    """Trades that minimise tax + costs + λ·drift for every portfolio the heuristic would trade.

    Arguments as :func:`ballast.trading.heuristic.propose`, plus ``lots`` (account_id, security_id,
    lot_id, acquired_date, quantity, cost_basis), the sale date ``as_of`` and ``washing``
    (``wash_sales.recent_purchases``: loss lots of these are not sold under ``wash_sale:
    block``). Trades carry realised gains and estimated tax from the lots the optimiser chose
    (do not run ``lots.annotate_trades`` over them); ``lot_sales`` lists those lots.
    """
    flows = _empty_flows() if flows is None else flows
    lots = _empty_lots() if lots is None else lots
    as_of = as_of or dt.date.today()
    cash = _cash(accounts, holdings, settings, flows)
    dest = hp.destinations(alloc, settings, cash)
    lp_pids = _needs_lp(dest, accounts, holdings, lots)
    rest = alloc.select("portfolio_id").unique().join(lp_pids, on="portfolio_id", how="anti")
    fast = _annotated(
        hp.propose(
            *_only_frames(rest, alloc, holdings, settings, accounts),
            candidates,
            restrictions,
            costs,
            flows,
            check_bands=check_bands,
        )
    )
    if lp_pids.is_empty():
        return fast
    opt = _optimise_lp(
        _only_frames(lp_pids, alloc, holdings, accounts, settings, flows),
        lots,
        candidates,
        restrictions,
        costs,
        as_of,
        workers,
        washing,
        check_bands,
    )
    return OptimisedProposal(
        trades=pl.concat([fast.trades, opt.trades], how="vertical_relaxed"),
        classes=pl.concat([fast.classes, opt.classes], how="diagonal_relaxed"),
        warnings=pl.concat([fast.warnings, opt.warnings], how="vertical_relaxed"),
        lot_sales=opt.lot_sales,
    )


def _annotated(prop: Proposal) -> OptimisedProposal:
    """Fast-path trades realise nothing taxable (tax-advantaged accounts only)."""
    zero = pl.lit(0).cast(GAIN)
    trades = prop.trades.with_columns(
        zero.alias("realized_gain_short_term"),
        zero.alias("realized_gain_long_term"),
        zero.alias("estimated_tax"),
    )
    return OptimisedProposal(trades, prop.classes, prop.warnings, lot_sales=_no_lot_sales())


def _no_lot_sales() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "portfolio_id": pl.String,
            "account_id": pl.String,
            "security_id": pl.String,
            "asset_class": pl.String,
            "lot_id": pl.String,
            "acquired_date": pl.Date,
            "long_term": pl.Boolean,
            "taxable": pl.Boolean,
            "relieved": pl.Decimal(38, 6),
            "gain": GAIN,
        }
    )


def _only_frames(pids: pl.DataFrame, *frames: pl.DataFrame) -> tuple[pl.DataFrame, ...]:
    return tuple(f.join(pids, on="portfolio_id", how="semi") for f in frames)


def _optimise_lp(
    frames: tuple[pl.DataFrame, ...],
    lots: pl.DataFrame,
    candidates: pl.DataFrame,
    restrictions: pl.DataFrame,
    costs: pl.DataFrame,
    as_of: dt.date,
    workers: int | None,
    washing: pl.DataFrame | None,
    check_bands: bool,
) -> OptimisedProposal:
    alloc, holdings, accounts, settings, flows = frames
    cash = _cash(accounts, holdings, settings, flows)
    dest = hp.destinations(alloc, settings, cash)
    totals = dest.group_by("portfolio_id").agg(
        pl.col("total_after_flows").first().cast(pl.Float64).alias("T")
    )
    cash = (
        cash.join(totals, on="portfolio_id")
        .sort("portfolio_id", "account_order", "account_id")
        .with_columns(pl.int_range(pl.len()).over("portfolio_id").alias("aidx"))
    )
    classes = _classes(dest)
    cost_rate = costs.select(
        "portfolio_id",
        "asset_class",
        (pl.col("cost_bp").cast(pl.Float64) / 10_000).alias("cost_rate"),
    )
    lot_rows = _sell_vars(dest, holdings, lots, settings, restrictions, as_of, washing)
    sells = lot_rows.filter(pl.col("held").is_null())
    buys = _buy_vars(dest, holdings, candidates, restrictions, accounts)
    whole = settings.filter(pl.col("whole_shares")).select("portfolio_id")
    variables = _variables(
        sells, buys, classes, cash, cost_rate, whole, _minimums(holdings, settings, totals)
    )
    pids = totals["portfolio_id"].sort().to_list()
    lps = _programmes(variables, classes, cash, pids)
    xs = solve_all(lps, workers)
    failed = [p for p, x in zip(pids, xs, strict=True) if np.isnan(x).any()]
    sol = variables.sort("portfolio_id", "col").with_columns(
        pl.Series("x", np.concatenate(xs) if xs else np.zeros(0), dtype=pl.Float64).fill_nan(0.0)
    )
    prop = _to_proposal(
        sol, dest, alloc, holdings, cash, settings, accounts, costs, classes, check_bands
    )
    failures = pl.DataFrame(
        {"portfolio_id": failed, "message": "the optimiser found no solution: no trades proposed"},
        schema={"portfolio_id": pl.String, "message": pl.String},
    )
    warnings = pl.concat([prop.warnings, _held_warnings(lot_rows, dest), failures])
    return OptimisedProposal(prop.trades, prop.classes, warnings, lot_sales=prop.lot_sales)


def _to_proposal(
    sol: pl.DataFrame,
    dest: pl.DataFrame,
    alloc: pl.DataFrame,
    holdings: pl.DataFrame,
    cash: pl.DataFrame,
    settings: pl.DataFrame,
    accounts: pl.DataFrame,
    costs: pl.DataFrame,
    classes: pl.DataFrame,
    check_bands: bool = True,
) -> OptimisedProposal:
    """Round, drop small trades, fund buys, and report as the heuristic does."""
    account_values = holdings.group_by("portfolio_id", "account_id").agg(
        pl.col("market_value").sum().cast(AMT).alias("account_value")
    )
    drop = ["cost_rate", "min_trade", "min_trade_pct"]
    sold, relief = _sell_trades(sol, dest, settings)
    sells = hp.priced(sold, costs, settings)
    sells, small_sells = hp.min_trade_filter(sells, account_values)
    keys = ["portfolio_id", "account_id"]
    funds = (
        cash.select(*keys, "idle_cash")
        .join(
            sells.group_by(keys).agg(
                (pl.col("amount") - pl.col("estimated_cost")).sum().alias("proceeds")
            ),
            on=keys,
            how="left",
        )
        .select(
            *keys,
            (pl.col("idle_cash") + pl.col("proceeds").fill_null(0)).cast(pl.Float64).alias("funds"),
        )
    )
    buys = hp.priced(_buy_trades(sol, settings, funds, _float_costs(costs)), costs, settings)
    buys, small_buys = hp.min_trade_filter(buys, account_values)
    buys = _within_funds(buys, funds)
    common = [*TRADE_COLUMNS[:5], "quantity", "price", "amount", "estimated_cost", "gst", "glt"]
    sells = sells.with_columns(pl.col("uncovered").fill_null(False))
    raw = pl.concat(
        [
            sells.drop(drop, strict=False).select(common),
            buys.drop(drop, strict=False).select(common),
        ]
    ).with_columns(pl.lit("").alias("reason"))
    trades = _finish(raw, dest, settings, accounts)
    post = post_trade.post_trade(alloc, dest, trades, cash)
    warnings = pl.concat(
        [
            small_sells,
            small_buys,
            hp.unfunded(
                dest.filter((pl.col("class_trade") > 0) & (pl.col("asset_class") != CASH_CLASS)),
                sol.filter(pl.col("kind") == "buy").select("portfolio_id", "asset_class").unique(),
            ),
            post_trade.outside_bands(post) if check_bands else small_sells.clear(),
            post_trade.short_accounts(cash, trades),
            lots_mod.uncovered_warnings(sells.filter(pl.col("uncovered"))),
        ]
    )
    kept = sells.select("portfolio_id", "account_id", "security_id")
    lot_sales = relief.join(kept, on=["portfolio_id", "account_id", "security_id"], how="semi")
    return OptimisedProposal(trades, post, warnings, lot_sales=lot_sales)


def _float_costs(costs: pl.DataFrame) -> pl.DataFrame:
    return costs.select(
        "portfolio_id",
        "asset_class",
        (pl.col("cost_bp").cast(pl.Float64) / 10_000).alias("cost_rate"),
    )


def _within_funds(buys: pl.DataFrame, funds: pl.DataFrame) -> pl.DataFrame:
    """Take whole units off an account's largest buy while exact (decimal) spending exceeds its
    funds: float rounding in the LP can leave a cent over."""
    keys = ["portfolio_id", "account_id"]
    f = funds.with_columns(pl.col("funds").cast(AMT))
    frame = buys.join(f, on=keys, how="left").with_columns(
        pl.col("funds").fill_null(pl.lit(0).cast(AMT)), pl.col("cost_rate").cast(AMT)
    )
    spend = pl.col("quantity") * pl.col("price") * (1 + pl.col("cost_rate"))
    unit = pl.when(pl.col("whole_shares")).then(1).otherwise(pl.lit(1 / UNIT)).cast(AMT)
    over = (spend.sum().over(keys) - pl.col("funds")).alias("over")
    largest = spend == spend.max().over(keys)
    cut = (pl.col("over") / (pl.col("price") * (1 + pl.col("cost_rate"))) / unit).ceil() * unit
    frame = frame.with_columns(over, largest.alias("largest")).with_columns(
        pl.col("largest") & (pl.col("largest").cum_sum().over(keys) == 1)
    )
    qty = pl.when(pl.col("largest") & (pl.col("over") > 0)).then(pl.col("quantity") - cut)
    return (
        frame.with_columns(
            qty.otherwise(pl.col("quantity")).cast(pl.Decimal(38, 6)).alias("quantity")
        )
        .filter(pl.col("quantity") > 0)
        .with_columns(
            (pl.col("quantity") * pl.col("price")).cast(AMT).alias("amount"),
        )
        .with_columns((pl.col("amount") * pl.col("cost_rate")).cast(AMT).alias("estimated_cost"))
        .drop("funds", "over", "largest")
    )
