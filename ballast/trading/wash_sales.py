"""Wash sales across the household (26 U.S.C. § 1091), as pure Polars.

A loss on a taxable sale is disallowed when substantially identical securities (the same
security, or one of the same non-null ``identical_group``) are bought within 30 days before or
after it (a 61-day window) in any account of the same portfolio (the household). Replacement
shares are matched to sold shares in date order, quantity for quantity, so a partial repurchase
disallows ``loss × matched / sold``. The disallowed loss is added to the replacement shares' basis
and the sold lot's holding period is added to theirs; when the replacement is in a tax-deferred or
tax-exempt account the loss is disallowed with no basis adjustment (Rev. Rul. 2008-5: lost for
good). IRS Publication 550: buy 100 for $1,000, sell for $750, buy 100 for $800 within 30 days:
$250 disallowed, new basis $1,050.

For a proposal, every sale is on the review date: the window's past half is the household's
BUY and REINVEST transactions of the last 30 days, its future half the proposal's own buys.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from ballast.portfolio.policy import Policy
from ballast.trading import lots
from ballast.trading.identical import match_key
from ballast.trading.sizing import round_quantity
from ballast.trading.wash_sale_findings import (
    block_findings,
    scale_findings,
    swap_findings,
    warn_findings,
)

GAIN = lots.GAIN
WINDOW_DAYS = 30
PURCHASES = ("BUY", "REINVEST")
TAXABLE = "taxable"
WASH_SETTINGS_SCHEMA = {
    "portfolio_id": pl.String,
    "wash_sale": pl.String,
    "whole_shares": pl.Boolean,
}


def wash_settings(policies: list[Policy]) -> pl.DataFrame:
    """One row per portfolio: ``wash_sale`` (block or warn) and ``whole_shares``."""
    rows = [(p.id, p.tax.wash_sale.value, p.trading.whole_shares) for p in policies]
    return pl.DataFrame(rows, orient="row", schema=WASH_SETTINGS_SCHEMA)


def recent_purchases(
    transactions: pl.DataFrame,
    accounts: pl.DataFrame,
    securities: pl.DataFrame,
    as_of: dt.date,
) -> pl.DataFrame:
    """(portfolio_id, security_id): securities a loss sale of which on ``as_of`` the household's
    BUY or REINVEST of the last 30 days would wash (the same security or its identical group).
    Conservative: a purchase that is itself the lot being sold still counts here."""
    groups = securities.select("security_id", "identical_group").unique("security_id")
    key = match_key(pl.col("security_id"), pl.col("identical_group")).alias("key")
    start = as_of - dt.timedelta(days=WINDOW_DAYS)
    bought = (
        transactions.filter(
            pl.col("type").is_in(PURCHASES) & pl.col("trade_date").is_between(start, as_of)
        )
        .join(accounts.select("portfolio_id", "account_id"), on="account_id")
        .join(groups, on="security_id", how="left")
        .select("portfolio_id", key, "security_id")
    )
    same_key = groups.select("security_id", key)
    return (
        pl.concat(
            [
                bought.select("portfolio_id", "security_id"),
                bought.join(same_key, on="key", suffix="_other").select(
                    "portfolio_id", pl.col("security_id_other").alias("security_id")
                ),
            ]
        )
        .unique()
        .sort("portfolio_id", "security_id")
    )


def _ranges(frame: pl.DataFrame, order: list[str], prefix: str) -> pl.DataFrame:
    """Cumulative [start, end) share ranges per (portfolio, key) in ``order``."""
    q = pl.col("quantity").cast(GAIN)
    end = q.cum_sum().over(["portfolio_id", "key"], order_by=order)
    return frame.with_columns(end.alias(f"{prefix}_end")).with_columns(
        (pl.col(f"{prefix}_end") - q).alias(f"{prefix}_start")
    )


def disallowed(loss_sales: pl.DataFrame, replacements: pl.DataFrame) -> pl.DataFrame:
    """One row per (loss sale, replacement) matched: the Pub. 550 arithmetic.

    ``loss_sales``: sale_id, portfolio_id, account_id, security_id, identical_group, sale_date,
    acquired_date (of the lot sold), quantity, loss (a positive amount).
    ``replacements``: replacement_id, portfolio_id, account_id, security_id, identical_group,
    trade_date, quantity, cost (may be null), tax_status.
    Shares are matched first come first served (sales by date then acquisition, replacements by
    date) among the pairs inside the 61-day window; exact when the sales of a household and key
    share one date, as in a proposal. Returns matched, disallowed, basis_adjustment (0 when the
    replacement is tax-advantaged), lost_for_good, adjusted_basis of the matched replacement
    shares and adjusted_acquired_date (holding period carried over; null when lost for good).
    """
    key = match_key(pl.col("security_id"), pl.col("identical_group")).alias("key")
    sales = loss_sales.drop("tax_status", strict=False).with_columns(key)
    repl = replacements.with_columns(key)
    days = (pl.col("trade_date") - pl.col("sale_date")).dt.total_days()
    window = (days >= -WINDOW_DAYS) & (days <= WINDOW_DAYS)
    pairs = sales.select("portfolio_id", "key", "sale_id", "sale_date").join(
        repl.select("portfolio_id", "key", "replacement_id", "trade_date"),
        on=["portfolio_id", "key"],
    )
    pairs = pairs.filter(window).select("sale_id", "replacement_id")
    sales = _ranges(
        sales.join(pairs.select("sale_id").unique(), on="sale_id", how="semi"),
        ["sale_date", "acquired_date", "sale_id"],
        "s",
    )
    repl = _ranges(
        repl.join(pairs.select("replacement_id").unique(), on="replacement_id", how="semi"),
        ["trade_date", "replacement_id"],
        "r",
    )
    frame = pairs.join(sales, on="sale_id").join(
        repl.drop("portfolio_id", "key"), on="replacement_id", suffix="_replacement"
    )
    return _amounts(frame).filter(pl.col("matched") > 0)


def _amounts(frame: pl.DataFrame) -> pl.DataFrame:
    """Matched shares, disallowed loss, basis adjustment and holding-period carry-over."""
    zero = pl.lit(0).cast(GAIN)
    matched = pl.max_horizontal(
        zero,
        pl.min_horizontal("s_end", "r_end") - pl.max_horizontal("s_start", "r_start"),
    )
    taxable = pl.col("tax_status") == TAXABLE
    held = pl.col("sale_date") - pl.col("acquired_date")
    return (
        frame.with_columns(matched.cast(GAIN).alias("matched"))
        .with_columns(
            (pl.col("loss").cast(GAIN) * pl.col("matched") / pl.col("quantity"))
            .cast(GAIN)
            .alias("disallowed"),
            (pl.col("cost").cast(GAIN) * pl.col("matched") / pl.col("quantity_replacement"))
            .cast(GAIN)
            .alias("matched_cost"),
        )
        .with_columns(
            pl.when(taxable).then(pl.col("disallowed")).otherwise(zero).alias("basis_adjustment"),
            pl.when(taxable).then(zero).otherwise(pl.col("disallowed")).alias("lost_for_good"),
            pl.when(taxable)
            .then(pl.col("trade_date") - held)
            .otherwise(None)
            .alias("adjusted_acquired_date"),
        )
        .with_columns((pl.col("matched_cost") + pl.col("basis_adjustment")).alias("adjusted_basis"))
        .drop("s_start", "s_end", "r_start", "r_end")
    )


def relieved_lots(
    trades: pl.DataFrame,
    lot_frame: pl.DataFrame,
    settings: pl.DataFrame,
    accounts: pl.DataFrame,
    as_of: dt.date,
) -> pl.DataFrame:
    """``lots.relieve`` for the proposal's taxable sells; trade_id is the trade's row index."""
    return lots.relieve(lots.taxable_sells(trades, settings, accounts), lot_frame, as_of)


def _loss_sales(
    trades: pl.DataFrame,
    relieved: pl.DataFrame,
    accounts: pl.DataFrame,
    groups: pl.DataFrame,
    as_of: dt.date,
) -> pl.DataFrame:
    """One row per taxable lot the proposal sells at a loss."""
    return (
        relieved.filter(pl.col("gain") < 0)
        .select("trade_id", "lot_id", "acquired_date", "relieved", "gain")
        .join(trades.select("trade_id", "portfolio_id", "account_id", "security_id"), on="trade_id")
        .join(
            accounts.select("portfolio_id", "account_id", "tax_status"),
            on=["portfolio_id", "account_id"],
        )
        .filter(pl.col("tax_status") == TAXABLE)
        .join(groups, on="security_id", how="left")
        .select(
            pl.format("{}:{}", pl.col("trade_id"), pl.col("lot_id")).alias("sale_id"),
            "trade_id",
            "portfolio_id",
            "account_id",
            "security_id",
            "identical_group",
            pl.lit(as_of).alias("sale_date"),
            "acquired_date",
            pl.col("relieved").cast(GAIN).alias("quantity"),
            (-pl.col("gain")).cast(GAIN).alias("loss"),
        )
    )


def _past_purchases(
    transactions: pl.DataFrame,
    accounts: pl.DataFrame,
    groups: pl.DataFrame,
    relieved: pl.DataFrame,
    as_of: dt.date,
) -> pl.DataFrame:
    """BUY and REINVEST of the last 30 days in every household account, less shares now sold."""
    start = as_of - dt.timedelta(days=WINDOW_DAYS)
    keys = ["portfolio_id", "account_id", "security_id", "trade_date", "tax_status"]
    sold = relieved.group_by(
        "account_id", "security_id", pl.col("acquired_date").alias("trade_date")
    ).agg(pl.col("relieved").cast(GAIN).sum().alias("sold"))
    bought = (
        transactions.filter(
            pl.col("type").is_in(PURCHASES) & pl.col("trade_date").is_between(start, as_of)
        )
        .join(accounts.select("portfolio_id", "account_id", "tax_status"), on="account_id")
        .group_by(keys)
        .agg(
            pl.col("quantity").cast(GAIN).abs().sum().alias("bought"),
            pl.col("amount").cast(GAIN).abs().sum().alias("cost"),
            pl.col("type").unique().sort().str.join("/").str.to_lowercase().alias("what"),
        )
        .join(sold, on=["account_id", "security_id", "trade_date"], how="left")
        .with_columns(
            pl.max_horizontal(pl.col("bought") - pl.col("sold").fill_null(0), pl.lit(0))
            .cast(GAIN)
            .alias("quantity")
        )
        .filter(pl.col("quantity") > 0)
    )
    return bought.join(groups, on="security_id", how="left").select(
        pl.format("{}|{}|{}|{}", *keys[:4]).alias("replacement_id"),
        *keys,
        "identical_group",
        "quantity",
        (pl.col("cost") * pl.col("quantity") / pl.col("bought")).cast(GAIN).alias("cost"),
        pl.lit(None, pl.UInt32).alias("trade_id"),
        "what",
    )


def _proposed_buys(
    trades: pl.DataFrame, accounts: pl.DataFrame, groups: pl.DataFrame, as_of: dt.date
) -> pl.DataFrame:
    """The proposal's buys as replacement purchases on the review date."""
    return (
        trades.filter(pl.col("side") == "buy")
        .join(
            accounts.select("portfolio_id", "account_id", "tax_status"),
            on=["portfolio_id", "account_id"],
        )
        .join(groups, on="security_id", how="left")
        .select(
            pl.format("trade:{}", pl.col("trade_id")).alias("replacement_id"),
            "portfolio_id",
            "account_id",
            "security_id",
            pl.lit(as_of).alias("trade_date"),
            "tax_status",
            "identical_group",
            pl.col("quantity").cast(GAIN),
            (pl.col("quantity") * pl.col("price")).cast(GAIN).alias("cost"),
            "trade_id",
            pl.lit("proposed buy").alias("what"),
        )
    )


