"""The household's gains budget and the year's tax estimate (pure Polars; both engines).

IPS ``tax`` fields (``TaxPolicy``), per portfolio (a portfolio is the household):

- ``max_net_gain``: the most net realised gain (short- plus long-term, losses netted) the
  household may realise in the calendar year of the review date, sales already made this year
  included;
- ``state_rate``: added to the federal ``short_term_rate`` and ``long_term_rate`` in every
  estimate (``with_state_rates``); an account may set rates of its own (IPS ``accounts[]``,
  ``lots.account_rates``), used in every per-sale estimate; this module's household netting
  taxes the net at the IPS's rates;
- ``loss_carryforward``: net capital loss carried in from prior years (26 U.S.C. 1212(b)),
  applied first.

**Year to date** (``ytd_realised``): the transactions carry a sale's proceeds, not its cost, so
the cost of each SELL of the year in a taxable account is taken first in, first out from the
account's BUY and REINVEST transactions of the security up to the sale (the custodians' default
relief, as ``wash_sales.recent_loss_sales``), each matched purchase short- or long-term by its
own date. Shares no purchase covers (the history starts later) count at zero cost, short-term:
the worst case, so the budget is never overstated, and a warning names the sale.

**The budget** (``allowed``): the proposal may realise at most max(max_net_gain − year-to-date
net, 0) of net gain. Once the year is over budget it may realise no net gain; it is never made to
realise losses for their own sake (tax-loss harvesting is separate and opt-in: ``harvest``
runs before ``trim``, so its losses make room in the budget). The optimiser has it as a row of its
programme (exact, up to its tolerance); the heuristic relieves lots least gain first when its
usual order would go over (``least_gain_relief``), and ``trim`` then cuts sales, highest gain
per dollar first, for both engines (for the optimiser only a safety net for rounding). A cap
that cannot be met while restoring the bands is honoured: the classes stay away from their
destinations and warnings say so.

**The estimate** (``estimate``, IRS Publication 550, "Capital Losses"): short-term and
long-term gains and losses are each netted (the carry-forward counted as a long-term loss: the
IPS gives no split, and a long-term loss offsets the lower-taxed gains first, so the estimate
is never too low); a net loss in one term offsets a net gain in the other; what remains is taxed
at the rate of its term (federal + state). A net loss overall is deducted from ordinary income
up to $3,000 (26 U.S.C. 1211(b); $1,500 married filing separately is not modelled), saving tax
at the short-term (ordinary) rate, and the rest is carried to next year (1212(b)). Figures
worked by hand in ``tests/trading/test_gains_budget.py``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import polars as pl

from ballast.portfolio.policy import Policy
from ballast.portfolio.quantities import plain
from ballast.portfolio.text import text
from ballast.trading import lots
from ballast.trading.lots import GAIN
from ballast.trading.wash_sales import _cash, _resize, _scale_buys

LOSS_LIMIT = Decimal(3000)
"""Net capital loss deductible from ordinary income per year (26 U.S.C. 1211(b))."""
MONEY = pl.Decimal(38, 4)
FRACTION = pl.Decimal(38, 10)
BUDGET_SCHEMA = pl.Schema(
    {
        "portfolio_id": pl.String(),
        "max_net_gain": MONEY,
        "state_rate": FRACTION,
        "loss_carryforward": MONEY,
    }
)
"""``budget_settings``: one row per portfolio whose IPS sets any of the three fields."""
YTD_SCHEMA = pl.Schema(
    {
        "portfolio_id": pl.String(),
        "ytd_short_term": GAIN,
        "ytd_long_term": GAIN,
        "ytd_unknown_cost_sales": pl.UInt32(),
    }
)


def budget_settings(policies: list[Policy]) -> pl.DataFrame:
    """``BUDGET_SCHEMA`` rows for the policies that set a budget, a state rate or a loss
    carry-forward; the others have no row (no budget, no estimate, nothing in the report)."""
    rows = [
        (p.id, p.tax.max_net_gain, p.tax.state_rate or Decimal(0), p.tax.loss_carryforward)
        for p in policies
        if p.tax.max_net_gain is not None or p.tax.state_rate is not None or p.tax.loss_carryforward
    ]
    return pl.DataFrame(rows, orient="row", schema=BUDGET_SCHEMA)


def with_state_rates(settings: pl.DataFrame, budgets: pl.DataFrame | None) -> pl.DataFrame:
    """``settings`` with ``short_term_rate`` and ``long_term_rate`` each raised by the IPS
    ``state_rate``: the rates every estimate, the ``min_tax`` lot order and the optimiser read."""
    if budgets is None or budgets.is_empty():
        return settings
    rates = ("short_term_rate", "long_term_rate")
    return (
        settings.join(
            budgets.select("portfolio_id", pl.col("state_rate").alias("_state")),
            on="portfolio_id",
            how="left",
        )
        .with_columns(
            (pl.col(r) + pl.col("_state").fill_null(0)).cast(settings.schema[r]).alias(r)
            for r in rates
        )
        .drop("_state")
    )


def _year_start(as_of: dt.date) -> dt.date:
    return dt.date(as_of.year, 1, 1)


def sale_pieces(
    transactions: pl.DataFrame, accounts: pl.DataFrame, start: dt.date, end: dt.date
) -> pl.DataFrame:
    """SELLs from ``start`` to ``end`` in taxable accounts, matched first in, first out to the
    account's BUY and REINVEST of the security up to the sale: one row per (sale, purchase
    matched), plus one row with a null ``acquired_date`` for shares no purchase covers.
    Columns: portfolio_id, transaction_id, account_id, security_id, trade_date,
    acquired_date, quantity, gain (proceeds less cost; zero cost when uncovered), long_term."""
    pos = ["account_id", "security_id"]
    tx = transactions.join(
        accounts.select("portfolio_id", "account_id", "tax_status"), on="account_id"
    ).filter((pl.col("tax_status") == "taxable") & pl.col("security_id").is_not_null())
    q = pl.col("quantity").cast(GAIN).abs()

    def ranges(frame: pl.DataFrame, prefix: str) -> pl.DataFrame:
        end_ = q.cum_sum().over(pos, order_by=["trade_date", "transaction_id"])
        return frame.with_columns(end_.alias(f"{prefix}_end")).with_columns(
            (pl.col(f"{prefix}_end") - q).alias(f"{prefix}_start")
        )

    acq = ranges(tx.filter(pl.col("type").is_in(["BUY", "REINVEST"]) & (q > 0)), "a").select(
        *pos,
        pl.col("trade_date").alias("acquired_date"),
        "a_start",
        "a_end",
        (pl.col("amount").cast(GAIN).abs() / q).alias("_cost_ps"),
    )
    sells = (
        ranges(tx.filter((pl.col("type") == "SELL") & (q > 0)), "s")
        .filter(pl.col("trade_date").is_between(start, end))
        .select(
            "portfolio_id",
            "transaction_id",
            *pos,
            "trade_date",
            "s_start",
            "s_end",
            q.alias("_sold"),
            (pl.col("amount").cast(GAIN).abs() / q).cast(GAIN).alias("_px"),
        )
    )
    overlap = pl.max_horizontal(
        pl.lit(0).cast(GAIN),
        pl.min_horizontal("s_end", "a_end") - pl.max_horizontal("s_start", "a_start"),
    )
    matched = (
        sells.join(acq, on=pos)
        .filter(pl.col("acquired_date") <= pl.col("trade_date"))
        .with_columns(overlap.cast(GAIN).alias("quantity"))
        .filter(pl.col("quantity") > 0)
        .with_columns((pl.col("quantity") * (pl.col("_px") - pl.col("_cost_ps"))).alias("gain"))
    )
    covered = matched.group_by("transaction_id").agg(pl.col("quantity").sum().alias("_cov"))
    uncovered = (
        sells.join(covered, on="transaction_id", how="left")
        .with_columns((pl.col("_sold") - pl.col("_cov").fill_null(0)).alias("quantity"))
        .filter(pl.col("quantity") > 0)
        .with_columns(
            pl.lit(None, pl.Date).alias("acquired_date"),
            (pl.col("quantity") * pl.col("_px")).alias("gain"),
        )
    )
    cols = [
        "portfolio_id",
        "transaction_id",
        *pos,
        "trade_date",
        "acquired_date",
        pl.col("quantity").cast(GAIN),
        pl.col("gain").cast(GAIN),
        pl.when(pl.col("acquired_date").is_null())
        .then(False)
        .otherwise(lots.is_long_term(pl.col("acquired_date"), pl.col("trade_date")))
        .alias("long_term"),
    ]
    return pl.concat([matched.select(cols), uncovered.select(cols)]).sort(
        "portfolio_id", "trade_date", "transaction_id", "acquired_date", nulls_last=True
    )


def ytd_realised(
    transactions: pl.DataFrame | None, accounts: pl.DataFrame, as_of: dt.date
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(``YTD_SCHEMA`` per portfolio with a sale this year, warnings): the net gain realised
    by the year's taxable sales up to ``as_of`` (``sale_pieces``), short- and long-term."""
    empty = pl.DataFrame(schema=YTD_SCHEMA)
    no_warnings = pl.DataFrame(schema={"portfolio_id": pl.String, "message": pl.String})
    if transactions is None or transactions.is_empty():
        return empty, no_warnings
    pieces = sale_pieces(transactions, accounts, _year_start(as_of), as_of)
    unknown = pieces.filter(pl.col("acquired_date").is_null())
    ytd = pieces.group_by("portfolio_id").agg(
        pl.col("gain").filter(~pl.col("long_term")).sum().cast(GAIN).alias("ytd_short_term"),
        pl.col("gain").filter(pl.col("long_term")).sum().cast(GAIN).alias("ytd_long_term"),
        pl.col("transaction_id")
        .filter(pl.col("acquired_date").is_null())
        .n_unique()
        .cast(pl.UInt32)
        .alias("ytd_unknown_cost_sales"),
    )
    warnings = unknown.select(
        "portfolio_id",
        text(
            "gains budget: the purchases in the transactions cover only part of sale {} of {} in "
            "account {} on {}: {} shares counted at zero cost, short-term (${} of gain), so the "
            "year-to-date realised gain may be overstated",
            pl.col("transaction_id"),
            pl.col("security_id"),
            pl.col("account_id"),
            pl.col("trade_date"),
            plain(pl.col("quantity")),
            pl.col("gain").cast(pl.Decimal(38, 2)),
        ).alias("message"),
    )
    return ytd.select(YTD_SCHEMA.names()).sort("portfolio_id"), warnings


