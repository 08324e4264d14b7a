"""Tax-loss harvesting (issue 12), opt-in per IPS with ``tax.harvest`` (pure Polars).

On the review date, in the taxable accounts of the portfolios that opt in, a lot whose
unrealised loss (cost basis less quantity × the holding's price in the base currency) reaches
both ``min_loss`` and ``min_loss_pct`` of its cost basis is a loss lot. Per (account, security)
with loss lots and an IPS replacement (``replacements: {VTI: ITOT}``) the harvest is two trades
in that account: sell exactly those lots (specific identification) and buy the replacement for
the proceeds less the sale's estimated cost, whole shares (or 6 decimals with fractional
trading) rounded down, its own cost included, so it never spends more than the sale raises.

The replacement must be in the same asset class, so each class's value moves only by the
estimated costs and the unspent remainder (less than one replacement share): a harvest cannot
push a class out of its band that the engine's trades left inside it (the post-trade band
check runs after it anyway).

A security is not harvested (skipped, with a warning) when:

- its replacement is missing from the IPS, unpriced in the base currency, in another asset
  class, on ``do_not_buy``, or substantially identical to it (the same security, or the same
  ``identical_group`` in the security master: ``identical.match_key``), or the security itself
  is on ``do_not_sell``;
- the household (any account of the portfolio) bought it, or a substantially identical
  security, in the 30 days up to the review date (``wash_sales.recent_purchases``,
  conservatively without the lots: the sale would be a wash sale);
- the proposal itself buys it or a substantially identical security in any account of the
  household and its replacement cannot take those buys (otherwise they are *steered*: made
  buys of the replacement for no more than their amount, ``_steer``), or already sells it in
  the same account (the engine's sale relieves that position's lots in the IPS order; the two
  are not combined);
- the replacement would wash a loss: the household sold it (or its identical group) at a loss
  in the last 30 days (``wash_sales.recent_loss_sales``), the proposal sells it, or another
  harvest of the household sells it (then both harvests are skipped, whatever the order).

The harvest runs after either engine and before the wash-sale check
(``trading.pipeline.propose_trades``), which still checks every trade. ``summary`` gives the
loss harvested and the tax it saves at the IPS marginal rates (federal + state), short-term
loss × ``short_term_rate`` + long-term loss × ``long_term_rate``, from the lots finally sold,
net of any loss the wash-sale rule still disallows. The saving is a marginal estimate before
netting: a net capital loss beyond $3,000 is carried forward and saves its tax in a later year
(the gains budget's ``estimate`` shows the year's netting).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import polars as pl

from ballast.portfolio.policy import Policy
from ballast.portfolio.text import text
from ballast.trading import lots, wash_sales
from ballast.trading.identical import match_key
from ballast.trading.lots import GAIN
from ballast.trading.proposal import AMT
from ballast.trading.sizing import cost_rates, round_quantity

MARK = "_harvest"
"""A boolean column the pipeline carries on the trades while it works: the harvest's trades."""
HARVEST_SCHEMA = pl.Schema(
    {
        "portfolio_id": pl.String(),
        "security_id": pl.String(),
        "replacement_id": pl.String(),
        "min_loss": pl.Decimal(38, 4),
        "min_loss_pct": pl.Decimal(38, 10),
    }
)
"""``harvest_settings``: one row per (portfolio, security, replacement); a portfolio that opts
in with no replacement has one row with null securities."""
SUMMARY_SCHEMA = pl.Schema(
    {
        "portfolio_id": pl.String(),
        "losses_harvested": GAIN,
        "short_term_loss": GAIN,
        "long_term_loss": GAIN,
        "tax_saved": GAIN,
        "trades": pl.UInt32(),
    }
)
_NO_WARNINGS = pl.Schema({"portfolio_id": pl.String(), "message": pl.String()})


def harvest_settings(policies: list[Policy]) -> pl.DataFrame:
    """``HARVEST_SCHEMA`` rows of the policies with ``tax.harvest``; none for the others."""
    rows: list[tuple[str, str | None, str | None, Decimal, Decimal]] = []
    for p in policies:
        h = p.tax.harvest
        if h is None:
            continue
        pairs: list[tuple[str | None, str | None]] = list(h.replacements.items()) or [(None, None)]
        rows.extend((p.id, s, r, h.min_loss, h.min_loss_pct) for s, r in sorted(pairs, key=str))
    return pl.DataFrame(rows, orient="row", schema=HARVEST_SCHEMA)


