"""Trade proposals as a linear programme per portfolio, solved with HiGHS (pure; no Prefect).

Same inputs (``TradingInputs``) and output frames as :func:`ballast.trading.heuristic.propose`.
For every portfolio the heuristic would trade (breached, or with planned flows) it minimises

    Σ tax on the lots sold + Σ transaction costs + λ Σ|post-trade class value − destination|
    + large penalties on band violations and on a planned withdrawal left unfunded

over sell amounts per (account, lot) and buy amounts per (account, class vehicle), subject to
each account's own cash (idle cash above the reserve + planned flows + sales − buys − costs ≥ 0),
no shorts (a lot sells at most its quantity), do-not-sell / do-not-buy, each class inside its
band (soft), and no class passing its mirror image around target. Destinations, vehicles and
the direction each class may trade in come from the heuristic (``destinations`` and
its vehicle choice). The LP is continuous: quantities are rounded afterwards (sells up, buys
down), trades below the IPS minimum are dropped afterwards, and buys are trimmed until every
account can pay for them. See docs/optimizer.md.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import numpy as np
import polars as pl

from ballast.trading import gains_budget, heuristic, wash_sales
from ballast.trading.destinations import cash_frame, destinations
from ballast.trading.inputs import TradingInputs
from ballast.trading.lots import GAIN, LOT_SCHEMA, account_rates
from ballast.trading.optimizer.trades import to_proposal
from ballast.trading.optimizer.variables import (
    all_variables,
    buy_variables,
    class_rows,
    held_warnings,
    minimum_trades,
    sell_variables,
)
from ballast.trading.proposal import AMT, OptimisedProposal, Proposal


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
    return pl.DataFrame(schema=LOT_SCHEMA)


def optimise(
    inputs: TradingInputs, *, workers: int | None = None, check_bands: bool = True
) -> OptimisedProposal:
    """Trades that minimise tax + costs + λ·drift for every portfolio the heuristic would trade.

    Lots (``inputs.lots``: account_id, security_id, lot_id, acquired_date, quantity,
    cost_basis) are chosen by specific identification on ``inputs.as_of``; with
    ``inputs.transactions``, loss lots of securities bought in the last 30 days
    (``wash_sales.recent_purchases``) are not sold under ``wash_sale: block``, unless the
    purchases are lots the programme may sell whole with them (a switch per key: then the loss
    is allowed, see ``sell_variables``). Trades carry
    realised gains and estimated tax from the lots the optimiser chose (do not run
    ``lots.annotate_trades`` over them); ``lot_sales`` lists those lots.

    ``inputs.as_of`` is required with lots or transactions (holding periods and the 30-day
    wash-sale window count from it): it is never taken from the clock, so the same inputs give
    the same trades on any day. Without either it plays no part.
    """
    alloc, holdings, settings, accounts = (
        inputs.allocation,
        inputs.holdings,
        inputs.settings,
        inputs.accounts,
    )
    flows = _empty_flows() if inputs.flows is None else inputs.flows
    lots = _empty_lots() if inputs.lots is None else inputs.lots
    as_of = _sale_date(inputs, lots)
    cash = cash_frame(accounts, holdings, settings, flows)
    dest = destinations(alloc, settings, cash)
    lp_pids = _needs_lp(dest, accounts, holdings, lots)
    rest = alloc.select("portfolio_id").unique().join(lp_pids, on="portfolio_id", how="anti")
    r_alloc, r_holdings, r_settings, r_accounts = _only_frames(
        rest, alloc, holdings, settings, accounts
    )
    fast = _annotated(
        heuristic.propose(
            replace(
                inputs,
                allocation=r_alloc,
                holdings=r_holdings,
                settings=r_settings,
                accounts=r_accounts,
                flows=flows,
                lots=None,
                as_of=None,
            ),
            check_bands=check_bands,
        )
    )
    if lp_pids.is_empty():
        return fast
    washing, removable = None, None
    if inputs.transactions is not None and inputs.securities is not None:
        washing, removable = _wash_inputs(inputs, accounts, lots, as_of)
    opt = _optimise_lp(
        _only_frames(lp_pids, alloc, holdings, accounts, settings, flows),
        lots,
        inputs,
        as_of,
        workers,
        washing,
        check_bands,
        removable,
    )
    return OptimisedProposal(
        trades=pl.concat([fast.trades, opt.trades], how="vertical_relaxed"),
        classes=pl.concat([fast.classes, opt.classes], how="diagonal_relaxed"),
        warnings=pl.concat([fast.warnings, opt.warnings], how="vertical_relaxed"),
        lot_sales=opt.lot_sales,
    )


def _budget_caps(
    inputs: TradingInputs, accounts: pl.DataFrame, as_of: dt.date, totals: pl.DataFrame
) -> pl.DataFrame:
    """Per portfolio with an IPS ``max_net_gain``: the net gain the proposal may still realise
    (``gains_budget.allowed``) as a fraction of the portfolio's total (``cap_f``), the
    right-hand side of the programme's budget row. Whole shares and lots relieved in the
    programme's order give the exact decimal gain it planned; anything over within the
    solver's tolerance is cut by ``gains_budget.trim`` in the pipeline."""
    budget, _ = gains_budget.allowed(
        inputs.tax_budgets, inputs.transactions, accounts, as_of, totals
    )
    return (
        budget.filter(pl.col("allowed").is_not_null())
        .join(totals, on="portfolio_id")
        .select(
            "portfolio_id",
            (pl.col("allowed").cast(pl.Float64) / pl.col("T")).alias("cap_f"),
        )
        .sort("portfolio_id")
    )