def _replacements(
    trades: pl.DataFrame,
    past: pl.DataFrame,
    accounts: pl.DataFrame,
    groups: pl.DataFrame,
    as_of: dt.date,
) -> pl.DataFrame:
    return pl.concat([past, _proposed_buys(trades, accounts, groups, as_of)])


def _resize(trades: pl.DataFrame, quantity: pl.Expr, price: pl.Expr | None = None) -> pl.DataFrame:
    """Set a new quantity (and price); amount and estimated cost follow in proportion."""
    price = pl.col("price") if price is None else price
    old = (pl.col("quantity") * pl.col("price")).cast(GAIN)
    trades = trades.with_columns(
        quantity.cast(trades.schema["quantity"]).alias("_q"),
        price.cast(trades.schema["price"]).alias("_p"),
    ).with_columns((pl.col("_q") * pl.col("_p")).cast(GAIN).alias("_amount"))
    if "estimated_cost" in trades.columns:
        rate = pl.when(old > 0).then(pl.col("estimated_cost").cast(GAIN) / old).otherwise(0)
        cost = (rate * pl.col("_amount")).cast(trades.schema["estimated_cost"])
        trades = trades.with_columns(cost.alias("estimated_cost"))
    if "amount" in trades.columns:
        trades = trades.with_columns(
            pl.col("_amount").cast(trades.schema["amount"]).alias("amount")
        )
    return trades.with_columns(pl.col("_q").alias("quantity"), pl.col("_p").alias("price")).drop(
        "_q", "_p", "_amount"
    )


