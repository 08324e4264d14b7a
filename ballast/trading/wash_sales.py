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
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from ballast.portfolio.policy import Policy
from ballast.portfolio.text import text
from ballast.trading import lots
from ballast.trading.identical import match_key
from ballast.trading.sizing import round_quantity
from ballast.trading.wash_sale_findings import (
    block_findings,
    recent_findings,
    relot_findings,
    scale_findings,
    swap_findings,
    warn_findings,
)

if TYPE_CHECKING:
    from ballast.trading.inputs import TradingInputs

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


def window_purchases(
    transactions: pl.DataFrame,
    accounts: pl.DataFrame,
    securities: pl.DataFrame,
    as_of: dt.date,
    lot_frame: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """The household's BUY and REINVEST of the 30 days up to ``as_of``, one row per (portfolio,
    account, security, date): key (``identical.match_key``), quantity, tax_status and
    ``removable``: the purchase is still held whole as a taxable lot of its own (same account,
    security and acquired date, at least the quantity bought), so a sale of that lot together
    with the loss lots leaves nothing to wash them (shares sold are never their own
    replacement). ``lot_frame`` none: nothing is removable."""
    groups = securities.select("security_id", "identical_group").unique("security_id")
    start = as_of - dt.timedelta(days=WINDOW_DAYS)
    keys = ["portfolio_id", "account_id", "security_id", "trade_date"]
    bought = (
        transactions.filter(
            pl.col("type").is_in(PURCHASES) & pl.col("trade_date").is_between(start, as_of)
        )
        .join(accounts.select("portfolio_id", "account_id", "tax_status"), on="account_id")
        .group_by(*keys, "tax_status")
        .agg(pl.col("quantity").cast(GAIN).abs().sum().alias("quantity"))
        .join(groups, on="security_id", how="left")
        .with_columns(match_key(pl.col("security_id"), pl.col("identical_group")).alias("key"))
    )
    if lot_frame is None:
        return bought.with_columns(pl.lit(False).alias("removable")).sort(keys)
    held = lot_frame.group_by(
        "account_id", "security_id", pl.col("acquired_date").alias("trade_date")
    ).agg(pl.col("quantity").cast(GAIN).sum().alias("_held"))
    return (
        bought.join(held, on=["account_id", "security_id", "trade_date"], how="left")
        .with_columns(
            (
                (pl.col("tax_status") == TAXABLE)
                & (pl.col("_held").fill_null(0) >= pl.col("quantity"))
            ).alias("removable")
        )
        .drop("_held")
        .sort(keys)
    )


def recent_purchases(
    transactions: pl.DataFrame,
    accounts: pl.DataFrame,
    securities: pl.DataFrame,
    as_of: dt.date,
    lot_frame: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """(portfolio_id, security_id): securities a loss sale of which on ``as_of`` the household's
    BUY or REINVEST of the last 30 days would wash (the same security or its identical group).

    With ``lot_frame``, a key whose every purchase is ``removable`` (see ``window_purchases``)
    is left out: selling the purchased lot itself clears the wash (``removable_keys``). Without
    it, conservative: a purchase that is itself the lot being sold still counts."""
    groups = securities.select("security_id", "identical_group").unique("security_id")
    bought = window_purchases(transactions, accounts, securities, as_of, lot_frame)
    stuck = bought.group_by("portfolio_id", "key").agg((~pl.col("removable")).any().alias("_x"))
    bought = bought.join(stuck.filter(pl.col("_x")), on=["portfolio_id", "key"], how="semi")
    same_key = groups.select(
        "security_id", match_key(pl.col("security_id"), pl.col("identical_group")).alias("key")
    )
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


def blocking(inputs: TradingInputs) -> pl.DataFrame | None:
    """``recent_purchases`` (with the lots: removable purchases left out) of the portfolios of
    ``inputs`` with ``wash_sale: block``: the securities whose loss lots an engine must not
    sell. None when the inputs carry no transactions."""
    if (
        inputs.transactions is None
        or inputs.securities is None
        or inputs.as_of is None
        or inputs.wash_settings is None
    ):
        return None
    block = inputs.wash_settings.filter(pl.col("wash_sale") == "block").select("portfolio_id")
    return recent_purchases(
        inputs.transactions, inputs.accounts, inputs.securities, inputs.as_of, inputs.lots
    ).join(block, on="portfolio_id", how="semi")


def removable_keys(
    transactions: pl.DataFrame,
    accounts: pl.DataFrame,
    securities: pl.DataFrame,
    as_of: dt.date,
    lot_frame: pl.DataFrame,
) -> pl.DataFrame:
    """The purchases of keys whose every window purchase is ``removable``: portfolio_id, key,
    account_id, security_id, acquired_date (= the purchase's trade date). A loss sale of the
    key is no wash sale if and only if these lots are sold whole along with it."""
    bought = window_purchases(transactions, accounts, securities, as_of, lot_frame)
    ok = bought.group_by("portfolio_id", "key").agg(pl.col("removable").all().alias("_ok"))
    return (
        bought.join(ok.filter(pl.col("_ok")), on=["portfolio_id", "key"], how="semi")
        .select(
            "portfolio_id",
            "key",
            "account_id",
            "security_id",
            pl.col("trade_date").alias("acquired_date"),
        )
        .sort("portfolio_id", "key", "account_id", "security_id", "acquired_date")
    )


def _ranges(frame: pl.DataFrame, order: list[str], prefix: str) -> pl.DataFrame:
    """Cumulative [start, end) share ranges per (portfolio, key) in ``order``."""
    q = pl.col("quantity").cast(GAIN)
    end = q.cum_sum().over(["portfolio_id", "key"], order_by=order)
    return frame.with_columns(end.alias(f"{prefix}_end")).with_columns(
        (pl.col(f"{prefix}_end") - q).alias(f"{prefix}_start")
    )


def disallowed(
    loss_sales: pl.DataFrame, replacements: pl.DataFrame, *, after_only: bool = False
) -> pl.DataFrame:
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
    ``after_only``: only purchases on or after the sale date count (a past sale whose own
    acquisition is unknown: a purchase before it may be the very shares sold).
    """
    key = match_key(pl.col("security_id"), pl.col("identical_group")).alias("key")
    sales = loss_sales.drop("tax_status", strict=False).with_columns(key)
    repl = replacements.with_columns(key)
    days = (pl.col("trade_date") - pl.col("sale_date")).dt.total_days()
    window = (days >= (0 if after_only else -WINDOW_DAYS)) & (days <= WINDOW_DAYS)
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
        .select("trade_id", "lot_id", "acquired_date", "long_term", "relieved", "gain")
        .join(trades.select("trade_id", "portfolio_id", "account_id", "security_id"), on="trade_id")
        .join(
            accounts.select("portfolio_id", "account_id", "tax_status"),
            on=["portfolio_id", "account_id"],
        )
        .filter(pl.col("tax_status") == TAXABLE)
        .join(groups, on="security_id", how="left")
        .select(
            text("{}:{}", pl.col("trade_id"), pl.col("lot_id")).alias("sale_id"),
            "trade_id",
            "portfolio_id",
            "account_id",
            "security_id",
            "identical_group",
            pl.lit(as_of).alias("sale_date"),
            "acquired_date",
            "lot_id",
            "long_term",
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
        text("{}|{}|{}|{}", *keys[:4]).alias("replacement_id"),
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
            text("trade:{}", pl.col("trade_id")).alias("replacement_id"),
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
    """Per conflicting buy: the first priced security of its class that no loss sale washes,
    at its price in the portfolio's base currency."""
    cands = (
        candidates.filter(pl.col("price") > 0)
        .select("base_currency", "security_id", "asset_class", pl.col("price").alias("new_price"))
        .join(groups, on="security_id", how="left")
        .with_columns(match_key(pl.col("security_id"), pl.col("identical_group")).alias("key"))
    )
    no_buy = restrictions.filter(pl.col("rule") == "do_not_buy").select(
        "portfolio_id", "security_id"
    )
    return (
        conflicts.join(
            cands.rename({"security_id": "new_security"}), on=["base_currency", "asset_class"]
        )
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
            text(
                "{}; {} bought instead of {} to avoid a wash sale",
                pl.col("reason"),
                pl.col("new_security"),
                pl.col("_old"),
            ).alias("reason")
        )
    return pl.concat([frame.filter(~hit), swapped.drop("_new_q")]).drop(
        "new_security", "new_price", "_old"
    )


def _scale_buys(trades: pl.DataFrame, lost: pl.DataFrame) -> pl.DataFrame:
    """Shrink each account's buys by the cash its cut or dropped sales no longer raise
    (``lost``: portfolio_id, account_id, _lost)."""
    acct = ["portfolio_id", "account_id"]
    buys = (
        trades.filter(pl.col("side") == "buy")
        .join(lost.filter(pl.col("_lost") > 0), on=acct, how="inner")
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


def recent_loss_sales(
    transactions: pl.DataFrame, accounts: pl.DataFrame, groups: pl.DataFrame, as_of: dt.date
) -> pl.DataFrame:
    """SELLs of the 30 days up to ``as_of`` in taxable household accounts that realised a loss,
    or whose cost the transactions cannot tell (treated as a loss: the rule is checked, and a
    finding says the cost is unknown), in the shape ``disallowed`` reads (sale_id =
    ``sold:<transaction_id>``; ``loss`` null when unknown; ``cost_known``).

    The transactions carry the proceeds of a sale, not the cost of the shares sold: the cost is
    taken first in, first out from the account's BUY and REINVEST transactions of the security
    up to the sale (the custodians' default relief), known when they cover every share sold."""
    pos = ["account_id", "security_id"]
    tx = transactions.join(
        accounts.select("portfolio_id", "account_id", "tax_status"), on="account_id"
    ).filter((pl.col("tax_status") == TAXABLE) & pl.col("security_id").is_not_null())
    q = pl.col("quantity").cast(GAIN).abs()

    def ranges(frame: pl.DataFrame, prefix: str) -> pl.DataFrame:
        end = q.cum_sum().over(pos, order_by=["trade_date", "transaction_id"])
        return frame.with_columns(end.alias(f"{prefix}_end")).with_columns(
            (pl.col(f"{prefix}_end") - q).alias(f"{prefix}_start")
        )

    acq = ranges(tx.filter(pl.col("type").is_in(PURCHASES) & (q > 0)), "a").select(
        *pos,
        pl.col("trade_date").alias("a_date"),
        "a_start",
        "a_end",
        (pl.col("amount").cast(GAIN).abs() / q).alias("a_cost_ps"),
    )
    sells = ranges(tx.filter((pl.col("type") == "SELL") & (q > 0)), "s").filter(
        pl.col("trade_date").is_between(as_of - dt.timedelta(days=WINDOW_DAYS), as_of)
    )
    overlap = pl.max_horizontal(
        pl.lit(0).cast(GAIN),
        pl.min_horizontal("s_end", "a_end") - pl.max_horizontal("s_start", "a_start"),
    )
    matched = (
        sells.select("transaction_id", *pos, "trade_date", "s_start", "s_end")
        .join(acq, on=pos)
        .filter(pl.col("a_date") <= pl.col("trade_date"))
        .with_columns(overlap.cast(GAIN).alias("_n"))
        .filter(pl.col("_n") > 0)
        .group_by("transaction_id")
        .agg(
            pl.col("_n").sum().alias("covered"),
            (pl.col("_n") * pl.col("a_cost_ps")).sum().cast(GAIN).alias("cost"),
            pl.col("a_date").min().alias("acquired_date"),
        )
    )
    frame = (
        sells.join(matched, on="transaction_id", how="left")
        .join(groups, on="security_id", how="left")
        .with_columns(
            (pl.col("covered").fill_null(0) >= q).alias("cost_known"),
            pl.col("amount").cast(GAIN).abs().alias("proceeds"),
        )
        .with_columns(
            pl.when(pl.col("cost_known"))
            .then(pl.col("cost") - pl.col("proceeds"))
            .cast(GAIN)
            .alias("loss")
        )
        .filter(~pl.col("cost_known") | (pl.col("loss") > 0))
    )
    return frame.sort("portfolio_id", "trade_date", "transaction_id").select(
        text("sold:{}", pl.col("transaction_id")).alias("sale_id"),
        pl.lit(None, pl.UInt32).alias("trade_id"),
        "portfolio_id",
        "account_id",
        "security_id",
        "identical_group",
        pl.col("trade_date").alias("sale_date"),
        pl.when(pl.col("cost_known")).then(pl.col("acquired_date")).alias("acquired_date"),
        pl.lit(None, pl.String).alias("lot_id"),
        pl.lit(None, pl.Boolean).alias("long_term"),
        q.alias("quantity"),
        "loss",
        "cost_known",
    )


@dataclass(frozen=True)
class WashCheck:
    """What ``check_proposal`` returns. ``trades``: the proposal after the check, with
    ``wash_sale_disallowed``; ``findings``: portfolio_id, message; ``relieved``: the taxable
    lots each kept sell relieves (``lots.relieve`` columns, ``trade_id`` = row of ``trades``);
    ``matches``: ``disallowed`` rows of the kept trades (``trade_id``: the sale's row, null for
    a sale of the last 30 days; ``trade_id_replacement``: the buy's row, null for a past
    purchase)."""

    trades: pl.DataFrame
    findings: pl.DataFrame
    relieved: pl.DataFrame
    matches: pl.DataFrame


def _keys(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(
        "portfolio_id", match_key(pl.col("security_id"), pl.col("identical_group")).alias("key")
    ).unique()


def _washed_ids(matches: pl.DataFrame, frame: pl.DataFrame, block: pl.Expr) -> pl.DataFrame:
    """Sale trades of ``block`` portfolios with a loss some replacement washes."""
    return (
        matches.filter(pl.col("trade_id").is_not_null())
        .select("trade_id")
        .unique()
        .join(frame.filter(block), on="trade_id", how="semi")
    )


def _relief_sells(
    frame: pl.DataFrame, ids: pl.DataFrame, settings: pl.DataFrame, rates: pl.DataFrame
) -> pl.DataFrame:
    """The sales ``ids`` of ``frame`` as ``lots.relieve`` takes them; ``rates``:
    ``lots.account_rates``."""
    return (
        frame.join(ids, on="trade_id", how="semi")
        .join(settings.select("portfolio_id", *lots.RELIEF_SETTINGS), on="portfolio_id")
        .join(rates, on=["portfolio_id", "account_id"])
        .select(
            "trade_id",
            "account_id",
            "security_id",
            "quantity",
            "price",
            "whole_shares",
            *lots.RELIEF_SETTINGS,
            *lots.RATES,
        )
    )


def _unwash(
    frame: pl.DataFrame,
    relieved: pl.DataFrame,
    replacements: Callable[[pl.DataFrame, pl.DataFrame], pl.DataFrame],
    loss_sales: Callable[[pl.DataFrame, pl.DataFrame], pl.DataFrame],
    block: pl.Expr,
    lot_frame: pl.DataFrame,
    settings: pl.DataFrame,
    rates: pl.DataFrame,
    as_of: dt.date,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """``wash_sale: block`` for sales still washed: other lots first, then a partial sale.

    1. The sale relieves the lots bought in the last 30 days first (then its usual order): a
       purchase sold with the loss lots is no replacement, so that may clear the wash.
    2. Still washed: its loss lots go last and the sale is cut by the loss-lot shares it would
       relieve (whole shares rounded down): the gain, zero-gain and uncovered shares are sold.
    Returns (trades, relieved, relotted: trade ids of step 1, cut: trade_id, old quantity)."""
    washed = _washed_ids(
        disallowed(loss_sales(frame, relieved), replacements(frame, relieved)), frame, block
    )
    empty = pl.DataFrame(schema={"trade_id": pl.UInt32, "old_quantity": frame.schema["quantity"]})
    if washed.is_empty():
        return frame, relieved, washed, empty
    sells = _relief_sells(frame, washed, settings, rates)
    recent = pl.col("acquired_date") >= as_of - dt.timedelta(days=WINDOW_DAYS)
    held = pl.col("tier") == lots.TIER_HELD
    first = lots.relieve(
        sells, lot_frame, as_of, pl.when(held).then(2).when(recent).then(0).otherwise(1)
    )
    rel1 = pl.concat(
        [relieved.join(washed, on="trade_id", how="anti"), first], how="diagonal_relaxed"
    )
    still = _washed_ids(
        disallowed(loss_sales(frame, rel1), replacements(frame, rel1)), frame, block
    )
    relotted = washed.join(still, on="trade_id", how="anti")
    if still.is_empty():
        return frame, rel1, relotted, empty
    last = pl.when(held).then(2).when(pl.col("gain_per_share") < 0).then(1).otherwise(0)
    loss = (
        lots.relieve(_relief_sells(frame, still, settings, rates), lot_frame, as_of, last)
        .filter(pl.col("gain_per_share") < 0)
        .group_by("trade_id")
        .agg(pl.col("relieved").sum().alias("_loss"))
    )
    keep = pl.col("quantity").cast(GAIN) - pl.col("_loss").fill_null(0)
    cut = (
        frame.join(still, on="trade_id", how="semi")
        .join(loss, on="trade_id", how="left")
        .with_columns(
            pl.when(pl.col("whole_shares")).then(keep.floor()).otherwise(keep).alias("_keep"),
            pl.col("quantity").alias("old_quantity"),
        )
    )
    resized = _resize(cut, pl.col("_keep"))
    frame = pl.concat(
        [
            frame.join(still, on="trade_id", how="anti"),
            resized.filter(pl.col("quantity") > 0).select(frame.columns),
        ]
    ).sort("trade_id")
    second = lots.relieve(_relief_sells(frame, still, settings, rates), lot_frame, as_of, last)
    rel2 = pl.concat([rel1.join(still, on="trade_id", how="anti"), second], how="diagonal_relaxed")
    return frame, rel2, relotted, cut.select("trade_id", "old_quantity")


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
    lot_frame: pl.DataFrame,
    settings: pl.DataFrame,
    restrictions: pl.DataFrame | None = None,
) -> WashCheck:
    """Check the proposal against the wash-sale rule across each household.

    ``trades``: the proposal (row index = ``trade_id`` of ``lots_relieved``, see
    ``relieved_lots``); ``policy_settings``: ``wash_settings``; ``candidates``: priced securities
    per base currency (``inputs.buy_candidates``); ``lot_frame``: the tax lots; ``settings``:
    ``policy_frames.settings_frame`` (relief order and rates); ``restrictions``:
    ``policy_frames.restrictions_frame``. Two directions are checked: the proposal's taxable
    loss sales against purchases of the last 30 days and the proposal's own buys, and the
    proposal's buys against loss sales of the last 30 days (``recent_loss_sales``).
    ``warn``: trades kept, ``wash_sale_disallowed`` set, one finding per washed trade.
    ``block``: a conflicting proposed buy is swapped to a priced security of the same class
    that no loss sale washes, or dropped when it would wash a past sale and has no substitute;
    a sale still washed relieves other lots or is cut to its shares that realise no washed loss
    (``_unwash``), its account's buys shrink by the cash it no longer raises; findings say so.
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

    def loss_sales(f: pl.DataFrame, rel: pl.DataFrame) -> pl.DataFrame:
        return _loss_sales(f, rel, accounts, groups, as_of)

    def replacements(f: pl.DataFrame, rel: pl.DataFrame) -> pl.DataFrame:
        past = _past_purchases(transactions, accounts, groups, rel, as_of)
        return _replacements(f, past, accounts, groups, as_of)

    sales = loss_sales(frame, lots_relieved)
    recent = recent_loss_sales(transactions, accounts, groups, as_of)
    repl = replacements(frame, lots_relieved)
    first = pl.concat(
        [disallowed(sales, repl), disallowed(recent, repl, after_only=True)],
        how="diagonal_relaxed",
    )
    conflicts = (
        first.filter(pl.col("trade_id_replacement").is_not_null())
        .select(pl.col("trade_id_replacement").alias("trade_id"))
        .unique()
        .join(frame.filter(block), on="trade_id")
        .join(groups, on="security_id", how="left")
        .select("trade_id", "portfolio_id", "account_id", "asset_class", "security_id", "quantity")
    )
    loss_keys = pl.concat([_keys(sales), _keys(recent)]).unique()
    swaps = _substitutes(
        conflicts.join(settings.select("portfolio_id", "base_currency"), on="portfolio_id"),
        loss_keys,
        candidates,
        groups,
        restrictions,
    )
    frame = _swap(frame, swaps).sort("trade_id")
    # a buy that would wash a loss already realised and has no substitute: not made (block)
    stuck = (
        disallowed(recent, replacements(frame, lots_relieved), after_only=True)
        .filter(pl.col("trade_id_replacement").is_not_null())
        .select(pl.col("trade_id_replacement").alias("trade_id"))
        .unique()
        .join(frame.filter(block), on="trade_id", how="semi")
    )
    dropped_buys = frame.join(stuck, on="trade_id", how="semi")
    frame = frame.join(stuck, on="trade_id", how="anti")
    before_cut = frame
    frame, relieved, relotted, cut = _unwash(
        frame,
        lots_relieved,
        replacements,
        loss_sales,
        block,
        lot_frame,
        settings,
        lots.account_rates(settings, accounts),
        as_of,
    )
    lost = (
        before_cut.join(cut, on="trade_id", how="semi")
        .select("trade_id", "portfolio_id", "account_id", _cash("sell").alias("_old"))
        .join(frame.select("trade_id", _cash("sell").alias("_new")), on="trade_id", how="left")
        .group_by("portfolio_id", "account_id")
        .agg((pl.col("_old") - pl.col("_new").fill_null(0)).sum().alias("_lost"))
    )
    kept = _scale_buys(frame, lost).sort("trade_id")
    relieved = relieved.join(kept.select("trade_id"), on="trade_id", how="semi")
    final_sales = loss_sales(kept, relieved)
    final_repl = replacements(kept, relieved)
    matches = pl.concat(
        [
            disallowed(final_sales, final_repl),
            disallowed(recent, final_repl, after_only=True).filter(
                pl.col("trade_id_replacement").is_not_null()
            ),
        ],
        how="diagonal_relaxed",
    )
    warn_matches = matches.filter(pl.col("trade_id").is_not_null()).join(
        kept.filter(~block), on="trade_id", how="semi"
    )
    findings = pl.concat(
        [
            swap_findings(swaps, conflicts, first),
            warn_findings(warn_matches, kept, final_sales),
            recent_findings(matches, kept, dropped_buys, first),
            relot_findings(kept.join(relotted, on="trade_id", how="semi"), relieved, as_of),
            block_findings(before_cut.join(cut, on="trade_id", how="semi"), kept, sales, repl),
            scale_findings(before_cut, kept, lost),
        ]
    )
    # one row per kept trade, renumbered 0..n-1 as the trades come out
    renumber = kept.select("trade_id").with_row_index("_row")
    per_trade = (
        pl.concat(
            [
                matches.filter(pl.col("trade_id").is_not_null()).select("trade_id", "disallowed"),
                matches.filter(pl.col("trade_id").is_null()).select(
                    pl.col("trade_id_replacement").alias("trade_id"), "disallowed"
                ),
            ]
        )
        .group_by("trade_id")
        .agg(pl.col("disallowed").sum().alias("wash_sale_disallowed"))
    )
    out = kept.join(per_trade, on="trade_id", how="left").with_columns(
        pl.col("wash_sale_disallowed").fill_null(0).cast(GAIN)
    )

    def renumbered(f: pl.DataFrame, col: str) -> pl.DataFrame:
        return (
            f.join(renumber.rename({"trade_id": col}), on=col, how="left")
            .drop(col)
            .rename({"_row": col})
        )

    return WashCheck(
        trades=out.select(*columns, "wash_sale_disallowed"),
        findings=findings,
        relieved=renumbered(relieved, "trade_id"),
        matches=renumbered(renumbered(matches, "trade_id"), "trade_id_replacement"),
    )