def _wash_inputs(
    inputs: TradingInputs, accounts: pl.DataFrame, lots: pl.DataFrame, as_of: dt.date
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(washing, removable) for ``sell_variables``. ``wash_sale: block``: the keys whose
    purchases of the last 30 days cannot all be sold with the loss lots are washing (their loss
    lots held back); the others get a switch (``removable``). ``warn``: every purchase washes
    (no loss credit), conservatively."""
    assert inputs.transactions is not None and inputs.securities is not None
    modes = inputs.settings.select("portfolio_id", "wash_sale")
    block = modes.filter(pl.col("wash_sale") == "block").select("portfolio_id")
    txns, secs = inputs.transactions, inputs.securities
    washing = pl.concat(
        [
            wash_sales.recent_purchases(txns, accounts, secs, as_of, lots).join(
                block, on="portfolio_id", how="semi"
            ),
            wash_sales.recent_purchases(txns, accounts, secs, as_of).join(
                block, on="portfolio_id", how="anti"
            ),
        ]
    )
    removable = wash_sales.removable_keys(txns, accounts, secs, as_of, lots).join(
        block, on="portfolio_id", how="semi"
    )
    return washing, removable


_NO_SALE_DATE = dt.date(2000, 1, 1)
"""Stands in for ``as_of`` when there are no lots and no transactions: no holding period or
wash-sale window is then counted, so any fixed date gives the same trades."""


def _sale_date(inputs: TradingInputs, lots: pl.DataFrame) -> dt.date:
    """``inputs.as_of``; an error when lots or transactions need it and it is missing."""
    if inputs.as_of is not None:
        return inputs.as_of
    if not lots.is_empty() or (inputs.transactions is not None and inputs.securities is not None):
        raise ValueError(
            "optimise needs the sale date (inputs.as_of) with lots or transactions: holding "
            "periods and the wash-sale window count from it"
        )
    return _NO_SALE_DATE


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
    inputs: TradingInputs,
    as_of: dt.date,
    workers: int | None,
    washing: pl.DataFrame | None,
    check_bands: bool,
    removable: pl.DataFrame | None = None,
) -> OptimisedProposal:
    alloc, holdings, accounts, settings, flows = frames
    candidates, restrictions, costs = inputs.candidates, inputs.restrictions, inputs.costs
    cash = cash_frame(accounts, holdings, settings, flows)
    dest = destinations(alloc, settings, cash)
    totals = dest.group_by("portfolio_id").agg(
        pl.col("total_after_flows").first().cast(pl.Float64).alias("T")
    )
    cash = (
        cash.join(totals, on="portfolio_id")
        .sort("portfolio_id", "account_order", "account_id")
        .with_columns(pl.int_range(pl.len()).over("portfolio_id").alias("aidx"))
    )
    classes = class_rows(dest)
    cost_rate = costs.select(
        "portfolio_id",
        "asset_class",
        (pl.col("cost_bp").cast(pl.Float64) / 10_000).alias("cost_rate"),
    )
    lot_rows = sell_variables(
        dest,
        holdings,
        lots,
        settings,
        restrictions,
        as_of,
        washing,
        removable,
        rates=account_rates(settings, accounts),
    )
    sells = lot_rows.filter(pl.col("held").is_null())
    buys = buy_variables(dest, holdings, candidates, restrictions, accounts)
    whole = settings.filter(pl.col("whole_shares")).select("portfolio_id")
    variables = all_variables(
        sells, buys, classes, cash, cost_rate, whole, minimum_trades(holdings, settings, totals)
    )
    pids = totals["portfolio_id"].sort().to_list()
    caps = _budget_caps(inputs, accounts, as_of, totals)
    # SciPy (HiGHS) is imported here, when a portfolio asks for the optimiser: a review with
    # none does not pay its import (about 0.8 s on two cores)
    from ballast.trading.optimizer.programme import programmes
    from ballast.trading.optimizer.solve import solve_all

    lps = programmes(variables, classes, cash, pids, caps)
    xs = solve_all(lps, workers)
    failed = [p for p, x in zip(pids, xs, strict=True) if np.isnan(x).any()]
    sol = variables.sort("portfolio_id", "col").with_columns(
        pl.Series("x", np.concatenate(xs) if xs else np.zeros(0), dtype=pl.Float64).fill_nan(0.0)
    )
    if not caps.is_empty():
        # with a gains budget the lots the programme chose are relieved, not the cheapest first
        capped = pl.col("portfolio_id").is_in(caps["portfolio_id"].implode())
        fill = (pl.col("x") / pl.col("ub")).round(6)
        sol = sol.with_columns(
            pl.when(capped & (pl.col("kind") == "sell")).then(-fill).otherwise(0.0).alias("fill")
        )
    prop = to_proposal(
        sol, dest, alloc, holdings, cash, settings, accounts, costs, classes, check_bands
    )
    failures = pl.DataFrame(
        {"portfolio_id": failed, "message": "the optimiser found no solution: no trades proposed"},
        schema={"portfolio_id": pl.String, "message": pl.String},
    )
    warnings = pl.concat([prop.warnings, held_warnings(lot_rows, dest), failures])
    return OptimisedProposal(prop.trades, prop.classes, warnings, lot_sales=prop.lot_sales)
