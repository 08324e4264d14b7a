"""An estimate of realised gains and their tax for a taxable portfolio, vectorised over paths.

The simulator holds one position per asset class, not tax lots, so this is an estimate:

- cost basis is average cost per class; a sale relieves basis pro rata to the value sold;
- holding period: purchases of the last 12 months are *recent* (kept per month at market value,
  growing with the class); a sale relieves older holdings first (FIFO), so only the part of a
  sale larger than the older holdings is short-term, taken pro rata from the recent months; a
  month-end purchase turns long-term 13 month-ends later (after the first anniversary);
- gains are netted once a year (December month-end, and at the last month): short- and long-term
  net against each other as in the US, a net loss is carried forward; the tax is paid from the
  portfolio pro rata, and the sale that pays it is not itself taxed (its gain simply vanishes).

Unrealised gains are not taxed while the portfolio is held (buy and hold defers them all); the
engine separately prices a liquidation at the last month-end (``copy``, sell everything, settle
together with that year's realised gains) so that policies can also be compared after it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

HOLD_STEPS = 13  # month-ends until a purchase is long-term (sold after the first anniversary)


@dataclass(frozen=True)
class TaxRates:
    short_term: float
    long_term: float


class TaxBook:
    """Cost basis, recent purchases and realised gains for holdings of shape (..., K)."""

    def __init__(self, holdings: np.ndarray) -> None:
        self.basis = holdings.copy()
        self.ring = np.zeros((HOLD_STEPS, *holdings.shape))
        self.ring[0] = holdings  # the initial purchase, at step -1
        self.recent = holdings.copy()
        self.short = np.zeros(holdings.shape[:-1])
        self.long = np.zeros(holdings.shape[:-1])
        self.carry = np.zeros(holdings.shape[:-1])

    def copy(self) -> TaxBook:
        """An independent copy (for a hypothetical sale that must not touch this book)."""
        return copy.deepcopy(self)

    def grow(self, growth: np.ndarray) -> None:
        """The month's growth factors (broadcast to (..., K)) apply to recent purchases too."""
        self.ring *= growth
        self.recent *= growth

    def age(self, step: int) -> None:
        """Purchases made ``HOLD_STEPS`` month-ends before ``step`` become long-term."""
        slot = (step + 1) % HOLD_STEPS
        np.maximum(self.recent - self.ring[slot], 0.0, out=self.recent)
        self.ring[slot] = 0.0

    def trade(self, before: np.ndarray, after: np.ndarray, step: int) -> None:
        """Record the sales and purchases that turn ``before`` holdings into ``after``."""
        delta = after - before
        sells = np.maximum(-delta, 0.0)
        buys = np.maximum(delta, 0.0)
        frac = np.divide(sells, before, out=np.zeros_like(sells), where=before > 0)
        gain = sells - self.basis * frac
        older = np.maximum(before - self.recent, 0.0)
        short_sold = sells - np.minimum(sells, older)
        short_share = np.divide(short_sold, sells, out=np.zeros_like(sells), where=sells > 0)
        self.short += (gain * short_share).sum(-1)
        self.long += (gain * (1.0 - short_share)).sum(-1)
        self.basis = self.basis * (1.0 - frac) + buys
        keep = 1.0 - np.divide(
            short_sold, self.recent, out=np.zeros_like(sells), where=self.recent > 0
        )
        self.ring *= np.maximum(keep, 0.0)
        self.ring[(step + 1) % HOLD_STEPS] += buys
        self.recent = np.maximum(self.recent - short_sold, 0.0) + buys

    def settle(self, rates: TaxRates) -> np.ndarray:
        """The year's tax: net short against long, apply the loss carried forward, reset."""
        st, lt = self.short, self.long
        st, lt = np.where(st < 0, 0.0, st), np.where(st < 0, lt + st, lt)
        st, lt = np.where(lt < 0, st + lt, st), np.where(lt < 0, 0.0, lt)
        use = np.minimum(self.carry, np.maximum(st, 0.0))
        st, carry = st - use, self.carry - use
        use = np.minimum(carry, np.maximum(lt, 0.0))
        lt, carry = lt - use, carry - use
        net_loss = np.maximum(-(st + lt), 0.0)
        self.carry = carry + net_loss
        tax = np.maximum(st, 0.0) * rates.short_term + np.maximum(lt, 0.0) * rates.long_term
        self.short = np.zeros_like(self.short)
        self.long = np.zeros_like(self.long)
        return tax

    def scale(self, factor: np.ndarray) -> None:
        """Holdings were scaled by ``factor`` (tax paid pro rata): scale basis and lots alike."""
        f = factor[..., None]
        self.basis *= f
        self.recent *= f
        self.ring *= f
