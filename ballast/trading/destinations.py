"""Where each class should go: each account's cash and reserve, and the destination value and
trade amount per (portfolio, class) that both engines work toward (pure Polars)."""

from __future__ import annotations

import polars as pl

from ballast.kinds import CASH_CLASS, CASH_SECURITY
from ballast.portfolio.policy_frames import FRACTION
from ballast.trading.proposal import AMT, positive


def cash_frame(
    accounts: pl.DataFrame,
    holdings: pl.DataFrame,
    settings: pl.DataFrame,
    flows: pl.DataFrame | None,
) -> pl.DataFrame:
    """Per account: its cash (held plus planned flows), the reserve kept and the idle cash above
    it (``flows``: portfolio_id, account_id, planned; none means no planned flows)."""
    if flows is None:
        flows = pl.DataFrame(
            schema={"portfolio_id": pl.String, "account_id": pl.String, "planned": AMT}
        )
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
            pl.min_horizontal(positive(pl.col("cash")), pl.col("reserve").cast(AMT)).alias(
                "kept_cash"
            )
        )
        .with_columns((pl.col("cash") - pl.col("kept_cash")).alias("idle_cash"))
    )


def destinations(
    alloc: pl.DataFrame, settings: pl.DataFrame, cash: pl.DataFrame, *, flows_only: bool = False
) -> pl.DataFrame:
    """Destination value and trade amount per (portfolio, class) for every portfolio that is
    breached or has planned cash flows (a flow-only portfolio trades only what the flows need).

    ``flows_only``: what the cash flows alone would do (planned flows and idle cash above the
    reserve invested or raised, no other trade), for every portfolio with planned flows and
    every breached one with idle cash."""
    kept = cash.group_by("portfolio_id").agg(
        pl.col("kept_cash").sum(), pl.col("planned").sum(), pl.col("idle_cash").sum()
    )
    frame = (
        alloc.join(settings, on="portfolio_id", how="left")
        .join(kept, on="portfolio_id", how="left")
        .with_columns(
            pl.col("kept_cash", "planned", "idle_cash").fill_null(0),
            pl.col("market_value").cast(AMT),
        )
    )
    if flows_only:
        invests = pl.col("portfolio_breached") & (pl.col("idle_cash") > 0)
        frame = frame.filter((pl.col("planned") != 0) | invests).with_columns(
            pl.lit(False).alias("portfolio_breached"), pl.lit(False).alias("breached")
        )
    else:
        frame = frame.filter(pl.col("portfolio_breached") | (pl.col("planned") != 0))
    frame = frame.drop("idle_cash").with_columns(
        (pl.col("total_value") + pl.col("planned")).cast(AMT).alias("total_after_flows")
    )
    v, t, total = pl.col("market_value"), pl.col("target"), pl.col("total_after_flows")
    unplanned = ~pl.col("has_target") & (pl.col("asset_class") != CASH_CLASS)
    untargeted = pl.when(unplanned).then(v).otherwise(0).sum().over("portfolio_id")
    base = (
        total
        - untargeted
        - pl.when(pl.col("cash_has_target")).then(0).otherwise(pl.col("kept_cash"))
    ).cast(AMT)
    edge = (
        pl.when(pl.col("weight") > pl.col("upper")).then(pl.col("upper")).otherwise(pl.col("lower"))
    )
    dest_weight = (
        pl.when(pl.col("rebalance_to") == "band_edge")
        .then(edge)
        .when(pl.col("rebalance_to") == "halfway")
        .then((t + edge) / 2)
        .otherwise(t)
    )
    # a portfolio that is not breached only invests or raises its planned flows
    mode_all = (pl.col("trade_classes") == "all") & pl.col("portfolio_breached")
    frame = frame.with_columns(base.alias("base")).with_columns(
        pl.when(~pl.col("has_target"))
        .then(v)
        .when(pl.col("breached"))
        .then(dest_weight * pl.col("base"))
        .when(mode_all)
        .then(t * pl.col("base"))
        .otherwise(v)
        .cast(AMT)
        .alias("dest0"),
    )
    targeted = pl.col("has_target")
    absorbers = targeted & ~pl.col("breached")
    any_absorber = absorbers.any().over("portfolio_id")
    absorber = pl.when(any_absorber).then(absorbers).otherwise(targeted)
    frame = frame.with_columns(
        (
            pl.col("base")
            - pl.when(targeted).then(pl.col("dest0")).otherwise(0).sum().over("portfolio_id")
        ).alias("residual"),
        absorber.alias("absorber"),
    )
    delta, goal = pl.col("residual"), (t * pl.col("base")).cast(AMT)
    cap = (
        pl.when(~pl.col("absorber") | mode_all)
        .then(0)
        .when(delta > 0)
        .then(positive(goal - v))
        .otherwise(positive(v - goal))
    ).cast(AMT)
    frame = frame.with_columns(cap.alias("cap")).with_columns(
        pl.col("cap").sum().over("portfolio_id").alias("cap_total")
    )
    stage1 = (
        pl.when(pl.col("cap_total") > 0)
        .then(
            pl.min_horizontal(delta.abs(), pl.col("cap_total"))
            * pl.col("cap")
            / pl.col("cap_total")
        )
        .otherwise(0)
    )
    stage1 = pl.when(delta < 0).then(-stage1).otherwise(stage1).cast(AMT)
    frame = frame.with_columns(stage1.alias("stage1")).with_columns(
        (delta - pl.col("stage1").sum().over("portfolio_id")).alias("rest"),
        pl.when(pl.col("absorber")).then(t).otherwise(0).cast(FRACTION).alias("w2"),
    )
    w2_total = pl.col("w2").sum().over("portfolio_id")
    stage2 = pl.when(w2_total > 0).then(pl.col("rest") * pl.col("w2") / w2_total).otherwise(0)
    # a class may only move toward its target, and not past its mirror image: no class ever
    # ends further from target than it started (what the clip withholds stays in cash)
    mirror = 2 * (t * total).cast(AMT) - v
    lo, hi = pl.min_horizontal(v, mirror), pl.max_horizontal(v, mirror)
    raw = (pl.col("dest0") + pl.col("stage1") + stage2.cast(AMT)).cast(AMT)
    return frame.with_columns(
        pl.when(targeted)
        .then(pl.min_horizontal(pl.max_horizontal(raw, lo), hi))
        .otherwise(raw)
        .cast(AMT)
        .alias("dest"),
    ).with_columns(
        (pl.col("dest") - v).alias("class_trade"),
        # the most a class may sell, rounding included, without passing its mirror image
        pl.when(targeted).then(v - lo).otherwise(0).cast(AMT).alias("max_sell"),
    )