def _cash(side: str) -> pl.Expr:
    """Cash a trade uses (buy: amount + cost) or raises (sell: amount − cost)."""
    amount = (pl.col("quantity") * pl.col("price")).cast(GAIN)
    if side == "buy":
        return amount + pl.col("estimated_cost").fill_null(0)
    return amount - pl.col("estimated_cost").fill_null(0)


def _substitutes(
    conflicts: pl.DataFrame,
    loss_keys: pl.DataFrame,
    candidates: pl.DataFrame,
    groups: pl.DataFrame,
    restrictions: pl.DataFrame,
) -> pl.DataFrame:
    """Per conflicting buy: the first priced security of its class that no loss sale washes."""
    cands = (
        candidates.filter(pl.col("price") > 0)
        .select("security_id", "asset_class", pl.col("price").alias("new_price"))
        .join(groups, on="security_id", how="left")
        .with_columns(match_key(pl.col("security_id"), pl.col("identical_group")).alias("key"))
    )
    no_buy = restrictions.filter(pl.col("rule") == "do_not_buy").select(
        "portfolio_id", "security_id"
    )
    return (
        conflicts.join(cands.rename({"security_id": "new_security"}), on="asset_class")
        .join(loss_keys, on=["portfolio_id", "key"], how="anti")
        .join(
            no_buy.rename({"security_id": "new_security"}),
            on=["portfolio_id", "new_security"],
            how="anti",
        )
        .sort("trade_id", "new_security")
        .unique("trade_id", keep="first", maintain_order=True)
        .select("trade_id", "new_security", "new_price")
    )


