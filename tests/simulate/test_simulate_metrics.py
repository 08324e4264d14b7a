"""Tests of ballast.simulate.metrics: the figures' conventions."""

from __future__ import annotations

import numpy as np
import pytest

from ballast.portfolio.policy import Policy
from ballast.simulate.engine import Frictions, Market, simulate
from ballast.simulate.metrics import history_summary, paths_summary, per_path, wealth_fan
from ballast.simulate.policies import parse_spec

IPS = Policy.model_validate(
    {
        "id": "p",
        "name": "p",
        "accounts": [{"id": "A", "tax_status": "tax_exempt"}],
        "asset_classes": {"eq": {"target": "60%"}, "bd": {"target": "40%"}},
    }
)


def sim(r, rf=0.0, specs=("never", "monthly"), costs=()):
    T, P, _ = r.shape
    pols = [parse_spec(s, IPS, ["eq", "bd"]) for s in specs]
    m = Market(r, np.full((T, P), rf), np.arange(T) % 12 + 1)
    return simulate(m, pols, Frictions(cost_bp=costs))


def test_cagr_volatility_sharpe_drawdown_on_a_known_series():
    """CAGR from log growth, vol ddof 1 × √12, Sharpe on the excess, drawdown of month-ends."""
    r = np.tile(np.array([0.05, -0.02, 0.01, -0.04])[:, None, None], (6, 1, 2))
    figs = per_path(sim(r, rf=0.001, specs=("never",)))
    x = r[:, 0, 0]
    assert figs["cagr"][0, 0] == pytest.approx(np.prod(1 + x) ** (12 / 24) - 1)
    assert figs["volatility"][0, 0] == pytest.approx(x.std(ddof=1) * np.sqrt(12))
    assert figs["sharpe"][0, 0] == pytest.approx((x - 0.001).mean() / x.std(ddof=1) * np.sqrt(12))
    index = np.cumprod(1 + x)
    assert figs["max_drawdown"][0, 0] == pytest.approx(
        (index / np.maximum.accumulate(index)).min() - 1
    )


def test_no_costs_no_drag():
    """Without costs and taxes both drags are zero; with costs the cost drag is positive."""
    r = np.random.default_rng(0).normal(0.006, 0.04, size=(120, 4, 2))
    assert np.all(per_path(sim(r))["cost_drag"] == 0)
    assert np.all(per_path(sim(r, costs=(20.0, 20.0)))["cost_drag"][1] > 0)


def test_summaries_have_percentiles_and_weights():
    """Path summaries give terminal-wealth percentiles in order and per-class weights."""
    r = np.random.default_rng(1).normal(0.006, 0.04, size=(36, 50, 2))
    res = sim(r)
    row = paths_summary(res, ["eq", "bd"])[0]
    tw = row["terminal_wealth"]
    assert tw["p5"] <= tw["p25"] <= tw["p50"] <= tw["p75"] <= tw["p95"]
    assert set(row["weights"]) == {"eq", "bd"}
    fan = wealth_fan(res)["monthly"]
    assert [f["month"] for f in fan] == [12, 24, 36]
    one = sim(r[:, :1])
    assert history_summary(one, ["eq", "bd"])[1]["events"] == 36
