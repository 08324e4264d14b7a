"""Tests of ballast.simulate.engine on small hand-checked cases (the domain's worked case)."""

from __future__ import annotations

import numpy as np
import pytest

from ballast.portfolio.policy import Policy
from ballast.simulate.engine import Frictions, Market, simulate
from ballast.simulate.metrics import per_path
from ballast.simulate.policies import parse_spec
from ballast.simulate.tax import TaxRates

IPS = Policy.model_validate(
    {
        "id": "p",
        "name": "p",
        "accounts": [{"id": "A", "tax_status": "tax_exempt"}],
        "default_band": "500bp",
        "asset_classes": {"eq": {"target": "60%"}, "bd": {"target": "40%"}},
    }
)
CLASSES = ["eq", "bd"]


def shock(months=(1, 2)) -> Market:
    """Equities +25 %, bonds -5 % in month 1, nothing in month 2 (the domain's worked case)."""
    r = np.array([[[0.25, -0.05]], [[0.0, 0.0]]])
    return Market(r, np.zeros((2, 1)), np.array(months))


def run(spec, market=None, frictions=None):
    pol = [parse_spec(s, IPS, CLASSES) for s in ([spec] if isinstance(spec, str) else spec)]
    return simulate(market or shock(), pol, frictions, trace=True)


def test_worked_case_trades_back_to_target():
    """66.37 % equities breaches ±500 bp; selling 0.072 of 1.13 restores 60/40."""
    res = run("bands:monthly")
    assert res.trace.weights[0, 0, 0] == pytest.approx(7.5 / 11.3)
    assert res.trace.weights[1, 0] == pytest.approx([0.6, 0.4])
    assert res.wealth[0, 0] == pytest.approx(1.13)
    assert res.turnover[0, 0] == pytest.approx(0.072 / 1.13)
    assert res.events[0, 0] == 1


@pytest.mark.parametrize(
    ("spec", "equity"), [("bands:monthly:band_edge", 0.65), ("bands:monthly:halfway", 0.625)]
)
def test_band_edge_and_halfway(spec, equity):
    """Trade back to the band edge (65 %) or halfway between edge and target (62.5 %)."""
    res = run(spec)
    assert res.trace.weights[1, 0, 0] == pytest.approx(equity)


def test_never_drifts_and_calendar_waits_for_its_month():
    """Buy and hold keeps the drifted weight; an annual calendar does not trade in February."""
    res = run(["never", "annual"], shock(months=(1, 2)))
    assert res.trace.weights[1, :, 0] == pytest.approx([7.5 / 11.3, 7.5 / 11.3])
    assert res.events[:, 0].tolist() == [0, 0]
    res = run("annual", shock(months=(12, 1)))
    assert res.trace.weights[1, 0, 0] == pytest.approx(0.6)


def test_weight_exactly_on_the_edge_is_inside():
    """A weight on the band edge is not a breach."""
    a = 0.26 / 0.21 - 1.0  # takes 60 % to exactly 65 %
    m = Market(np.array([[[a, 0.0]]]), np.zeros((1, 1)), np.array([1]))
    res = run("bands:monthly", m)
    assert res.trace.weights[0, 0, 0] == pytest.approx(0.65)
    assert res.events[0, 0] == 0


def test_costs_are_paid_from_the_portfolio():
    """10 bp on 0.144 traded costs 0.000144 and lowers the CAGR (cost drag > 0)."""
    res = run("bands:monthly", frictions=Frictions(cost_bp=(10.0, 10.0)))
    assert res.cost_paid[0, 0] == pytest.approx(0.000144)
    assert res.wealth[0, 0] == pytest.approx(1.13 - 0.000144)
    assert res.cost_lost[0, 0] == pytest.approx(0.000144)


def test_contributions_go_first_to_the_underweight_class():
    """Directed: a contribution buys bonds only; pro rata: 60 % of it buys equities."""
    fr = Frictions(flow_rate=0.12)
    flow = 1.13 * 0.01
    directed = run("never", frictions=fr)
    assert directed.trace.weights[0, 0, 0] == pytest.approx(0.75 / (1.13 + flow))
    prorata = run("never:prorata", frictions=fr)
    assert prorata.trace.weights[0, 0, 0] == pytest.approx((0.75 + 0.6 * flow) / (1.13 + flow))


def test_withdrawals_come_first_from_the_overweight_class():
    """A withdrawal is raised by selling equities, the overweight class."""
    res = run("never", frictions=Frictions(flow_rate=-0.12))
    assert res.trace.weights[0, 0, 1] == pytest.approx(0.38 / (1.13 * 0.99))