def _swap(trades: pl.DataFrame, swaps: pl.DataFrame) -> pl.DataFrame:
    """Buy the substitute instead, for at most the same money."""
    budget = (pl.col("quantity") * pl.col("price")).cast(GAIN)
    frame = trades.join(swaps, on="trade_id", how="left").with_columns(
        pl.col("security_id").alias("_old")
    )
    hit = pl.col("new_security").is_not_null()
    swapped = _resize(
        frame.filter(hit).with_columns(
            round_quantity(budget / pl.col("new_price"), up=False).alias("_new_q")
        ),
        pl.col("_new_q"),
        pl.col("new_price"),
    ).with_columns(pl.col("new_security").alias("security_id"))
    if "reason" in trades.columns:
        swapped = swapped.with_columns(
            pl.format(
                "{}; {} bought instead of {} to avoid a wash sale",
                pl.col("reason"),
                pl.col("new_security"),
                pl.col("_old"),
            ).alias("reason")
        )
    return pl.concat([frame.filter(~hit), swapped.drop("_new_q")]).drop(
        "new_security", "new_price", "_old"
    )


def _scale_buys(trades: pl.DataFrame, dropped: pl.DataFrame) -> pl.DataFrame:
    """Shrink each account's buys by the cash its dropped sales no longer raise."""
    acct = ["portfolio_id", "account_id"]
    lost = dropped.group_by(acct).agg(_cash("sell").sum().alias("_lost"))
    buys = (
        trades.filter(pl.col("side") == "buy")
        .join(lost, on=acct, how="inner")
        .with_columns(_cash("buy").sum().over(acct).alias("_spent"))
        .with_columns(
            pl.max_horizontal(pl.lit(0), (pl.col("_spent") - pl.col("_lost")) / pl.col("_spent"))
            .cast(GAIN)
            .alias("_factor")
        )
    )
    scaled = _resize(buys, round_quantity(pl.col("quantity") * pl.col("_factor"), up=False))
    untouched = trades.join(scaled.select("trade_id"), on="trade_id", how="anti")
    return pl.concat([untouched, scaled.filter(pl.col("quantity") > 0).select(untouched.columns)])


