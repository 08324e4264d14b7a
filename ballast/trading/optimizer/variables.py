"""The optimiser's variables: sell amounts per (account, lot), buy amounts per (account, class
vehicle), integer share counts and minimum-trade switches, as flat Polars frames."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from ballast.kinds import CASH_CLASS, CASH_SECURITY
from ballast.portfolio.text import text
from ballast.trading import heuristic
from ballast.trading.lots import (
    GAIN,
    TIER_FREE,
    TIER_HELD,
    TIER_SHORT_TERM,
    held_back_warnings,
    is_long_term,
    tier,
    turns_long_term,
)
from ballast.trading.optimizer import weights
from ballast.trading.proposal import TAX_PREFERENCE


def class_rows(dest: pl.DataFrame) -> pl.DataFrame:
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


def sell_variables(
    dest: pl.DataFrame,
    holdings: pl.DataFrame,
    lots: pl.DataFrame,
    settings: pl.DataFrame,
    restrictions: pl.DataFrame,
    as_of: dt.date,
    washing: pl.DataFrame | None = None,
    removable: pl.DataFrame | None = None,
    rates: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """One row per (account, lot) of every holding in a class that sells (its gains taxed at
    ``rates``, ``lots.account_rates``: the IPS's rates when not given). Tax-advantaged
    holdings are one lot with no gain; taxable quantity no lot covers is a zero-basis,
    short-term lot (the worst case, so the optimiser avoids selling what it cannot price).

    ``held`` says why a lot may not be sold (null: it may): ``short_term_wait`` for a
    short-term gain lot about to turn long-term (``lots.sell_tiers``), ``wash_sale`` for a loss
    lot of a portfolio with ``wash_sale: block`` whose security (or identical group) the
    household bought in the last 30 days (``washing``: portfolio_id, security_id, from
    ``wash_sales.recent_purchases``). Under ``warn`` such a loss earns no tax credit.

    ``removable`` (``wash_sales.removable_keys`` of ``block`` portfolios: purchases of the last
    30 days still held whole as lots): a loss sale of such a key is no wash sale when those
    lots are sold whole with it. ``wash_key`` names the key and ``wash_role`` the lot's part
    in the switch ``programme`` adds per key (``all_variables``: kind ``wash``): ``recent``
    (the purchased lot: sold whole when the switch is on), ``loss`` (a loss lot of the key:
    sold only when it is on) or ``recent_loss`` (both: all or nothing). A key whose purchased
    lot has no sell variable (its class does not sell, or ``do_not_sell``) cannot be cleared:
    its loss lots are held back (``wash_sale``)."""
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
                "portfolio_id", "avoid_short_term_gains", "short_term_wait_days", "wash_sale"
            ),
            on="portfolio_id",
        )
        .join(
            (rates if rates is not None else _portfolio_rates(settings, holdings)).select(
                "portfolio_id",
                "account_id",
                pl.col("short_term_rate").cast(pl.Float64).alias("st"),
                pl.col("long_term_rate").cast(pl.Float64).alias("lt"),
            ),
            on=["portfolio_id", "account_id"],
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
    tier_expr = pl.when(is_lot).then(
        tier(
            pl.col("avoid_short_term_gains"),
            pl.col("short_term_wait_days"),
            pl.col("acquired_date"),
            pl.col("gain_ps"),
            pl.lit(as_of),
        )
    )
    frame = _wash_roles(frame, removable)
    return (
        frame.join(
            washing.select("portfolio_id", "security_id", pl.lit(True).alias("_washing")),
            on=["portfolio_id", "security_id"],
            how="left",
        )
        .with_columns(pl.col("_washing") | pl.col("_stuck"))
        .with_columns(tier_expr.otherwise(TIER_FREE).alias("tier"), washed.alias("washed"))
        .with_columns(
            pl.when(pl.col("tier") == TIER_HELD)
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
                .otherwise(weights.LOSS_CREDIT)
                + pl.when(pl.col("tier") == TIER_SHORT_TERM)
                .then(weights.AVOID_SHORT_TERM_PENALTY)
                .otherwise(0.0)
            ).alias("tax_rate"),
            # realised gain per dollar sold, for the gains budget (a washed loss is no loss)
            pl.when(pl.col("washed") & (pl.col("gain_ps") < 0))
            .then(0.0)
            .otherwise(pl.col("gain_ps") / pl.col("price"))
            .alias("gain_rate"),
            pl.lit("sell").alias("kind"),
        )
        .drop("_washing", "_stuck", "avoid_short_term_gains", "short_term_wait_days", "wash_sale")
        .sort("portfolio_id", "account_id", "security_id", "lot_id", nulls_last=True)
    )


def _portfolio_rates(settings: pl.DataFrame, holdings: pl.DataFrame) -> pl.DataFrame:
    """Every held account at its portfolio's rates (no account rates given)."""
    return (
        holdings.select("portfolio_id", "account_id")
        .unique()
        .join(
            settings.select("portfolio_id", "short_term_rate", "long_term_rate"), on="portfolio_id"
        )
    )


def _wash_roles(frame: pl.DataFrame, removable: pl.DataFrame | None) -> pl.DataFrame:
    """``wash_key`` and ``wash_role`` per lot row (see ``sell_variables``), and ``_stuck``: a
    loss lot of a key whose purchased lots cannot all be sold (held back instead)."""
    none = pl.lit(None, pl.String)
    if removable is None or removable.is_empty():
        return frame.with_columns(
            none.alias("wash_key"),
            none.alias("wash_role"),
            pl.lit(None, pl.Boolean).alias("_stuck"),
        )
    lot_keys = ["portfolio_id", "account_id", "security_id", "acquired_date"]
    keyed = removable.select("portfolio_id", "security_id", "key").unique()
    recent = removable.select(*lot_keys, pl.lit(True).alias("_recent"))
    is_lot = pl.col("lot_id").is_not_null() & (pl.col("tax_status") == "taxable")
    frame = (
        frame.join(keyed, on=["portfolio_id", "security_id"], how="left")
        .join(recent, on=lot_keys, how="left")
        .with_columns((pl.col("_recent").fill_null(False) & is_lot).alias("_recent"))
    )
    found = frame.filter(pl.col("_recent")).select(*lot_keys).unique()
    stuck = removable.join(found, on=lot_keys, how="anti").select("portfolio_id", "key").unique()
    loss = is_lot & (pl.col("gain_ps") < 0) & pl.col("key").is_not_null()
    role = (
        pl.when(pl.col("_recent") & loss)
        .then(pl.lit("recent_loss"))
        .when(pl.col("_recent"))
        .then(pl.lit("recent"))
        .when(loss)
        .then(pl.lit("loss"))
    )
    frame = frame.join(
        stuck.with_columns(pl.lit(True).alias("_stuck")), on=["portfolio_id", "key"], how="left"
    ).with_columns(pl.col("_stuck").fill_null(False) & loss)
    # a key with no loss lot to clear needs no switch
    with_loss = frame.filter(loss & ~pl.col("_stuck")).select("portfolio_id", "key").unique()
    frame = frame.join(
        with_loss.with_columns(pl.lit(True).alias("_clear")), on=["portfolio_id", "key"], how="left"
    )
    active = pl.col("_clear").fill_null(False) & ~pl.col("_stuck")
    return frame.with_columns(
        pl.when(active).then(pl.col("key")).alias("wash_key"),
        pl.when(active).then(role).alias("wash_role"),
    ).drop("key", "_recent", "_clear")


def minimum_trades(
    holdings: pl.DataFrame, settings: pl.DataFrame, totals: pl.DataFrame
) -> pl.DataFrame:
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


def held_warnings(rows: pl.DataFrame, dest: pl.DataFrame) -> pl.DataFrame:
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
        turns_long_term(pl.col("acquired_date")).alias("long_term_on"),
        pl.lit(TIER_HELD).alias("tier"),
    )
    washed = (
        held.filter(pl.col("held") == "wash_sale")
        .sort("portfolio_id", "account_id", "security_id", "lot_id")
        .select(
            "portfolio_id",
            text(
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
    return pl.concat([held_back_warnings(waiting, bound), washed])


def buy_variables(
    dest: pl.DataFrame,
    holdings: pl.DataFrame,
    candidates: pl.DataFrame,
    restrictions: pl.DataFrame,
    accounts: pl.DataFrame,
) -> pl.DataFrame:
    """One variable per (account, class that buys), on the heuristic's vehicle."""
    vehicles = heuristic.choose_vehicles(dest, holdings, candidates, restrictions)
    return (
        dest.filter((pl.col("class_trade") > 0) & (pl.col("asset_class") != CASH_CLASS))
        .select("portfolio_id", "asset_class")
        .join(vehicles, on=["portfolio_id", "asset_class"])
        .join(accounts.select("portfolio_id", "account_id", "tax_status"), on="portfolio_id")
        .with_columns(pl.col("price").cast(pl.Float64), pl.lit("buy").alias("kind"))
        .sort("portfolio_id", "account_id", "asset_class")
    )


def all_variables(
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
    rank = pl.col("tax_status").replace_strict(TAX_PREFERENCE, return_dtype=pl.Float64)
    cls = classes.select("portfolio_id", "asset_class", "cidx")

    def trade_vars(frame: pl.DataFrame, bound: pl.Expr, obj: pl.Expr, sign: float) -> pl.DataFrame:
        return (
            frame.join(acct, on=["portfolio_id", "account_id"])
            .join(cls, on=["portfolio_id", "asset_class"])
            .join(cost_rate, on=["portfolio_id", "asset_class"], how="left")
            .with_columns(pl.col("cost_rate").fill_null(0.0))
            .with_columns(
                bound.alias("ub"),
                (obj + pl.col("cost_rate") + weights.ACCOUNT_TIE_BREAK * rank).alias("obj"),
                (sign * (1 - sign * pl.col("cost_rate"))).alias("cash_coef"),
            )
        )

    s = trade_vars(sells, pl.col("lot_qty") * pl.col("price") / pl.col("T"), pl.col("tax_rate"), -1)
    b = trade_vars(buys, pl.lit(np.inf), pl.lit(0.0), 1)
    base = classes.select("portfolio_id", "asset_class", "cidx")
    dev = base.with_columns(pl.lit("dev").alias("kind"), pl.lit(weights.DRIFT_PENALTY).alias("obj"))
    band = base.with_columns(
        pl.lit("band").alias("kind"), pl.lit(weights.BAND_PENALTY).alias("obj")
    )
    short = acct.with_columns(
        pl.lit("short").alias("kind"),
        pl.lit(weights.SHORTFALL_PENALTY).alias("obj"),
        pl.max_horizontal(-pl.col("idle_f"), pl.lit(0.0)).alias("ub"),
        pl.lit(-1.0).alias("cash_coef"),
    )
    order = {"sell": 0, "buy": 1, "dev": 2, "band": 3, "short": 4, "int": 5, "bin": 6, "wash": 7}
    s, b, extra = _trade_groups(s, b, whole, minimums)
    s, switches = _wash_switches(s)
    return (
        pl.concat([s, b, dev, band, short, extra, switches], how="diagonal_relaxed")
        .with_columns(
            pl.col("ub").fill_null(np.inf),
            pl.col("kind").replace_strict(order, return_dtype=pl.Int8).alias("block"),
        )
        .sort("portfolio_id", "block", maintain_order=True)
        .with_columns(pl.int_range(pl.len()).over("portfolio_id").alias("col"))
    )


def _wash_switches(sells: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(sells with ``widx``, one binary per wash key: kind ``wash``): see ``sell_variables``."""
    if "wash_key" not in sells.columns:
        sells = sells.with_columns(pl.lit(None, pl.String).alias("wash_key"))
    keys = (
        sells.filter(pl.col("wash_key").is_not_null())
        .select("portfolio_id", "wash_key")
        .unique()
        .sort("portfolio_id", "wash_key")
        .with_columns(pl.int_range(pl.len()).over("portfolio_id").alias("widx"))
    )
    switches = keys.select(
        "portfolio_id",
        "widx",
        pl.lit("wash").alias("kind"),
        pl.lit(0.0).alias("obj"),
        pl.lit(1.0).alias("ub"),
    )
    return sells.join(keys, on=["portfolio_id", "wash_key"], how="left"), switches


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
        .otherwise(weights.BUY_CAP)
        .alias("cap"),
    )
    cols = ["portfolio_id", "kind", "obj", "ub", "gidx", "unit", "min_f", "cap"]
    tags = groups.select(*keys, "gidx", "g_whole", "g_min")
    return (
        s.join(tags, on=keys, how="left"),
        b.join(tags, on=keys, how="left"),
        pl.concat([counts, switches], how="diagonal_relaxed").select(cols),
    )
