"""Tests of ballast.simulate.tax: the realised-gain estimate and yearly netting."""

from __future__ import annotations

import numpy as np
import pytest

from ballast.simulate.tax import TaxBook, TaxRates

RATES = TaxRates(short_term=0.37, long_term=0.20)


def book_with(short: float, long_: float, carry: float = 0.0) -> TaxBook:
    b = TaxBook(np.ones((1, 1)))
    b.short[:], b.long[:], b.carry[:] = short, long_, carry
    return b


@pytest.mark.parametrize(
    ("short", "long_", "tax", "carry"),
    [
        (10.0, 20.0, 10 * 0.37 + 20 * 0.20, 0.0),
        (-5.0, 20.0, 15 * 0.20, 0.0),  # a short-term loss nets against long-term gains
        (10.0, -4.0, 6 * 0.37, 0.0),
        (-5.0, -3.0, 0.0, 8.0),  # a net loss is carried forward
    ],
)
def test_short_and_long_net_against_each_other(short, long_, tax, carry):
    """US netting: losses of one kind offset gains of the other; a net loss carries forward."""
    b = book_with(short, long_)
    assert b.settle(RATES)[0] == pytest.approx(tax)
    assert b.carry[0] == pytest.approx(carry)


def test_carried_loss_offsets_next_years_gains():
    """A loss carried forward reduces next year's short-term gain first."""
    b = book_with(10.0, 5.0, carry=12.0)
    assert b.settle(RATES)[0] == pytest.approx(3.0 * 0.20)
    assert b.carry[0] == 0.0


def test_holdings_turn_long_term_after_the_first_anniversary():
    """The initial purchase is short-term 12 month-ends later and long-term 13 later."""
    b = TaxBook(np.array([[1.0]]))
    b.grow(np.array([[2.0]]))
    for step in range(12):
        b.age(step)
    b.trade(np.array([[2.0]]), np.array([[1.5]]), 11)  # still recent at step 11
    assert (b.short[0], b.long[0]) == (pytest.approx(0.25), 0.0)
    b = TaxBook(np.array([[1.0]]))
    b.grow(np.array([[2.0]]))
    for step in range(13):
        b.age(step)
    b.trade(np.array([[2.0]]), np.array([[1.5]]), 12)
    assert (b.short[0], b.long[0]) == (0.0, pytest.approx(0.25))