def allowed(
    budgets: pl.DataFrame | None,
    transactions: pl.DataFrame | None,
    accounts: pl.DataFrame,
    as_of: dt.date | None,
    portfolios: pl.DataFrame,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(one row per portfolio of ``portfolios`` with budget settings: ``BUDGET_SCHEMA``,
    year, the year to date (``YTD_SCHEMA``) and ``allowed``, the net gain the proposal may
    still realise (null: no cap); warnings about the year to date)."""
    schema = pl.Schema(
        {**BUDGET_SCHEMA, "year": pl.Int32(), **YTD_SCHEMA, "allowed": GAIN}
    )  # portfolio_id once
    none = pl.DataFrame(schema={"portfolio_id": pl.String, "message": pl.String})
    if budgets is None or budgets.is_empty() or as_of is None:
        return pl.DataFrame(schema=schema), none
    frame = budgets.join(portfolios.select("portfolio_id").unique(), on="portfolio_id", how="semi")
    ytd, warnings = ytd_realised(transactions, accounts, as_of)
    zero = pl.lit(0).cast(GAIN)
    net = pl.col("ytd_short_term") + pl.col("ytd_long_term")
    out = (
        frame.join(ytd, on="portfolio_id", how="left")
        .with_columns(
            pl.lit(as_of.year, pl.Int32).alias("year"),
            pl.col("ytd_short_term", "ytd_long_term").fill_null(zero),
            pl.col("ytd_unknown_cost_sales").fill_null(0),
        )
        .with_columns(
            pl.when(pl.col("max_net_gain").is_not_null())
            .then(pl.max_horizontal(pl.col("max_net_gain").cast(GAIN) - net, zero))
            .cast(GAIN)
            .alias("allowed")
        )
        .sort("portfolio_id")
    )
    return out.select(schema.names()), warnings.join(frame, on="portfolio_id", how="semi")


# --- the proposal's realised gain -------------------------------------------------------------


def recognised(
    trades: pl.DataFrame, relieved: pl.DataFrame, matches: pl.DataFrame, accounts: pl.DataFrame
) -> pl.DataFrame:
    """One row per (taxable sell, lot relieved) of ``trades`` (``trade_id`` = row index, as
    ``wash_sales.check_proposal`` returns them), plus one per sell for the shares no lot covers
    (``lot_id`` null: zero cost, short-term, the worst case): portfolio_id, trade_id, lot_id,
    long_term, quantity, price, gain = the gain the sale realises for tax: the lot's gain plus
    the loss the wash-sale rule disallows on it."""
    sells = (
        trades.with_row_index("trade_id")
        .join(
            accounts.select("portfolio_id", "account_id", "tax_status"),
            on=["portfolio_id", "account_id"],
        )
        .filter((pl.col("side") == "sell") & (pl.col("tax_status") == "taxable"))
        .select("trade_id", "portfolio_id", pl.col("quantity").cast(GAIN), "price")
    )
    washed = (
        matches.filter(pl.col("trade_id").is_not_null())
        .group_by("trade_id", "lot_id")
        .agg(pl.col("disallowed").sum().cast(GAIN).alias("_dis"))
    )
    lot_rows = (
        relieved.filter(pl.col("lot_id").is_not_null())
        .select(
            pl.col("trade_id").cast(pl.UInt32),
            "lot_id",
            "long_term",
            pl.col("relieved").cast(GAIN).alias("lot_quantity"),
            pl.col("gain").cast(GAIN),
        )
        .join(
            washed.with_columns(pl.col("trade_id").cast(pl.UInt32)),
            on=["trade_id", "lot_id"],
            how="left",
        )
        .join(sells, on="trade_id")
        .select(
            "portfolio_id",
            "trade_id",
            "lot_id",
            "long_term",
            pl.col("lot_quantity").alias("quantity"),
            "price",
            (pl.col("gain") + pl.col("_dis").fill_null(0)).cast(GAIN).alias("gain"),
        )
    )
    covered = lot_rows.group_by("trade_id").agg(pl.col("quantity").sum().alias("_cov"))
    rest = (
        sells.join(covered, on="trade_id", how="left")
        .with_columns(
            (pl.col("quantity") - pl.col("_cov").fill_null(0)).cast(GAIN).alias("quantity")
        )
        .filter(pl.col("quantity") > 0)
        .select(
            "portfolio_id",
            "trade_id",
            pl.lit(None, pl.String).alias("lot_id"),
            pl.lit(False).alias("long_term"),
            "quantity",
            "price",
            (pl.col("quantity") * pl.col("price").cast(GAIN)).cast(GAIN).alias("gain"),
        )
    )
    return pl.concat([lot_rows, rest]).sort("trade_id", "lot_id", nulls_last=True)


def proposed(rows: pl.DataFrame) -> pl.DataFrame:
    """Per portfolio: the proposal's short- and long-term recognised gain (``recognised``)."""
    return rows.group_by("portfolio_id").agg(
        pl.col("gain").filter(~pl.col("long_term")).sum().cast(GAIN).alias("proposed_short_term"),
        pl.col("gain").filter(pl.col("long_term")).sum().cast(GAIN).alias("proposed_long_term"),
    )


# --- the heuristic: lots least gain first when over budget ------------------------------------


def least_gain_relief(
    trades: pl.DataFrame,
    relieved: pl.DataFrame,
    settings: pl.DataFrame,
    accounts: pl.DataFrame,
    budget: pl.DataFrame,
) -> pl.DataFrame:
    """``settings`` with ``lot_method: hifo`` (highest cost first: least gain per share, for a
    holding has one price) for the portfolios whose sales, relieved in their IPS order
    (``relieved``), realise more net gain than ``budget.allowed``; the others unchanged."""
    capped = budget.filter(pl.col("allowed").is_not_null())
    if capped.is_empty() or trades.is_empty():
        return settings
    empty = pl.DataFrame(schema={"trade_id": pl.UInt32, "lot_id": pl.String, "disallowed": GAIN})
    rows = recognised(trades, relieved, empty, accounts)
    over = (
        proposed(rows)
        .join(capped.select("portfolio_id", "allowed"), on="portfolio_id")
        .filter(pl.col("proposed_short_term") + pl.col("proposed_long_term") > pl.col("allowed"))
        .select("portfolio_id", pl.lit(True).alias("_over"))
    )
    if over.is_empty():
        return settings
    return (
        settings.join(over, on="portfolio_id", how="left")
        .with_columns(
            pl.when(pl.col("_over").fill_null(False))
            .then(pl.lit("hifo"))
            .otherwise(pl.col("lot_method"))
            .alias("lot_method")
        )
        .drop("_over")
    )


# --- both engines: sales cut to the budget --------------------------------------------------


def _unit(whole: pl.Expr) -> pl.Expr:
    return pl.when(whole).then(pl.lit(1)).otherwise(pl.lit(Decimal("0.000001"))).cast(GAIN)


def trim(
    trades: pl.DataFrame,
    relieved: pl.DataFrame,
    matches: pl.DataFrame,
    accounts: pl.DataFrame,
    settings: pl.DataFrame,
    budget: pl.DataFrame,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Cut the sales of every portfolio whose proposal realises more net gain than
    ``budget.allowed``: the lots with the most recognised gain per dollar sold go first,
    across all its taxable sales, until the excess is gone (whole shares rounded up, never
    into a loss lot); each cut sale keeps its least-gain lots; each account's buys shrink by the
    cash its sales no longer raise. ``trades``, ``relieved``, ``matches`` as
    ``wash_sales.check_proposal`` returns them (trade ids = row indices, renumbered here when
    a trade is dropped). Returns (trades, relieved, matches, warnings)."""
    no_warnings = pl.DataFrame(schema={"portfolio_id": pl.String, "message": pl.String})
    capped = budget.filter(pl.col("allowed").is_not_null())
    if capped.is_empty() or trades.is_empty():
        return trades, relieved, matches, no_warnings
    rows = recognised(trades, relieved, matches, accounts)
    excess = (
        proposed(rows)
        .join(capped.select("portfolio_id", "allowed", "max_net_gain"), on="portfolio_id")
        .with_columns(
            (pl.col("proposed_short_term") + pl.col("proposed_long_term") - pl.col("allowed"))
            .cast(GAIN)
            .alias("excess")
        )
        .filter(pl.col("excess") > 0)
    )
    if excess.is_empty():
        return trades, relieved, matches, no_warnings
    whole = settings.select("portfolio_id", "whole_shares")
    cand = (
        rows.join(excess.select("portfolio_id", "excess"), on="portfolio_id")
        .filter(pl.col("gain") > 0)
        .with_columns(
            (pl.col("gain") / (pl.col("quantity") * pl.col("price").cast(GAIN))).alias("_gpd")
        )
        .sort(
            "portfolio_id",
            "_gpd",
            "trade_id",
            "lot_id",
            descending=[False, True, False, False],
            nulls_last=True,
        )
    )
    before = (pl.col("gain").cum_sum() - pl.col("gain")).over("portfolio_id")
    need = pl.min_horizontal(
        pl.col("gain"), pl.max_horizontal(pl.col("excess") - before, pl.lit(0).cast(GAIN))
    )
    per_trade = (
        cand.with_columns(need.cast(GAIN).alias("_cut_gain"))
        .with_columns(
            (pl.col("_cut_gain") / pl.col("gain") * pl.col("quantity")).cast(GAIN).alias("_cut")
        )
        .group_by("portfolio_id", "trade_id")
        .agg(pl.col("_cut").sum(), pl.col("quantity").sum().alias("_gain_shares"))
        .filter(pl.col("_cut") > 0)
        .join(whole, on="portfolio_id")
        .with_columns(_unit(pl.col("whole_shares")).alias("_u"))
        .with_columns(
            pl.min_horizontal(
                (pl.col("_cut") / pl.col("_u")).ceil() * pl.col("_u"), pl.col("_gain_shares")
            )
            .cast(GAIN)
            .alias("_cut")
        )
        .select("trade_id", "_cut")
    )
    frame = trades.with_row_index("trade_id")
    old = frame.join(per_trade, on="trade_id")
    resized = _resize(old, (pl.col("quantity").cast(GAIN) - pl.col("_cut")))
    lost = (
        old.select("trade_id", "portfolio_id", "account_id", _cash("sell").alias("_old"))
        .join(resized.select("trade_id", _cash("sell").alias("_new")), on="trade_id")
        .group_by("portfolio_id", "account_id")
        .agg((pl.col("_old") - pl.col("_new")).sum().alias("_lost"))
    )
    frame = pl.concat(
        [
            frame.join(per_trade, on="trade_id", how="anti"),
            resized.filter(pl.col("quantity") > 0).select(frame.columns),
        ]
    ).sort("trade_id")
    kept = (
        _scale_buys(frame.join(whole, on="portfolio_id", how="left"), lost)
        .sort("trade_id")
        .select(frame.columns)
    )
    new_relieved = _re_relieve(relieved, rows, kept, per_trade)
    warnings = pl.concat(
        [
            _cut_warnings(old, resized, excess, budget),
            _buy_warnings(frame, kept, lost),
        ]
    )
    return (*_renumbered(kept, new_relieved, matches, trades.columns), warnings)


def _re_relieve(
    relieved: pl.DataFrame, rows: pl.DataFrame, kept: pl.DataFrame, cut: pl.DataFrame
) -> pl.DataFrame:
    """The relieved lots of each cut sale: its kept quantity from its least-gain lots first
    (losses, then the smallest gain per share; the lots ``trim`` cut are the others)."""
    ids = cut.select("trade_id")
    untouched = relieved.join(ids, on="trade_id", how="anti")
    q = pl.col("relieved").cast(GAIN)
    per_share = rows.select(
        "trade_id", "lot_id", (pl.col("gain") / pl.col("quantity")).alias("_gps")
    )
    frame = (
        relieved.join(ids, on="trade_id", how="semi")
        .join(per_share, on=["trade_id", "lot_id"], how="left")
        .join(kept.select("trade_id", pl.col("quantity").cast(GAIN).alias("_keep")), on="trade_id")
        .sort("trade_id", "_gps", "lot_id")
        .with_columns((q.cum_sum() - q).over("trade_id").alias("_before"))
        .with_columns(
            pl.min_horizontal(
                q, pl.max_horizontal(pl.col("_keep") - pl.col("_before"), pl.lit(0).cast(GAIN))
            ).alias("_new")
        )
        .filter(pl.col("_new") > 0)
        .with_columns(
            # the lot's gain pro rata: proceeds and cost both scale with the shares relieved
            (pl.col("gain").cast(GAIN) * pl.col("_new") / q)
            .cast(relieved.schema["gain"])
            .alias("gain"),
            pl.col("_new").cast(relieved.schema["relieved"]).alias("relieved"),
        )
        .drop("_gps", "_keep", "_before", "_new")
    )
    return pl.concat([untouched, frame.select(untouched.columns)]).sort("trade_id")


def _renumbered(
    kept: pl.DataFrame, relieved: pl.DataFrame, matches: pl.DataFrame, columns: list[str]
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Trades without their ``trade_id``; relieved and matches with trade ids renumbered to
    the kept trades' rows (a match whose proposed buy was dropped is dropped with it)."""
    renumber = kept.select("trade_id").with_row_index("_row")
    ids = kept.select("trade_id")
    rel = (
        relieved.join(ids, on="trade_id", how="semi")
        .join(renumber, on="trade_id")
        .drop("trade_id")
        .rename({"_row": "trade_id"})
        .select(relieved.columns)
    )
    m = matches
    if not m.is_empty():
        keep = pl.col("trade_id_replacement").is_null() | pl.col("trade_id_replacement").is_in(
            ids["trade_id"].implode()
        )
        m = m.filter(keep)
        for col in ("trade_id", "trade_id_replacement"):
            m = (
                m.join(renumber.rename({"trade_id": col}), on=col, how="left")
                .with_columns(pl.col("_row").cast(m.schema[col]).alias(col))
                .drop("_row")
            )
    return kept.select(columns), rel, m


def _cut_warnings(
    old: pl.DataFrame, resized: pl.DataFrame, excess: pl.DataFrame, budget: pl.DataFrame
) -> pl.DataFrame:
    info = budget.select(
        "portfolio_id",
        "year",
        "max_net_gain",
        (pl.col("ytd_short_term") + pl.col("ytd_long_term")).alias("_ytd"),
    )
    return (
        old.select("trade_id", "portfolio_id", "account_id", "security_id", "quantity")
        .join(resized.select("trade_id", pl.col("quantity").alias("_new")), on="trade_id")
        .join(info, on="portfolio_id")
        .sort("trade_id")
        .select(
            "portfolio_id",
            text(
                "gains budget: the sale of {} in account {} is cut from {} to {} shares so the "
                "{} net realised gain stays within max_net_gain ${} (${} realised so far this "
                "year); its class stays short of its destination",
                pl.col("security_id"),
                pl.col("account_id"),
                plain(pl.col("quantity")),
                plain(pl.col("_new")),
                pl.col("year"),
                pl.col("max_net_gain").cast(pl.Decimal(38, 2)),
                pl.col("_ytd").cast(pl.Decimal(38, 2)),
            ).alias("message"),
        )
    )


def _buy_warnings(before: pl.DataFrame, kept: pl.DataFrame, lost: pl.DataFrame) -> pl.DataFrame:
    buys = before.filter(pl.col("side") == "buy").join(
        lost.filter(pl.col("_lost") > 0), on=["portfolio_id", "account_id"], how="semi"
    )
    return (
        buys.join(
            kept.select("trade_id", pl.col("quantity").alias("_new")), on="trade_id", how="left"
        )
        .filter(pl.col("_new").is_null() | (pl.col("_new") != pl.col("quantity")))
        .sort("trade_id")
        .select(
            "portfolio_id",
            text(
                "gains budget: the buy of {} in account {} is reduced from {} to {} shares: the "
                "sales cut for the budget no longer pay for it",
                pl.col("security_id"),
                pl.col("account_id"),
                plain(pl.col("quantity")),
                plain(pl.col("_new").fill_null(0)),
            ).alias("message"),
        )
    )


# --- the estimate ---------------------------------------------------------------------------


def estimate(
    short_term: pl.Expr,
    long_term: pl.Expr,
    carryforward: pl.Expr,
    short_term_rate: pl.Expr,
    long_term_rate: pl.Expr,
) -> dict[str, pl.Expr]:
    """The year's capital gains tax (see the module docstring) as expressions: taxable
    short-term and long-term gain after netting, the carry-forward applied against gains, the
    loss deducted from ordinary income (≤ ``LOSS_LIMIT``), the loss carried to next year and
    the estimated tax (negative: a saving)."""
    zero = pl.lit(0).cast(GAIN)
    st = short_term.cast(GAIN)
    lt = (long_term - carryforward).cast(GAIN)
    net = st + lt
    st_taxed = (
        pl.when((st > 0) & (lt >= 0))
        .then(st)
        .when((st > 0) & (lt < 0))
        .then(pl.max_horizontal(net, zero))
        .otherwise(zero)
    )
    lt_taxed = (
        pl.when((lt > 0) & (st >= 0))
        .then(lt)
        .when((lt > 0) & (st < 0))
        .then(pl.max_horizontal(net, zero))
        .otherwise(zero)
    )
    loss = pl.max_horizontal(-net, zero)
    deducted = pl.min_horizontal(loss, pl.lit(LOSS_LIMIT).cast(GAIN))
    applied = pl.min_horizontal(
        carryforward.cast(GAIN), pl.max_horizontal(net + carryforward.cast(GAIN), zero)
    )
    tax = st_taxed * short_term_rate + lt_taxed * long_term_rate - deducted * short_term_rate
    return {
        "taxable_short_term": st_taxed.cast(GAIN),
        "taxable_long_term": lt_taxed.cast(GAIN),
        "carryforward_applied": applied.cast(GAIN),
        "loss_deducted": deducted.cast(GAIN),
        "loss_carried_forward": (loss - deducted).cast(GAIN),
        "estimated_tax": tax.cast(GAIN),
    }


def summary(
    trades: pl.DataFrame,
    relieved: pl.DataFrame,
    matches: pl.DataFrame,
    accounts: pl.DataFrame,
    settings: pl.DataFrame,
    budget: pl.DataFrame,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(one row per portfolio of ``budget``: the gains budget and the year's estimate, year to
    date and with the proposal; warnings when the budget is used up). ``trades``, ``relieved``
    and ``matches`` are the final proposal's (after ``trim``); the rates in ``settings`` are
    federal + state (``with_state_rates``)."""
    zero = pl.lit(0).cast(GAIN)
    prop = proposed(recognised(trades, relieved, matches, accounts))
    frame = (
        budget.join(prop, on="portfolio_id", how="left")
        .join(
            settings.select("portfolio_id", "short_term_rate", "long_term_rate"), on="portfolio_id"
        )
        .with_columns(pl.col("proposed_short_term", "proposed_long_term").fill_null(zero))
        .with_columns(
            (pl.col("ytd_short_term") + pl.col("ytd_long_term")).alias("ytd_net"),
            (pl.col("proposed_short_term") + pl.col("proposed_long_term")).alias("proposed_net"),
        )
        .with_columns((pl.col("ytd_net") + pl.col("proposed_net")).alias("net_realised"))
    )
    cap = pl.col("max_net_gain").cast(GAIN)
    rates = (pl.col("short_term_rate"), pl.col("long_term_rate"))
    cf = pl.col("loss_carryforward")
    with_prop = estimate(
        pl.col("ytd_short_term") + pl.col("proposed_short_term"),
        pl.col("ytd_long_term") + pl.col("proposed_long_term"),
        cf,
        *rates,
    )
    ytd_only = estimate(pl.col("ytd_short_term"), pl.col("ytd_long_term"), cf, *rates)
    frame = frame.with_columns(
        pl.when(cap.is_not_null() & (cap > 0))
        .then(pl.max_horizontal(pl.col("net_realised"), zero) / cap)
        .alias("used"),
        pl.when(cap.is_not_null()).then(cap - pl.col("net_realised")).cast(GAIN).alias("remaining"),
        ytd_only["estimated_tax"].alias("estimated_tax_ytd"),
        *(e.alias(k) for k, e in with_prop.items()),
    ).with_columns(
        (pl.col("estimated_tax") - pl.col("estimated_tax_ytd"))
        .cast(GAIN)
        .alias("estimated_tax_proposal")
    )
    used_up = frame.filter(cap.is_not_null() & (pl.col("remaining") < Decimal("0.005")))
    warnings = used_up.select(
        "portfolio_id",
        pl.when(pl.col("ytd_net") >= cap)
        .then(
            text(
                "gains budget: ${} already realised in {} reaches max_net_gain ${}: the "
                "proposal realises no further net gain",
                pl.col("ytd_net").cast(pl.Decimal(38, 2)),
                pl.col("year"),
                cap.cast(pl.Decimal(38, 2)),
            )
        )
        .otherwise(
            text(
                "gains budget: the proposal realises ${} of net gain, all that is left of the "
                "{} budget (max_net_gain ${}, ${} realised so far this year); sales that would "
                "realise more are not proposed",
                pl.col("proposed_net").cast(pl.Decimal(38, 2)),
                pl.col("year"),
                cap.cast(pl.Decimal(38, 2)),
                pl.col("ytd_net").cast(pl.Decimal(38, 2)),
            )
        )
        .alias("message"),
    )
    return frame.sort("portfolio_id"), warnings
