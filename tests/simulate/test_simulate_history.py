"""Tests of ballast.simulate.history: bundled series, bond leg, user CSVs."""

from __future__ import annotations

import numpy as np
import pytest

from ballast.errors import BallastError
from ballast.simulate.history import bond_returns, load_bundled, load_csv, parse_month


def test_bond_leg_is_carry_minus_duration_times_yield_change():
    """r_t = y_{t-1}/12 - D (y_t - y_{t-1})."""
    y = np.array([0.06, 0.07, 0.065])
    got = bond_returns(y, 5.0)
    assert got == pytest.approx([0.06 / 12 - 5 * 0.01, 0.07 / 12 + 5 * 0.005])


def test_bundled_history_spans_1926_to_2018_with_market_as_excess_plus_rf():
    """market = (Mkt-RF + RF)/100 and tbill = RF/100, 1926-07..2018-11."""
    h = load_bundled()
    assert h.names == ("market", "tbill", "bond")
    assert (h.label(0), h.label(len(h.months) - 1), len(h.months)) == ("1926-07", "2018-11", 1109)
    assert h.column("market")[0] == pytest.approx((2.96 + 0.22) / 100)
    assert h.column("tbill")[0] == pytest.approx(0.0022)


def test_duration_changes_the_bond_leg_only():
    """A longer duration makes the bond leg more volatile; equities are untouched."""
    short, long_ = load_bundled(2.0), load_bundled(12.0)
    assert np.array_equal(short.column("market"), long_.column("market"))
    assert long_.column("bond").std() > 2 * short.column("bond").std()


def test_window_keeps_the_months_asked_for():
    """window('1926-07', '2009-12') keeps 1002 months."""
    h = load_bundled().window("1926-07", "2009-12")
    assert len(h.months) == 1002 and h.label(len(h.months) - 1) == "2009-12"


def test_user_csv_in_percent(tmp_path):
    """A user's CSV: month column plus series, percent divided by 100."""
    p = tmp_path / "r.csv"
    p.write_text("month,stocks,cash\n2020-01,1.5,0.1\n2020-02,-2.0,0.1\n")
    h = load_csv(p, percent=True)
    assert h.names == ("stocks", "cash")
    assert h.returns[1, 0] == pytest.approx(-0.02)
    assert list(h.calendar_months) == [1, 2]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("date,stocks\n2020-01,0.01\n", "no 'month' column"),
        ("month,stocks\n2020-01,0.01\n2020-02,\n", "row 3, column stocks"),
        ("month,stocks\n2020-02,0.01\n2020-01,0.01\n", "increasing"),
        ("month,stocks\n2020-01,-1.5\n2020-02,0.01\n", "-100%"),
    ],
)
def test_bad_user_csv_is_one_clear_error(tmp_path, text, match):
    """Mistakes in a returns CSV name what is wrong."""
    p = tmp_path / "r.csv"
    p.write_text(text)
    with pytest.raises(BallastError, match=match):
        load_csv(p)


def test_parse_month_rejects_nonsense():
    """'2020-13' is not a month."""
    assert parse_month("1926-07") == 192607
    with pytest.raises(BallastError):
        parse_month("2020-13")
