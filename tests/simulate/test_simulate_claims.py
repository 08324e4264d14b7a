"""The source document's claims, checked on block-bootstrap paths of the bundled history."""

from __future__ import annotations

import numpy as np
import pytest

from ballast.portfolio.policy import Policy
from ballast.simulate.bootstrap import block_bootstrap
from ballast.simulate.engine import Frictions, Market, simulate
from ballast.simulate.history import load_bundled
from ballast.simulate.metrics import per_path
from ballast.simulate.policies import parse_spec

IPS = Policy.model_validate(
    {
        "id": "p",
        "name": "p",
        "accounts": [{"id": "A", "tax_status": "tax_exempt"}],
        "asset_classes": {"eq": {"target": "60%"}, "bd": {"target": "40%"}},
    }
)
SPECS = ["never", "monthly", "quarterly", "annual", "bands:monthly:5%", "bands:quarterly:5/25"]


@pytest.fixture(scope="module")
def bootstrap_figures():
    h = load_bundled()
    series = block_bootstrap(h.returns, 360, 2000, 12, np.random.default_rng(11))
    cols = [h.index("market"), h.index("bond")]
    m = Market(series[:, :, cols], series[:, :, h.index("tbill")], np.arange(360) % 12 + 1)
    res = simulate(
        m, [parse_spec(s, IPS, ["eq", "bd"]) for s in SPECS], Frictions(cost_bp=(10.0, 5.0))
    )
    return per_path(res)


def test_rebalancing_lowers_volatility(bootstrap_figures):
    """Every rebalanced policy has a lower median volatility than never rebalancing."""
    vol = np.median(bootstrap_figures["volatility"], axis=1)
    assert np.all(vol[1:] < vol[0] - 0.01)


def test_rebalancing_narrows_terminal_wealth_dispersion(bootstrap_figures):
    """The spread of log terminal wealth and the p95/p5 ratio are narrower when rebalanced."""
    tw = bootstrap_figures["terminal_wealth"]
    sd = np.log(tw).std(axis=1)
    ratio = np.percentile(tw, 95, axis=1) / np.percentile(tw, 5, axis=1)
    assert np.all(sd[1:] < sd[0]) and np.all(ratio[1:] < ratio[0])


def test_bands_trade_less_than_calendars(bootstrap_figures):
    """Bands cost less: fewer events and less turnover than monthly or quarterly calendars."""
    events = np.median(bootstrap_figures["events"], axis=1)
    cost = np.median(bootstrap_figures["cost_drag"], axis=1)
    assert events[4] < events[2] < events[1] and cost[4] < cost[2] < cost[1]


def test_never_rebalancing_wins_in_a_steadily_rising_equity_market():
    """Equities +1 % a month, bonds +0.3 %: selling winners costs upside; never ends richest."""
    r = np.tile(np.array([0.01, 0.003]), (360, 1, 1))
    m = Market(r, np.full((360, 1), 0.002), np.arange(360) % 12 + 1)
    res = simulate(m, [parse_spec(s, IPS, ["eq", "bd"]) for s in SPECS])
    assert np.argmax(res.wealth[:, 0]) == 0
    assert np.all(res.wealth[1:, 0] < res.wealth[0, 0] * 0.9)
