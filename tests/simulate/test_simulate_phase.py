"""Calendar phase (timing luck): schedules shifted by whole months, checked on a hand-made year and
on the bundled history (issue 14: 60/40 quarterly, 1926–2018, 7.82 % vs 7.63 %)."""

from __future__ import annotations

import numpy as np
import pytest

from ballast.portfolio.policy import Policy, Review
from ballast.simulate.engine import Market, simulate
from ballast.simulate.history import load_bundled
from ballast.simulate.metrics import per_path, phase_summary
from ballast.simulate.policies import (
    all_phases,
    parse_spec,
    phase_count,
    review_months,
    schedule_label,
    with_phase,
)

IPS = Policy.model_validate(
    {
        "id": "p",
        "name": "p",
        "accounts": [{"id": "A", "tax_status": "tax_exempt"}],
        "review": "quarterly",
        "default_band": "500bp",
        "asset_classes": {"eq": {"target": "60%"}, "bd": {"target": "40%"}},
    }
)
CLASSES = ["eq", "bd"]


def pol(spec: str, phase: int = 0):
    return with_phase(parse_spec(spec, IPS, CLASSES), phase)


@pytest.mark.parametrize(
    ("review", "phase", "months"),
    [
        (Review.QUARTERLY, 0, [3, 6, 9, 12]),
        (Review.QUARTERLY, 1, [1, 4, 7, 10]),
        (Review.QUARTERLY, 2, [2, 5, 8, 11]),
        (Review.QUARTERLY, 3, [3, 6, 9, 12]),  # modulo the period
        (Review.SEMIANNUAL, 1, [1, 7]),
        (Review.ANNUAL, 0, [12]),
        (Review.ANNUAL, 3, [3]),
        (Review.ANNUAL, 11, [11]),
        (Review.MONTHLY, 5, list(range(1, 13))),
    ],
)
def test_phase_shifts_the_months_a_schedule_fires_on(review, phase, months):
    """Phase n fires n months after the period-end months, modulo the period."""
    assert review_months(review, phase) == months


def test_phase_counts_and_labels():
    """Quarterly 3 phases, annual 12, monthly and never 1; a hybrid the lcm of its schedules;
    'ips' follows its quarterly review; a shifted schedule is named in the description."""
    counts = {s: phase_count(pol(s)) for s in ("never", "monthly", "quarterly", "annual", "ips")}
    assert counts == {"never": 1, "monthly": 1, "quarterly": 3, "annual": 12, "ips": 3}
    assert phase_count(pol("hybrid:semiannual:quarterly")) == 6
    assert schedule_label(pol("quarterly", 1)) == "Jan/Apr/Jul/Oct"
    assert schedule_label(pol("annual", 4)) == "Apr"
    assert pol("quarterly", 0).description == "quarterly calendar rebalancing to target"
    assert pol("quarterly", 4).description.endswith("phase 1 (Jan/Apr/Jul/Oct)")
    assert [p.phase for p in all_phases([pol("never"), pol("quarterly")])] == [0, 0, 1, 2]


def hand_year() -> Market:
    """Twelve month-ends, January to December. Bonds return 0 every month; equities return 0
    except March +25 %, April −20 %, October +50 %, November −1/3 (each pair nets to nothing)."""
    eq = np.zeros(12)
    eq[[2, 3, 9, 10]] = [0.25, -0.20, 0.50, -1.0 / 3.0]
    r = np.stack([eq, np.zeros(12)], axis=1)[:, None, :]
    return Market(r, np.zeros((12, 1)), np.arange(1, 13))


