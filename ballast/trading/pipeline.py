"""The trading pipeline: one path for every portfolio's proposal (pure Polars).

inputs -> engine (heuristic, or the optimiser where the IPS asks: ``trading.engine``)
       -> lots relieved, realised gains and estimated tax
       -> tax-loss harvest (IPS ``tax.harvest``): loss lots sold, replacements bought
       -> household wash-sale check (may swap or drop buys, relieve other lots, cut sales)
       -> gains budget: sales cut so the year's net realised gain stays within the IPS cap
       -> gains and tax from the lots finally relieved, net of disallowed loss; lot detail
       -> post-trade class values and band check, and what the cash flows alone did
       -> the gains budget used and the year's tax estimate (``gains_budget.summary``)
"""

from __future__ import annotations

from dataclasses import replace

import polars as pl

from ballast.trading import (
    gains_budget,
    harvest,
    heuristic,
    lots,
    optimizer,
    post_trade,
    tax_detail,
    wash_sales,
)
from ballast.trading.inputs import TradingInputs
from ballast.trading.proposal import Proposal


def propose_trades(inputs: TradingInputs) -> tuple[Proposal, pl.DataFrame]:
    """(proposal, its warnings with the wash-sale findings) for every portfolio of ``inputs``."""
    settings, accounts = inputs.settings, inputs.accounts
    lot_frame, as_of, transactions = inputs.lots, inputs.as_of, inputs.transactions
    securities, wash_settings = inputs.securities, inputs.wash_settings
    if (
        lot_frame is None
        or as_of is None
        or transactions is None
        or securities is None
        or wash_settings is None
    ):
        raise ValueError("propose_trades needs a review's inputs (trading.inputs.for_review)")
    opt_ids = settings.filter(pl.col("engine") == "optimizer").select("portfolio_id")
    budget, ytd_warnings = gains_budget.allowed(
        inputs.tax_budgets, transactions, accounts, as_of, inputs.allocation
    )
    heur = heuristic.propose(inputs.without(opt_ids), check_bands=False)
    relieved = wash_sales.relieved_lots(heur.trades, lot_frame, settings, accounts, as_of)
    # over its gains budget in the IPS lot order: the heuristic relieves least gain first
    relief = gains_budget.least_gain_relief(heur.trades, relieved, settings, accounts, budget)
    if relief is not settings:
        relieved = wash_sales.relieved_lots(heur.trades, lot_frame, relief, accounts, as_of)
    trades, lot_warnings = lots.annotate_trades(
        heur.trades, lot_frame, relief, accounts, as_of, relieved
    )
    classes, warnings = heur.classes, pl.concat([heur.warnings, lot_warnings])
    if not opt_ids.is_empty():
        opt = optimizer.optimise(inputs.only(opt_ids), check_bands=False)
        relieved = pl.concat(
            [
                relieved,
                optimizer.relieved_lots(opt.trades, opt.lot_sales).with_columns(
                    pl.col("trade_id") + trades.height
                ),
            ],
            how="diagonal_relaxed",
        )
        trades = pl.concat([trades, opt.trades], how="diagonal_relaxed")
        classes = pl.concat([classes, opt.classes], how="diagonal_relaxed")
        warnings = pl.concat([warnings, opt.warnings])
    harvesting = inputs.harvest is not None and not inputs.harvest.is_empty()
    if harvesting and inputs.harvest is not None:
        trades, more, more_relieved, harvest_warnings = harvest.propose(
            trades,
            inputs.holdings,
            lot_frame,
            inputs.candidates,
            relief,
            accounts,
            securities,
            transactions,
            inputs.restrictions,
            inputs.costs,
            inputs.harvest,
            as_of,
        )
        if not more.is_empty():
            trades = pl.concat([trades, more], how="diagonal_relaxed")
            relieved = pl.concat([relieved, more_relieved], how="diagonal_relaxed")
        warnings = pl.concat([warnings, harvest_warnings])
    check = wash_sales.check_proposal(
        trades,
        relieved,
        transactions,
        accounts,
        securities,
        as_of,
        wash_settings,
        candidates=inputs.candidates,
        lot_frame=lot_frame,
        settings=relief,
        restrictions=inputs.restrictions,
    )
    # the gains budget: sales cut (highest gain per dollar first) where the year would go over
    trades, relieved, matches, cut_warnings = gains_budget.trim(
        check.trades, check.relieved, check.matches, accounts, settings, budget
    )
    tax_budget, budget_warnings = gains_budget.summary(
        trades, relieved, matches, accounts, settings, budget
    )
    # gains and tax again from the lots finally relieved, net of the loss the rule disallows
    trades = tax_detail.finish(trades, relieved, matches, settings, accounts)
    harvested = None
    if harvesting and inputs.harvest is not None:
        reviewed = inputs.harvest.join(inputs.allocation, on="portfolio_id", how="semi")
        harvested = harvest.summary(trades, reviewed)
        trades = trades.drop(harvest.MARK, strict=False)
    wash_findings = check.findings
    # the wash-sale check may swap or drop trades: value the classes and check the bands after it
    classes = post_trade.revalue(classes, trades)
    warnings = pl.concat(
        [warnings, cut_warnings, budget_warnings, ytd_warnings, post_trade.outside_bands(classes)]
    )
    flows_alone = heuristic.propose(replace(inputs, lots=None, as_of=None), flows_only=True)
    effect = post_trade.flow_effect(inputs.allocation, flows_alone.classes, classes)
    return Proposal(trades, classes, warnings, effect, tax_budget, harvested), pl.concat(
        [warnings, wash_findings]
    )