def test_short_term_gain_is_taxed_at_year_end():
    """Selling 0.072 of equities bought at 0.6 for 0.75 realises 0.0144, short-term at 37 %."""
    fr = Frictions(tax=TaxRates(short_term=0.37, long_term=0.20))
    res = run("bands:monthly", shock(months=(12, 1)), fr)
    assert res.tax_paid[0, 0] == pytest.approx(0.0144 * 0.37)
    assert res.wealth[0, 0] == pytest.approx(1.13 - 0.0144 * 0.37)


def test_paths_and_policies_are_independent():
    """Running paths × policies together equals running each alone."""
    rng = np.random.default_rng(3)
    r = rng.normal(0.005, 0.04, size=(60, 3, 2))
    m = Market(r, np.full((60, 3), 0.002), np.arange(60) % 12 + 1)
    specs = ["never", "quarterly", "bands:monthly:2%:band_edge"]
    together = run(specs, m, Frictions(cost_bp=(5.0, 5.0)))
    for s, spec in enumerate(specs):
        for p in range(3):
            one = run(
                spec,
                Market(r[:, p : p + 1], np.full((60, 1), 0.002), m.months),
                Frictions(cost_bp=(5.0, 5.0)),
            )
            assert together.wealth[s, p] == pytest.approx(one.wealth[0, 0], rel=1e-12)
            assert together.events[s, p] == one.events[0, 0]


TAX = Frictions(tax=TaxRates(short_term=0.37, long_term=0.20))


def test_buy_and_hold_is_taxed_on_liquidation_short_term():
    """Never rebalancing realises nothing (no tax paid), but selling everything at the end
    realises 0.75 − 0.6 = 0.15 on equities and 0.38 − 0.4 = −0.02 on bonds: a net short-term
    gain of 0.13, taxed 0.13 × 37 % = 0.0481; after it, 1.13 − 0.0481 = 1.0819 over 2 months."""
    res = run("never", frictions=TAX)
    assert res.tax_paid[0, 0] == 0.0
    assert res.liquidation_tax[0, 0] == pytest.approx(0.0481)
    figs = per_path(res)
    assert figs["after_tax_cagr"][0, 0] == pytest.approx(1.0819**6 - 1.0)
    assert figs["cagr"][0, 0] == pytest.approx(1.13**6 - 1.0)  # the held CAGR is unchanged


@pytest.mark.parametrize(("months", "tax"), [(12, 0.13 * 0.37), (13, 0.13 * 0.20)])
def test_liquidation_after_a_year_and_a_day_is_long_term(months, tax):
    """Sold at the 12th month-end the initial purchase is short-term; at the 13th, long-term."""
    r = np.zeros((months, 1, 2))
    r[0, 0] = [0.25, -0.05]
    m = Market(r, np.zeros((months, 1)), np.arange(months) % 12 + 1)
    res = run("never", m, TAX)
    assert res.liquidation_tax[0, 0] == pytest.approx(tax)


def test_liquidation_nets_with_the_years_realised_gains():
    """bands:monthly, January eq +25 % / bonds −5 %: selling 0.072 of equities realises 0.0144.
    February eq −20 %: 0.5424 / 0.9944 = 54.5 % breaches, so 0.05424 of bonds (basis 0.472, 12 %
    of them sold) go to equities: bonds realise 0.05424 − 0.05664 = −0.0024. The year's tax is
    (0.0144 − 0.0024) × 37 % = 0.00444. Selling everything would also realise the bonds' remaining
    0.39776 − 0.41536 = −0.0176 (equities sit at cost), leaving a net loss and no tax: the
    liquidation's extra tax is −0.00444."""
    r = np.array([[[0.25, -0.05]], [[-0.20, 0.0]]])
    res = run("bands:monthly", Market(r, np.zeros((2, 1)), np.array([1, 2])), TAX)
    assert res.events[0, 0] == 2
    assert res.tax_paid[0, 0] == pytest.approx(0.00444)
    assert res.liquidation_tax[0, 0] == pytest.approx(-0.00444)
    assert res.wealth[0, 0] - res.liquidation_tax[0, 0] == pytest.approx(0.9944)


def test_untaxed_runs_have_no_liquidation_figures():
    """Without tax there is nothing to liquidate: no field, no figures."""
    res = run("never")
    assert res.liquidation_tax is None and "after_tax_cagr" not in per_path(res)
