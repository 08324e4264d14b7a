"""Differential test against bt (the reference implementation, test-only dependency)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from ballast.portfolio.policy import Policy
from ballast.simulate.engine import Market, simulate
from ballast.simulate.history import load_bundled
from ballast.simulate.metrics import per_path
from ballast.simulate.policies import parse_spec, with_phase

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


def bt_prices() -> tuple[np.ndarray, pd.DataFrame]:
    """Market and T-bill returns of the bundled history and bt's price frame for them:
    month-end dates with a virtual start row one month before the first."""
    h = load_bundled()
    r = h.returns[:, [h.index("market"), h.index("tbill")]]
    ends = pd.to_datetime([f"{m // 100}-{m % 100:02d}-01" for m in h.months])
    ends = ends + pd.offsets.MonthEnd(0)
    index = pd.DatetimeIndex([ends[0] - pd.offsets.MonthEnd(1), *ends])
    levels = np.vstack([np.ones((1, 2)), np.cumprod(1 + r, axis=0)]) * 100
    return r, pd.DataFrame(levels, index=index, columns=["equity", "tbill"])


def bt_run(prices: pd.DataFrame, trigger, on_weights: bool = False) -> tuple[float, int]:
    """bt's 60/40 CAGR and its number of rebalancing dates after the initial purchase;
    ``on_weights``: the trigger reads the target weights (``RunIfOutOfBounds``), so it comes
    after ``WeighSpecified``."""
    weigh = [bt.algos.SelectAll(), bt.algos.WeighSpecified(equity=0.6, tbill=0.4)]
    algos = [*weigh, trigger] if on_weights else [trigger, *weigh]
    strategy = bt.Strategy("s", [*algos, bt.algos.Rebalance()])
    res = bt.run(bt.Backtest(strategy, prices, integer_positions=False, progress_bar=False))
    dates = res.get_transactions().index.get_level_values(0).unique()
    return float(res.stats["s"]["cagr"]), len(dates) - 1


@pytest.mark.slow
def test_bt_default_period_start_is_phase_one():
    """bt's default ``RunQuarterly()`` fires on the first month-end of a quarter (January,
    April, July, October): ballast's quarterly phase 1. Issue 14's 7.63 % against the 7.82 % of
    phase 0 (``run_on_end_of_period=True``), both within 1 bp of bt; likewise ``RunYearly()``
    (January) is annual phase 1."""
    r, prices = bt_prices()
    pols = [
        with_phase(parse_spec(s, IPS, ["equity", "tbill"]), phase)
        for s, phase in (("quarterly", 0), ("quarterly", 1), ("annual", 1))
    ]
    market = Market(r[:, None, :], r[:, None, 1], load_bundled().calendar_months)
    figs = per_path(simulate(market, pols))
    cases = [
        bt.algos.RunQuarterly(run_on_end_of_period=True),
        bt.algos.RunQuarterly(),
        bt.algos.RunYearly(),
    ]
    for s, trigger in enumerate(cases):
        cagr, _ = bt_run(prices, trigger)
        assert abs(cagr - figs["cagr"][s, 0]) < 1e-4, pols[s].description
    assert round(float(figs["cagr"][0, 0]), 4) == 0.0782
    assert round(float(figs["cagr"][1, 0]), 4) == 0.0763


@pytest.mark.slow
def test_absolute_band_is_bt_tolerance_over_the_smaller_target():
    """bt's ``RunIfOutOfBounds(tol)`` is relative per security; with two assets both drift by the
    same amount, so the 40 % leg trips first, at ±tol × 40 %. An IPS band of ±500 bp is therefore
    ``tol = 0.05 / 0.40`` (65 rebalances on 1926-07..2018-11 with T-bills, as ballast's
    bands:monthly); ``0.05 / 0.6`` trips the T-bill leg at ±3.33 pp (115 rebalances), which is
    ballast with a ±1/12 relative band (±5 pp on equities, ±3.33 pp on T-bills)."""
    r, prices = bt_prices()
    band = parse_spec("bands:monthly:500bp", IPS, ["equity", "tbill"])
    rel = replace(
        band,
        name="relative 1/12",
        lower=tuple(t * (1 - 1 / 12) for t in band.targets),
        upper=tuple(t * (1 + 1 / 12) for t in band.targets),
    )
    res = simulate(
        Market(r[:, None, :], r[:, None, 1], load_bundled().calendar_months), [band, rel]
    )
    figs = per_path(res)
    assert res.events[:, 0].tolist() == [65, 115]
    for s, tol in enumerate((0.05 / 0.40, 0.05 / 0.6)):
        cagr, events = bt_run(prices, bt.algos.RunIfOutOfBounds(tol), on_weights=True)
        assert events == res.events[s, 0]
        assert abs(cagr - figs["cagr"][s, 0]) < 1e-4