def check_proposal(
    trades: pl.DataFrame,
    lots_relieved: pl.DataFrame,
    transactions: pl.DataFrame,
    accounts: pl.DataFrame,
    securities: pl.DataFrame,
    as_of: dt.date,
    policy_settings: pl.DataFrame,
    *,
    candidates: pl.DataFrame,
    restrictions: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Check the proposal's taxable loss sales for wash sales across each household.

    ``trades``: the proposal (row index = ``trade_id`` of ``lots_relieved``, see
    ``relieved_lots``); ``policy_settings``: ``wash_settings``; ``candidates``: priced securities
    (security_id, asset_class, price); ``restrictions``: ``policy_frames.restrictions_frame``.
    ``warn``: trades kept, ``wash_sale_disallowed`` set on each washed sale, one finding per sale.
    ``block``: a conflicting proposed buy is swapped to a priced security of the same class that
    no loss sale washes; a sale still washed (by past purchases) is dropped, its account's buys
    shrink by the cash it no longer raises, and a finding says so. Returns (trades, findings).
    """
    if restrictions is None:
        restrictions = pl.DataFrame(
            schema={"portfolio_id": pl.String, "security_id": pl.String, "rule": pl.String}
        )
    groups = securities.select("security_id", "identical_group").unique("security_id")
    if "estimated_cost" not in trades.columns:
        trades = trades.with_columns(pl.lit(0).cast(GAIN).alias("estimated_cost"))
        columns = trades.columns[:-1]
    else:
        columns = trades.columns
    frame = (
        trades.with_row_index("trade_id")
        .join(
            policy_settings.select("portfolio_id", "wash_sale", "whole_shares"),
            on="portfolio_id",
            how="left",
        )
        .with_columns(
            pl.col("wash_sale").fill_null("block"), pl.col("whole_shares").fill_null(True)
        )
    )
    block = pl.col("wash_sale") == "block"
    sales = _loss_sales(frame, lots_relieved, accounts, groups, as_of)
    past = _past_purchases(transactions, accounts, groups, lots_relieved, as_of)
    first = disallowed(sales, _replacements(frame, past, accounts, groups, as_of))
    conflicts = (
        first.filter(pl.col("trade_id_replacement").is_not_null())
        .select(pl.col("trade_id_replacement").alias("trade_id"))
        .unique()
        .join(frame.filter(block), on="trade_id")
        .join(groups, on="security_id", how="left")
        .select("trade_id", "portfolio_id", "account_id", "asset_class", "security_id", "quantity")
    )
    loss_keys = sales.select(
        "portfolio_id", match_key(pl.col("security_id"), pl.col("identical_group")).alias("key")
    ).unique()
    swaps = _substitutes(conflicts, loss_keys, candidates, groups, restrictions)
    frame = _swap(frame, swaps).sort("trade_id")
    repl = _replacements(frame, past, accounts, groups, as_of)
    matches = disallowed(sales, repl)
    washed = _washed_sales(sales, repl, frame, block)
    dropped = frame.join(washed, on="trade_id", how="semi")
    kept = _scale_buys(frame.join(washed, on="trade_id", how="anti"), dropped).sort("trade_id")
    findings = pl.concat(
        [
            swap_findings(swaps, conflicts, first),
            warn_findings(
                matches.join(frame.filter(~block), on="trade_id", how="semi"), frame, sales
            ),
            block_findings(dropped, sales, repl),
            scale_findings(frame, kept, dropped),
        ]
    )
    per_trade = matches.group_by("trade_id").agg(
        pl.col("disallowed").sum().alias("wash_sale_disallowed")
    )
    out = kept.join(per_trade, on="trade_id", how="left").with_columns(
        pl.col("wash_sale_disallowed").fill_null(0).cast(GAIN)
    )
    return out.select(*columns, "wash_sale_disallowed"), findings


def _washed_sales(
    sales: pl.DataFrame, repl: pl.DataFrame, frame: pl.DataFrame, block: pl.Expr
) -> pl.DataFrame:
    """Sale trades of ``block`` portfolios that any same-key purchase in the window washes.

    All of a proposal's sales are on the review date and every replacement is within 30 days of
    it, so one remaining purchase of the key washes every loss sale of that key.
    """
    key = match_key(pl.col("security_id"), pl.col("identical_group")).alias("key")
    return (
        sales.with_columns(key)
        .join(
            repl.with_columns(key).select("portfolio_id", "key").unique(),
            on=["portfolio_id", "key"],
        )
        .join(frame.filter(block), on="trade_id", how="semi")
        .select("trade_id")
        .unique()
    )