def test_quarterly_phases_on_a_hand_made_year():
    """Bonds flat, so from a 60/40 trade to the next the value grows by 0.6·G + 0.4, G being the
    equities' growth over that stretch; the final value is the product over the stretches.

    phase 0 (Mar/Jun/Sep/Dec): Jan–Mar G = 1.25 → 1.15; Apr–Jun G = 0.8 → 0.88;
        Jul–Sep 1; Oct–Dec G = 1.5 · 2/3 = 1 → 1.            1.15 × 0.88 = 1.012
    phase 1 (Jan/Apr/Jul/Oct): Jan 1; Feb–Apr G = 1.25 · 0.8 = 1; May–Jul 1;
        Aug–Oct G = 1.5 → 1.3; Nov–Dec G = 2/3 → 0.8.         1.3 × 0.8 = 1.04
    phase 2 (Feb/May/Aug/Nov): Mar–May G = 1; Sep–Nov G = 1; the rest 1.           1.0
    monthly: 1.15 × 0.88 × 1.3 × 0.8 = 1.05248; never: 0.6 × 1 + 0.4 = 1.0;
    annual at phase 3 (March) 1.15 × (0.6 · 0.8 + 0.4) = 1.012, at phase 10 (October)
    (0.6 · 1.5 + 0.4) × 0.8 = 1.04, at phase 0 (December) never trades before the end: 1.0.
    """
    policies = [
        pol("quarterly", 0),
        pol("quarterly", 1),
        pol("quarterly", 2),
        pol("monthly"),
        pol("never"),
        pol("annual", 3),
        pol("annual", 10),
        pol("annual", 0),
    ]
    res = simulate(hand_year(), policies)
    expected = [1.012, 1.04, 1.0, 1.05248, 1.0, 1.012, 1.04, 1.0]
    assert res.wealth[:, 0] == pytest.approx(expected, rel=1e-12)
    assert res.events[:3, 0].tolist() == [4, 4, 4]  # each quarterly phase fires four times
    # twelve months: the CAGR is the year's growth
    assert per_path(res)["cagr"][:3, 0] == pytest.approx([0.012, 0.04, 0.0], abs=1e-12)


def test_all_phases_run_together_and_their_spread():
    """``all_phases`` puts every phase on the engine's policy axis in one run; the summary gives
    each phase's figures and min / median / max / spread (quarterly: 0 %, 1.2 %, 4 %; 4 points)."""
    res = simulate(hand_year(), all_phases([pol("never"), pol("quarterly"), pol("annual")]))
    assert len(res.policies) == 1 + 3 + 12
    rows = {r["policy"]: r for r in phase_summary(res)}
    q = rows["quarterly"]
    assert [r["months"] for r in q["runs"]] == [
        "Mar/Jun/Sep/Dec",
        "Jan/Apr/Jul/Oct",
        "Feb/May/Aug/Nov",
    ]
    assert [r["cagr"] for r in q["runs"]] == pytest.approx([0.012, 0.04, 0.0])
    assert q["dispersion"]["cagr"] == pytest.approx(
        {"min": 0.0, "median": 0.012, "max": 0.04, "spread": 0.04}
    )
    assert q["dispersion"]["events"]["spread"] == 0
    assert rows["never"]["phases"] == 1 and rows["never"]["dispersion"]["cagr"]["spread"] == 0
    annual = [r["cagr"] for r in rows["annual"]["runs"]]
    assert annual[3] == pytest.approx(0.012) and annual[10] == pytest.approx(0.04)
    assert "tax_drag" not in q["dispersion"]  # untaxed: no tax figures


@pytest.fixture(scope="module")
def sixty_forty_tbill() -> Market:
    h = load_bundled()
    r = h.returns[:, [h.index("market"), h.index("tbill")]]
    return Market(r[:, None, :], r[:, None, 1], h.calendar_months)


def test_issue_figures_on_the_bundled_history(sixty_forty_tbill):
    """Issue 14: 60/40 US market / T-bills, 1926-07..2018-11, quarterly to target, no costs:
    Mar/Jun/Sep/Dec 7.82 %, Jan/Apr/Jul/Oct 7.63 % (19 bp apart); Feb/May/Aug/Nov is 7.83 %.
    (tests/simulate/test_simulate_bt.py checks phases 0 and 1 against bt.)"""
    res = simulate(sixty_forty_tbill, all_phases([pol("quarterly")]))
    cagr = per_path(res)["cagr"][:, 0]
    assert np.round(cagr, 4).tolist() == [0.0782, 0.0763, 0.0783]
    assert cagr == pytest.approx([0.078190, 0.076258, 0.078260], abs=1e-6)
    assert (cagr[0] - cagr[1]) * 1e4 == pytest.approx(19.3, abs=0.1)
