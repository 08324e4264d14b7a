"""The trading pipeline: one path for every portfolio's proposal (pure Polars).

inputs -> engine (heuristic, or the optimiser where the IPS asks: ``trading.engine``)
       -> lots relieved, realised gains and estimated tax
       -> household wash-sale check (may swap or drop buys, relieve other lots, cut sales)
       -> gains and tax from the lots finally relieved, net of disallowed loss; lot detail
       -> post-trade class values and band check, and what the cash flows alone did
"""

from __future__ import annotations

from dataclasses import replace

import polars as pl

from ballast.trading import heuristic, lots, optimizer, post_trade, tax_detail, wash_sales
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
    heur = heuristic.propose(inputs.without(opt_ids), check_bands=False)
    relieved = wash_sales.relieved_lots(heur.trades, lot_frame, settings, accounts, as_of)
    trades, lot_warnings = lots.annotate_trades(
        heur.trades, lot_frame, settings, accounts, as_of, relieved
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
        settings=settings,
        restrictions=inputs.restrictions,
    )
    # gains and tax again from the lots finally relieved, net of the loss the rule disallows
    trades = tax_detail.finish(check.trades, check.relieved, check.matches, settings, accounts)
    wash_findings = check.findings
    # the wash-sale check may swap or drop trades: value the classes and check the bands after it
    classes = post_trade.revalue(classes, trades)
    warnings = pl.concat([warnings, post_trade.outside_bands(classes)])
    flows_alone = heuristic.propose(replace(inputs, lots=None, as_of=None), flows_only=True)
    effect = post_trade.flow_effect(inputs.allocation, flows_alone.classes, classes)
    return Proposal(trades, classes, warnings, effect), pl.concat([warnings, wash_findings])
