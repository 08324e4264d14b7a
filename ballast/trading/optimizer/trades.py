"""From a solution to trades: quantities rounded, lots relieved, minimums and funds applied, the
proposal's frames built as the heuristic builds them."""

from __future__ import annotations

import polars as pl

from ballast.kinds import CASH_CLASS
from ballast.portfolio.text import text
from ballast.trading import heuristic, post_trade
from ballast.trading.lots import GAIN, account_rates, uncovered_warnings
from ballast.trading.optimizer import weights
from ballast.trading.proposal import AMT, OptimisedProposal, pct
from ballast.trading.sizing import min_trade_filter, priced


def _round(qty: pl.Expr, up: bool) -> pl.Expr:
    """Whole shares, or 6 decimals with fractional trading; tolerant of solver noise."""
    scale = pl.when(pl.col("whole_shares")).then(1.0).otherwise(float(weights.UNIT))
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
    """The rounded quantity of each holding relieved from its lots in the LP's order (a purchased
    lot sold whole to clear a wash sale first; under a gains budget the lots the LP sold, most
    filled first (``fill``: minus the fraction sold); then least tax per dollar first, which is
    exactly the order the LP fills one holding's lots in), with exact
    decimal gains: proceeds at the price less the lot's cost pro rata. Tax-advantaged: 0."""
    keys = ["portfolio_id", "account_id", "security_id", "asset_class"]
    q = pl.col("lot_dec").cast(GAIN)
    sells = sol.filter(pl.col("kind") == "sell")
    if "wash_role" not in sells.columns:
        sells = sells.with_columns(pl.lit(None, pl.String).alias("wash_role"))
    if "fill" not in sells.columns:
        sells = sells.with_columns(pl.lit(0.0).alias("fill"))
    # a purchased lot the LP sells whole to clear a wash sale goes first (it must be relieved
    # whole for the loss lots to be allowed); the rest in the LP's order
    whole_recent = pl.col("wash_role").is_in(["recent", "recent_loss"]) & (
        pl.col("x") >= pl.col("ub") - 1e-9
    )
    frame = (
        sells.with_columns((~whole_recent.fill_null(False)).alias("_after"))
        .join(sold, on=keys)
        .sort(*keys, "_after", "fill", "tax_rate", "lot_id", nulls_last=True)
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
    weight = pct(pl.col("weight"))
    dest = pct(pl.col("dest") / pl.col("total_after_flows"))
    where = (
        text("; {} account, lots chosen for least tax", pl.col("tax_status").str.replace("_", "-"))
        if side == "sell"
        else pl.lit("; paid from this account's own cash and sales")
    )
    return text(
        "optimiser: {} at {} (target {}, band {}–{}): {} toward {}{}",
        pl.col("asset_class"),
        weight,
        pct(pl.col("target")),
        pct(pl.col("lower")),
        pct(pl.col("upper")),
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
    rates = account_rates(settings, accounts)
    st, lt = pl.col("gst").cast(GAIN), pl.col("glt").cast(GAIN)
    return (
        trades.drop("tax_status", strict=False)
        .join(info, on=["portfolio_id", "asset_class"], how="left")
        .join(
            accounts.select("portfolio_id", "account_id", "tax_status"),
            on=["portfolio_id", "account_id"],
        )
        .join(rates, on=["portfolio_id", "account_id"])
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


def to_proposal(
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
    sells = priced(sold, costs, settings)
    sells, small_sells = min_trade_filter(sells, account_values)
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
    buys = priced(_buy_trades(sol, settings, funds, _float_costs(costs)), costs, settings)
    buys, small_buys = min_trade_filter(buys, account_values)
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
            heuristic.unfunded(
                dest.filter((pl.col("class_trade") > 0) & (pl.col("asset_class") != CASH_CLASS)),
                sol.filter(pl.col("kind") == "buy").select("portfolio_id", "asset_class").unique(),
            ),
            post_trade.outside_bands(post) if check_bands else small_sells.clear(),
            post_trade.short_accounts(cash, trades),
            uncovered_warnings(sells.filter(pl.col("uncovered"))),
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
    unit = pl.when(pl.col("whole_shares")).then(1).otherwise(pl.lit(1 / weights.UNIT)).cast(AMT)
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