def _keyed(frame: pl.DataFrame, security: str, groups: pl.DataFrame, name: str) -> pl.DataFrame:
    g = groups.rename({"security_id": security, "identical_group": "_g"})
    return (
        frame.join(g, on=security, how="left")
        .with_columns(match_key(pl.col(security), pl.col("_g")).alias(name))
        .drop("_g")
    )


def _skip(frame: pl.DataFrame, hit: pl.Expr, why: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(the candidates not hit, a warning per candidate hit)."""
    warned = frame.filter(hit).select(
        "portfolio_id",
        text(
            "tax-loss harvest: {} in account {} has an unrealised loss of ${} but is not "
            "harvested: {}",
            pl.col("security_id"),
            pl.col("account_id"),
            pl.col("loss").cast(pl.Decimal(38, 2)),
            text(why, pl.col("replacement_id").fill_null("none")) if "{}" in why else pl.lit(why),
        ).alias("message"),
    )
    return frame.filter(~hit), warned


def _steer(
    trades: pl.DataFrame, cand: pl.DataFrame, groups: pl.DataFrame, rate: pl.DataFrame
) -> pl.DataFrame:
    """``trades`` with each proposed buy of a security about to be harvested (or of its
    identical group), in any account of the household, made a buy of the harvest's replacement
    for no more than its amount: whole shares (or 6 decimals) rounded down, at the
    replacement's price, the same class's cost rate. Same rows, same order. A security whose
    buys cannot all take one share of the replacement is left as it is (``propose`` then
    skips its harvest)."""
    steer_to = cand.select(
        "portfolio_id",
        pl.col("_key").alias("_bkey"),
        "replacement_id",
        "_repl_price",
        "whole_shares",
    ).unique(["portfolio_id", "_bkey"], keep="first", maintain_order=True)
    rows = _keyed(trades.with_row_index("_row"), "security_id", groups, "_bkey")
    hit = (
        rows.filter(pl.col("side") == "buy")
        .join(steer_to, on=["portfolio_id", "_bkey"])
        .join(rate, on=["portfolio_id", "asset_class"], how="left")
        .with_columns(
            round_quantity(pl.col("amount").cast(GAIN) / pl.col("_repl_price"), up=False).alias(
                "_q"
            )
        )
        .filter((pl.col("_q") > 0).all().over("portfolio_id", "_bkey"))
    )
    if hit.is_empty():
        return trades
    amount = (pl.col("_q") * pl.col("_repl_price")).cast(AMT)
    new = hit.select(
        "_row",
        pl.col("replacement_id").alias("security_id"),
        pl.col("_q").cast(trades.schema["quantity"]).alias("quantity"),
        pl.col("_repl_price").cast(trades.schema["price"]).alias("price"),
        amount.alias("amount"),
        (amount * pl.col("_rate").fill_null(0)).cast(AMT).alias("estimated_cost"),
        text(
            "{}; bought as {}: {} is sold for a tax-loss harvest (a wash sale otherwise)",
            pl.col("reason").fill_null("buy"),
            pl.col("replacement_id"),
            pl.col("security_id"),
        ).alias("reason"),
    )
    changed = [c for c in new.columns if c != "_row"]
    return (
        trades.with_row_index("_row")
        .join(new, on="_row", how="left", suffix="_new")
        .with_columns(
            pl.coalesce(pl.col(f"{c}_new"), pl.col(c)).cast(trades.schema[c]).alias(c)
            for c in changed
        )
        .sort("_row")
        .select(trades.columns)
    )


def propose(
    trades: pl.DataFrame,
    holdings: pl.DataFrame,
    lot_frame: pl.DataFrame,
    candidates: pl.DataFrame,
    settings: pl.DataFrame,
    accounts: pl.DataFrame,
    securities: pl.DataFrame,
    transactions: pl.DataFrame,
    restrictions: pl.DataFrame,
    costs: pl.DataFrame,
    harvest: pl.DataFrame,
    as_of: dt.date,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(``trades`` with the buys of a security harvested steered to its replacement, row for
    row (``_steer``); the harvest's trades, in ``trades``' columns plus ``MARK``; the lots each
    harvest sale relieves, ``lots.relieve`` rows with ``trade_id`` = the sale's row in
    ``trades`` followed by the harvest's trades; warnings). ``trades``: the engines' proposal;
    ``harvest``: ``harvest_settings``; the rest as ``TradingInputs`` holds them. See the module
    docstring."""
    pairs = harvest.filter(pl.col("security_id").is_not_null())
    no_trades = trades.head(0).with_columns(pl.lit(True).alias(MARK))
    empty = (trades, no_trades, pl.DataFrame(), pl.DataFrame(schema=_NO_WARNINGS))
    if pairs.is_empty():
        return empty
    groups = securities.select("security_id", "identical_group").unique("security_id")
    hkeys = ["portfolio_id", "account_id", "security_id"]
    zero = pl.lit(0).cast(GAIN)
    # 1. loss lots: taxable accounts of opted-in portfolios, both thresholds per lot
    loss = pl.col("cost_basis").cast(GAIN) - pl.col("lot_quantity").cast(GAIN) * pl.col("price")
    lot_rows = (
        lot_frame.rename({"quantity": "lot_quantity"})
        .join(
            accounts.filter(pl.col("tax_status") == wash_sales.TAXABLE).select(
                "portfolio_id", "account_id"
            ),
            on="account_id",
        )
        .join(
            harvest.select("portfolio_id", "min_loss", "min_loss_pct").unique(), on="portfolio_id"
        )
        .join(holdings.select(*hkeys, "asset_class", pl.col("price").cast(GAIN)), on=hkeys)
        .filter(pl.col("price") > 0)
        .with_columns(loss.cast(GAIN).alias("_lot_loss"))
        .filter(
            (pl.col("_lot_loss") >= pl.col("min_loss"))
            & (pl.col("_lot_loss") >= pl.col("min_loss_pct") * pl.col("cost_basis").cast(GAIN))
            & (pl.col("_lot_loss") > 0)
        )
    )
    if lot_rows.is_empty():
        return empty
    cand = (
        lot_rows.group_by(*hkeys, "asset_class", "price")
        .agg(
            pl.col("lot_quantity").cast(GAIN).sum().alias("quantity"),
            pl.col("_lot_loss").sum().cast(GAIN).alias("loss"),
            pl.len().cast(pl.UInt32).alias("n_lots"),
        )
        .join(
            pairs.select("portfolio_id", "security_id", "replacement_id"),
            on=["portfolio_id", "security_id"],
            how="left",
        )
        .join(settings.select("portfolio_id", "base_currency", "whole_shares"), on="portfolio_id")
        .join(
            candidates.filter(pl.col("price") > 0).select(
                "base_currency",
                pl.col("security_id").alias("replacement_id"),
                pl.col("asset_class").alias("_repl_class"),
                pl.col("price").cast(GAIN).alias("_repl_price"),
            ),
            on=["base_currency", "replacement_id"],
            how="left",
        )
        .pipe(_keyed, "security_id", groups, "_key")
        .pipe(_keyed, "replacement_id", groups, "_repl_key")
        .sort(hkeys)
    )
    rules = restrictions.select("portfolio_id", "security_id", "rule")

    def restricted(col: str, rule: str) -> pl.Expr:
        listed = rules.filter(pl.col("rule") == rule).select(
            text("{}|{}", pl.col("portfolio_id"), pl.col("security_id"))
        )
        return text("{}|{}", pl.col("portfolio_id"), pl.col(col)).is_in(
            listed.to_series().implode()
        )

    def member(keys: pl.DataFrame, key_col: str) -> pl.Expr:
        """The candidate's (portfolio, ``key_col``) is among ``keys`` (portfolio_id, key)."""
        flat = keys.select(text("{}|{}", pl.col("portfolio_id"), pl.col("key"))).to_series()
        return text("{}|{}", pl.col("portfolio_id"), pl.col(key_col)).is_in(flat.implode())

    def trade_keys(side: str) -> pl.DataFrame:
        return _keyed(trades.filter(pl.col("side") == side), "security_id", groups, "key")

    bought_recently = _keyed(
        wash_sales.recent_purchases(transactions, accounts, securities, as_of),
        "security_id",
        groups,
        "key",
    )
    recent_losses = wash_sales.recent_loss_sales(transactions, accounts, groups, as_of).select(
        "portfolio_id", match_key(pl.col("security_id"), pl.col("identical_group")).alias("key")
    )
    sold_here = trades.filter(pl.col("side") == "sell").select(hkeys).unique()
    warns = []
    checks: list[tuple[pl.Expr, str]] = [
        (pl.col("replacement_id").is_null(), "no replacement is set in the IPS"),
        (pl.col("_repl_price").is_null(), "its replacement {} has no price"),
        (pl.col("_repl_class") != pl.col("asset_class"), "its replacement {} is in another class"),
        (pl.col("_repl_key") == pl.col("_key"), "its replacement {} is substantially identical"),
        (restricted("replacement_id", "do_not_buy"), "its replacement {} is on do_not_buy"),
        (restricted("security_id", "do_not_sell"), "it is on do_not_sell"),
        (
            member(bought_recently.select("portfolio_id", "key"), "_key"),
            "the household bought it in the last 30 days (a wash sale)",
        ),
        (
            text("{}|{}|{}", *hkeys).is_in(
                sold_here.select(text("{}|{}|{}", *hkeys)).to_series().implode()
            ),
            "the proposal already sells it in this account",
        ),
        (
            member(recent_losses, "_repl_key")
            | member(trade_keys("sell").select("portfolio_id", "key"), "_repl_key"),
            "buying its replacement {} would wash a loss sale of it",
        ),
    ]
    for hit, why in checks:
        cand, w = _skip(cand, hit.fill_null(False), why)
        warns.append(w)
    # harvests of one household that would wash each other: both skipped
    sells = cand.select("portfolio_id", pl.col("_key").alias("key")).unique()
    buys = cand.select("portfolio_id", pl.col("_repl_key").alias("key")).unique()
    cand, w = _skip(
        cand,
        member(buys, "_key") | member(sells, "_repl_key"),
        "another harvest of the household buys or sells it or its replacement {}",
    )
    warns.append(w)
    # the proposal's own buys of a security harvested go to its replacement instead
    rate = cost_rates(costs).rename({"cost_rate": "_rate"})
    trades = _steer(trades, cand, groups, rate)
    cand, w = _skip(
        cand,
        member(trade_keys("buy").select("portfolio_id", "key"), "_key"),
        "the proposal buys it (a wash sale) and its replacement {} cannot take the buy",
    )
    warns.append(w)
    # 2. sizes: the sale's proceeds less its cost buy the replacement, its cost included
    sized = (
        cand.join(rate, on=["portfolio_id", "asset_class"], how="left")
        .with_columns(pl.col("_rate").fill_null(0).cast(GAIN))
        .with_columns((pl.col("quantity") * pl.col("price")).cast(AMT).alias("_sell_amount"))
        .with_columns((pl.col("_sell_amount") * (1 - pl.col("_rate"))).cast(GAIN).alias("_cash"))
        .with_columns(
            round_quantity(
                pl.col("_cash") / (pl.col("_repl_price") * (1 + pl.col("_rate"))), up=False
            ).alias("_buy_q")
        )
    )
    sized, w = _skip(sized, pl.col("_buy_q") <= 0, "its proceeds buy no whole share of {}")
    warns.append(w)
    warnings = pl.concat(warns)
    if sized.is_empty():
        return trades, no_trades, pl.DataFrame(), warnings
    reason = text(
        "tax-loss harvest: sell {} lots at a loss of ${}; buy {} instead (not substantially "
        "identical)",
        pl.col("n_lots"),
        pl.col("loss").cast(pl.Decimal(38, 2)),
        pl.col("replacement_id"),
    ).alias("reason")
    common = ["portfolio_id", "account_id", "asset_class"]
    leg_sell = sized.select(
        *common,
        "security_id",
        pl.lit("sell").alias("side"),
        pl.col("quantity").cast(trades.schema["quantity"]),
        pl.col("price").cast(trades.schema["price"]),
        reason,
        pl.col("_sell_amount").cast(AMT).alias("amount"),
        (pl.col("_sell_amount") * pl.col("_rate")).cast(AMT).alias("estimated_cost"),
    )
    buy_amount = (pl.col("_buy_q") * pl.col("_repl_price")).cast(AMT)
    leg_buy = sized.select(
        *common,
        pl.col("replacement_id").alias("security_id"),
        pl.lit("buy").alias("side"),
        pl.col("_buy_q").cast(trades.schema["quantity"]).alias("quantity"),
        pl.col("_repl_price").cast(trades.schema["price"]).alias("price"),
        reason,
        buy_amount.alias("amount"),
        (buy_amount * pl.col("_rate")).cast(AMT).alias("estimated_cost"),
    )
    # sale then buy per harvested position, in (portfolio, account, security) order
    legs = (
        pl.concat(
            [
                leg_sell.with_row_index("_pos").with_columns(pl.lit(0).alias("_leg")),
                leg_buy.with_row_index("_pos").with_columns(pl.lit(1).alias("_leg")),
            ]
        )
        .sort("_pos", "_leg")
        .drop("_pos", "_leg")
        .with_columns(pl.lit(True).alias(MARK))
    )
    new = pl.concat(
        [no_trades, legs.with_columns(zero.alias("realized_gain_short_term"))],
        how="diagonal_relaxed",
    ).select(no_trades.columns)
    # 3. the lots each sale relieves: exactly its loss lots
    offset = trades.height
    sale_ids = (
        new.with_row_index("trade_id")
        .with_columns((pl.col("trade_id") + offset).cast(pl.UInt32))
        .filter(pl.col("side") == "sell")
    )
    sells = (
        sale_ids.join(
            settings.select("portfolio_id", *lots.RELIEF_SETTINGS), on="portfolio_id"
        ).join(lots.account_rates(settings, accounts), on=["portfolio_id", "account_id"])
    ).select(
        "trade_id",
        "account_id",
        "security_id",
        "quantity",
        "price",
        *lots.RELIEF_SETTINGS,
        *lots.RATES,
    )
    chosen = lot_frame.join(
        lot_rows.select("account_id", "security_id", "lot_id"),
        on=["account_id", "security_id", "lot_id"],
        how="semi",
    )
    relieved = lots.relieve(sells, chosen, as_of)
    return trades, new, relieved, warnings


def summary(trades: pl.DataFrame, harvest: pl.DataFrame) -> pl.DataFrame:
    """``SUMMARY_SCHEMA``, one row per portfolio of ``harvest`` (``harvest_settings``, narrowed
    by the caller to the portfolios reviewed): the loss the final proposal's harvest sales
    realise (positive, net of any loss the wash-sale rule disallows; ``short_term_loss`` and
    ``long_term_loss`` are the realised losses by holding period before that),
    the tax it saves (= −their ``estimated_tax``, the IPS rates federal + state) and the number
    of harvest trades (sales and buys). ``trades``: after ``tax_detail.finish``, with ``MARK``
    (absent: nothing was harvested)."""
    zero = pl.lit(0).cast(GAIN)
    if MARK not in trades.columns:
        trades = trades.with_columns(pl.lit(False).alias(MARK))
    mine = trades.filter(pl.col(MARK).fill_null(False))
    sale = pl.col("side") == "sell"
    st = pl.col("realized_gain_short_term").fill_null(0).cast(GAIN)
    lt = pl.col("realized_gain_long_term").fill_null(0).cast(GAIN)
    dis = pl.col("wash_sale_disallowed").fill_null(0).cast(GAIN)
    per = mine.group_by("portfolio_id").agg(
        (-(st + lt + dis)).filter(sale).sum().cast(GAIN).alias("losses_harvested"),
        (-st).filter(sale).sum().cast(GAIN).alias("short_term_loss"),
        (-lt).filter(sale).sum().cast(GAIN).alias("long_term_loss"),
        (-pl.col("estimated_tax").fill_null(0)).filter(sale).sum().cast(GAIN).alias("tax_saved"),
        pl.len().cast(pl.UInt32).alias("trades"),
    )
    return (
        harvest.select("portfolio_id")
        .unique()
        .join(per, on="portfolio_id", how="left")
        .with_columns(
            pl.col("losses_harvested", "short_term_loss", "long_term_loss", "tax_saved").fill_null(
                zero
            ),
            pl.col("trades").fill_null(0),
        )
        .select(SUMMARY_SCHEMA.names())
        .cast(SUMMARY_SCHEMA)
        .sort("portfolio_id")
    )
