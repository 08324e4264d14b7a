"""Differential test against bt (the reference implementation, test-only dependency)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ballast.portfolio.policy import Policy
from ballast.simulate.engine import Market, simulate
from ballast.simulate.history import load_bundled
from ballast.simulate.metrics import per_path
from ballast.simulate.policies import parse_spec

bt = pytest.importorskip("bt")

IPS = Policy.model_validate(
    {
        "id": "p",
        "name": "p",
        "accounts": [{"id": "A", "tax_status": "tax_exempt"}],
        "asset_classes": {"equity": {"target": "60%"}, "tbill": {"target": "40%"}},
    }
)
SPECS = ("never", "monthly", "quarterly", "annual")


def bt_algo(spec: str):
    """bt's trigger configured like ballast: at the month-end that closes the period."""
    return {
        "never": bt.algos.RunOnce(),
        "monthly": bt.algos.RunMonthly(run_on_end_of_period=True),
        "quarterly": bt.algos.RunQuarterly(run_on_end_of_period=True),
        "annual": bt.algos.RunYearly(run_on_end_of_period=True),
    }[spec]


@pytest.mark.slow
def test_cagr_and_volatility_agree_with_bt_within_one_bp():
    """60/40 equity/T-bill, 1926-2018, no costs: CAGR and volatility within 1 bp of bt's."""
    h = load_bundled()
    r = h.returns[:, [h.index("market"), h.index("tbill")]]
    pols = [parse_spec(s, IPS, ["equity", "tbill"]) for s in SPECS]
    figs = per_path(simulate(Market(r[:, None, :], r[:, None, 1], h.calendar_months), pols))

    ends = pd.to_datetime([f"{m // 100}-{m % 100:02d}-01" for m in h.months]) + pd.offsets.MonthEnd(
        0
    )
    index = pd.DatetimeIndex([ends[0] - pd.offsets.MonthEnd(1), *ends])
    levels = np.vstack([np.ones((1, 2)), np.cumprod(1 + r, axis=0)]) * 100
    prices = pd.DataFrame(levels, index=index, columns=["equity", "tbill"])
    for s, spec in enumerate(SPECS):
        strategy = bt.Strategy(
            spec,
            [
                bt_algo(spec),
                bt.algos.SelectAll(),
                bt.algos.WeighSpecified(equity=0.6, tbill=0.4),
                bt.algos.Rebalance(),
            ],
        )
        res = bt.run(bt.Backtest(strategy, prices, integer_positions=False, progress_bar=False))
        stats = res.stats[spec]
        assert abs(stats["cagr"] - figs["cagr"][s, 0]) < 1e-4, spec
        assert abs(stats["monthly_vol"] - figs["volatility"][s, 0]) < 1e-4, spec
