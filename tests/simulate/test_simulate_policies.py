"""Tests of ballast.simulate.policies: specs built from the IPS model."""

from __future__ import annotations

import numpy as np
import pytest

from ballast.errors import BallastError
from ballast.portfolio.policy import Policy, RebalanceTo, Review
from ballast.simulate.policies import parse_spec, review_mask, vanguard_policies

IPS = Policy.model_validate(
    {
        "id": "p",
        "name": "p",
        "accounts": [{"id": "A", "tax_status": "tax_exempt"}],
        "review": "semiannual",
        "rebalance_to": "halfway",
        "default_band": "500bp",
        "asset_classes": {
            "eq": {"target": "50%"},
            "bd": {"target": "40%", "band": "200bp"},
            "em": {"target": "10%", "band": "5/25"},
        },
    }
)
CLASSES = ["eq", "bd", "em"]


def test_quarterly_fires_on_quarter_end_months():
    """Quarterly reviews fire at March, June, September and December month-ends."""
    months = np.arange(1, 13)
    assert list(months[review_mask(months, Review.QUARTERLY)]) == [3, 6, 9, 12]
    assert list(months[review_mask(months, Review.ANNUAL)]) == [12]
    assert not review_mask(months, None).any()


def test_bounds_come_from_the_ips_bands():
    """Per-class bands: 500bp default, 200bp, and 5/25 on a 10% target (7.5%..12.5%)."""
    sim = parse_spec("bands:monthly", IPS, CLASSES)
    assert sim.lower == pytest.approx((0.45, 0.38, 0.075))
    assert sim.upper == pytest.approx((0.55, 0.42, 0.125))
    assert sim.monitor is Review.MONTHLY and sim.calendar is None


def test_ips_spec_uses_review_and_trade_back_rule():
    """'ips' monitors at the IPS's review frequency and trades back as the IPS says."""
    sim = parse_spec("ips", IPS, CLASSES)
    assert (sim.monitor, sim.rebalance_to) == (Review.SEMIANNUAL, RebalanceTo.HALFWAY)


def test_band_override_and_options():
    """A band in the spec overrides every class's band; options in any order."""
    sim = parse_spec("bands:prorata:25%rel:quarterly:band_edge", IPS, CLASSES)
    assert sim.upper == pytest.approx((0.625, 0.5, 0.125))
    assert sim.rebalance_to is RebalanceTo.BAND_EDGE and not sim.directed_flows


def test_calendar_and_hybrid_specs():
    """'annual' is a calendar; 'hybrid:annual:monthly' has both schedules."""
    assert parse_spec("annual", IPS, CLASSES).calendar is Review.ANNUAL
    hy = parse_spec("hybrid:annual:monthly:10%", IPS, CLASSES)
    assert (hy.calendar, hy.monitor) == (Review.ANNUAL, Review.MONTHLY)


@pytest.mark.parametrize("spec", ["weekly", "bands:sometimes", "hybrid:annual"])
def test_bad_spec_is_a_user_error(spec):
    """An unknown kind or option raises BallastError."""
    with pytest.raises(BallastError):
        parse_spec(spec, IPS, CLASSES)


def test_vanguard_grid_has_thirteen_policies():
    """3 monitoring frequencies × 4 thresholds + never."""
    grid = vanguard_policies(IPS, CLASSES)
    assert len(grid) == 13 and grid[-1].name == "never"
    assert grid[0].lower == grid[0].targets  # 0% band
