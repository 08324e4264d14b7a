"""After the trades: class values and weights, classes still outside their bands, accounts
short of cash (pure Polars; shared by the heuristic, the optimiser and the wash-sale check)."""

from __future__ import annotations

import polars as pl

from ballast.kinds import CASH_CLASS
from ballast.portfolio.text import text

AMT = pl.Decimal(38, 12)
DERIVED = [
    "traded",
    "cash_change",
    "costs",
    "post_trade_value",
    "post_trade_weight",
    "post_trade_total",
]


FLOW_EFFECT_SCHEMA = pl.Schema(
    {
        "portfolio_id": pl.String(),
        "planned": AMT,
        "drift_before": AMT,
        "drift_after_flows": AMT,
        "drift_after_trades": AMT,
    }
)


def _pct(expr: pl.Expr) -> pl.Expr:
    return text("{}%", (expr * 100).cast(pl.Decimal(38, 2)))


def post_trade(
    alloc: pl.DataFrame, dest: pl.DataFrame, trades: pl.DataFrame, cash: pl.DataFrame
) -> pl.DataFrame:
    """Class values and weights after the trades and planned flows (costs leave the portfolio).

    ``alloc``: ``drift.allocation``; ``dest``: ``proposal.destinations``; ``cash``: per account,
    with the planned flows (``planned``)."""
    planned = cash.group_by("portfolio_id").agg(pl.col("planned").sum())
    frame = (
        alloc.join(planned, on="portfolio_id", how="left")
        .join(
            dest.select("portfolio_id", "asset_class", "dest"),
            on=["portfolio_id", "asset_class"],
            how="left",
        )
        .with_columns(pl.col("planned").fill_null(0).cast(AMT))
    )
    return revalue(frame, trades)


def revalue(classes: pl.DataFrame, trades: pl.DataFrame) -> pl.DataFrame:
    """``classes`` (from ``post_trade``) valued again after ``trades`` (e.g. once the wash-sale
    check has swapped or dropped some)."""
    signed = pl.when(pl.col("side") == "buy").then(pl.col("amount")).otherwise(-pl.col("amount"))
    by_class = trades.group_by("portfolio_id", "asset_class").agg(signed.sum().alias("traded"))
    cash_change = trades.group_by("portfolio_id").agg(
        (-signed - pl.col("estimated_cost")).sum().alias("cash_change"),
        pl.col("estimated_cost").sum().alias("costs"),
    )
    frame = (
        classes.drop(DERIVED, strict=False)
        .join(by_class, on=["portfolio_id", "asset_class"], how="left")
        .join(cash_change, on="portfolio_id", how="left")
        .with_columns(pl.col("traded", "cash_change", "costs").fill_null(0).cast(AMT))
    )
    post_value = (
        pl.col("market_value").cast(AMT)
        + pl.col("traded")
        + pl.when(pl.col("asset_class") == CASH_CLASS)
        .then(pl.col("cash_change") + pl.col("planned"))
        .otherwise(0)
    )
    post_total = pl.col("total_value").cast(AMT) + pl.col("planned") - pl.col("costs")
    return frame.with_columns(post_value.cast(AMT).alias("post_trade_value")).with_columns(
        pl.when(post_total > 0)
        .then(pl.col("post_trade_value").cast(pl.Decimal(38, 12)) / post_total)
        .alias("post_trade_weight"),
        post_total.alias("post_trade_total"),
    )


def short_accounts(cash: pl.DataFrame, trades: pl.DataFrame) -> pl.DataFrame:
    """Accounts that would end below zero cash (a planned withdrawal the sales cannot fund)."""
    signed = pl.when(pl.col("side") == "sell").then(pl.col("amount")).otherwise(-pl.col("amount"))
    moved = trades.group_by("portfolio_id", "account_id").agg(
        (signed - pl.col("estimated_cost")).sum().alias("moved")
    )
    end = cash.join(moved, on=["portfolio_id", "account_id"], how="left").with_columns(
        (pl.col("cash") + pl.col("moved").fill_null(0)).alias("end_cash")
    )
    return end.filter(pl.col("end_cash") < 0).select(
        "portfolio_id",
        text(
            "account {} would be {} short of cash after its planned flows and the "
            "trades: fund it by hand or move money into it",
            pl.col("account_id"),
            (-pl.col("end_cash")).cast(pl.Decimal(38, 2)),
        ).alias("message"),
    )


def outside_bands(classes: pl.DataFrame) -> pl.DataFrame:
    """Warn for every class still outside its band after the proposed trades."""
    total = pl.col("post_trade_total")
    value = pl.col("post_trade_value").cast(pl.Decimal(38, 12))
    outside = (
        pl.col("has_target")
        & pl.col("portfolio_breached")
        & ((value > pl.col("upper") * total) | (value < pl.col("lower") * total))
    )
    return classes.filter(outside).select(
        "portfolio_id",
        text(
            "{} would still be outside its band after the trades ({} against {}–{})",
            pl.col("asset_class"),
            _pct(pl.col("post_trade_weight")),
            _pct(pl.col("lower")),
            _pct(pl.col("upper")),
        ).alias("message"),
    )


def total_drift(weight: pl.Expr) -> pl.Expr:
    """Σ |weight − target| over the classes the IPS names, per portfolio (an aggregation)."""
    gap = (weight.cast(AMT) - pl.col("target").cast(AMT)).abs()
    return pl.when(pl.col("has_target")).then(gap).otherwise(0).sum().cast(AMT)


def flow_effect(
    alloc: pl.DataFrame, after_flows: pl.DataFrame, after_trades: pl.DataFrame
) -> pl.DataFrame:
    """How much of the drift the cash flows alone remove: total drift before, after the
    flow-only trades (``after_flows``: the classes of a ``flows_only`` proposal) and after the
    whole proposal (``after_trades``), for the portfolios in ``after_flows``."""
    keys = ["portfolio_id", "asset_class"]
    post = pl.col("post_trade_weight").fill_null(pl.col("weight"))
    flows = after_flows.group_by("portfolio_id").agg(
        pl.col("planned").first().cast(AMT), total_drift(post).alias("drift_after_flows")
    )
    before = alloc.group_by("portfolio_id").agg(total_drift(pl.col("weight")).alias("drift_before"))
    trades = (
        alloc.select(*keys, "weight", "target", "has_target")
        .join(after_trades.select(*keys, "post_trade_weight"), on=keys, how="left")
        .group_by("portfolio_id")
        .agg(total_drift(post).alias("drift_after_trades"))
    )
    return (
        flows.join(before, on="portfolio_id")
        .join(trades, on="portfolio_id")
        .select(list(FLOW_EFFECT_SCHEMA))
        .cast(FLOW_EFFECT_SCHEMA)
        .sort("portfolio_id")
    )
