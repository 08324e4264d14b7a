"""The vectorised simulation: every path and every policy at once, one loop over months.

State is an array of holdings ``H[s, p, k]`` (policy, path, asset class) in units of the initial
wealth (1.0). Each month-end: grow by the month's returns; add or take the month's cash flow
(directed first to under- or from overweight classes, or pro rata to target); check the
calendar and the bands; trade where a policy acts, paying costs; once a year settle tax. Statistics
are accumulated online so memory does not grow with the number of months. With tax, the last
month-end also prices a liquidation: the extra tax had every holding been sold then.

Float64 throughout: this is a simulation of growth of 1, not bookkeeping of money (the review
engine uses ``Decimal``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

import numpy as np

from ballast.portfolio.policy import RebalanceTo, TradeClasses
from ballast.simulate.policies import TO_CODE, SimPolicy, review_mask
from ballast.simulate.tax import TaxBook, TaxRates

TOL = 1e-12  # float noise allowed on a band edge: a weight on the edge is inside


@dataclass(frozen=True)
class Market:
    """Monthly returns of the asset classes and of the risk-free rate along each path."""

    returns: np.ndarray  # (T, P, K) simple returns
    risk_free: np.ndarray  # (T, P)
    months: np.ndarray  # (T,) calendar month 1..12 of each month-end


@dataclass(frozen=True)
class Frictions:
    """Costs, cash flows and tax applied to every policy alike."""

    cost_bp: tuple[float, ...] = ()  # per class; empty means none
    flow_rate: float = 0.0  # a year's flow as a fraction of value: + contributions, - withdrawals
    tax: TaxRates | None = None


@dataclass
class Trace:
    """Month by month record of path 0 (for the history report)."""

    weights: np.ndarray  # (T, S, K) month-end weights before any trade
    events: np.ndarray  # (T, S) bool: a rebalancing trade
    wealth: np.ndarray  # (T, S) month-end wealth


@dataclass
class SimResult:
    """Online statistics per policy and path, shape (S, P) unless noted."""

    policies: list[SimPolicy]
    months: int
    sum_log: np.ndarray
    sum_r: np.ndarray
    sum_r2: np.ndarray
    sum_ex: np.ndarray
    sum_ex2: np.ndarray
    max_drawdown: np.ndarray
    turnover: np.ndarray  # sum of one-way turnover of rebalancing trades
    events: np.ndarray
    cost_paid: np.ndarray
    tax_paid: np.ndarray
    cost_lost: np.ndarray  # costs, grown at the portfolio's return to the end
    tax_lost: np.ndarray
    wealth: np.ndarray
    weight_sum: np.ndarray  # (S, P, K)
    weight_min: np.ndarray
    weight_max: np.ndarray
    checkpoints: np.ndarray  # (C,) month indices at which wealth_at is recorded
    wealth_at: np.ndarray  # (C, S, P)
    trace: Trace | None = field(default=None)
    # with tax: the extra tax, at the last month-end, of selling every holding (None untaxed);
    # negative when the sale's losses would cut that year's tax
    liquidation_tax: np.ndarray | None = field(default=None)


def simulate(
    market: Market,
    policies: list[SimPolicy],
    frictions: Frictions | None = None,
    trace: bool = False,
    checkpoint_every: int = 12,
) -> SimResult:
    """Run every policy on every path; ``trace`` records path 0 month by month."""
    fr = frictions or Frictions()
    T, P, K = market.returns.shape
    S = len(policies)
    # Layout (K, S, P): each class is one contiguous plane, so sums over classes are plane adds.
    growth_k = np.ascontiguousarray(np.moveaxis(market.returns, 2, 1)) + 1.0  # (T, K, P)
    tgt = np.array([p.targets for p in policies]).T[:, :, None]  # (K, S, 1)
    lo = np.array([p.lower for p in policies]).T[:, :, None] - TOL
    hi = np.array([p.upper for p in policies]).T[:, :, None] + TOL
    to = np.array([TO_CODE[p.rebalance_to] for p in policies])[None, :, None]
    all_on_breach = np.array(
        [
            p.rebalance_to is RebalanceTo.TARGET and p.trade_classes is TradeClasses.ALL
            for p in policies
        ]
    )[:, None]
    directed = np.array([p.directed_flows for p in policies])[None, :, None]
    cal = np.stack([review_mask(market.months, p.calendar, p.phase) for p in policies], axis=1)
    mon = np.stack([review_mask(market.months, p.monitor, p.phase) for p in policies], axis=1)
    cost = (np.asarray(fr.cost_bp or (0.0,) * K, dtype=float) / 1e4)[:, None, None]
    monthly_flow = fr.flow_rate / 12.0

    H = np.broadcast_to(tgt, (K, S, P)).copy()
    book = TaxBook(np.moveaxis(H, 0, -1)) if fr.tax else None
    v_prev = np.ones((S, P))
    z = np.zeros((S, P))
    sum_log, sum_r, sum_r2, sum_ex, sum_ex2 = z.copy(), z.copy(), z.copy(), z.copy(), z.copy()
    index, peak, mdd = np.ones((S, P)), np.ones((S, P)), z.copy()
    turnover, cost_paid, tax_paid = z.copy(), z.copy(), z.copy()
    events = np.zeros((S, P), dtype=np.int64)
    cost_lost, tax_lost = z.copy(), z.copy()
    wsum, wmin, wmax = np.zeros((K, S, P)), np.full((K, S, P), np.inf), np.full((K, S, P), -np.inf)
    checkpoints = np.array(sorted({*range(checkpoint_every - 1, T, checkpoint_every), T - 1}))
    wealth_at = np.empty((len(checkpoints), S, P))
    tr = (
        Trace(np.empty((T, S, K)), np.zeros((T, S), dtype=bool), np.empty((T, S)))
        if trace
        else None
    )
    taxed = (market.months == 12) | (np.arange(T) == T - 1)
    liquidation = z.copy()

    for t in range(T):
        H *= growth_k[t][:, None, :]
        v = H.sum(0)
        growth = v / v_prev
        cost_lost *= growth
        tax_lost *= growth
        if book is not None:
            book.grow(growth_k[t].T)
            book.age(t)
        flow = z
        if monthly_flow:
            flow = v * monthly_flow
            H = _add_flow(H, flow, tgt, directed, book, t)
            v = H.sum(0)
        w = H / v
        wsum += w
        np.minimum(wmin, w, out=wmin)
        np.maximum(wmax, w, out=wmax)
        breached = (w > hi) | (w < lo)
        act = cal[t][:, None] | (mon[t][:, None] & breached.any(0))
        if tr is not None:
            tr.weights[t] = w[:, :, 0].T
            tr.events[t] = act[:, 0]
        if act.any():
            full = cal[t][:, None] | all_on_breach
            if full.all():
                dest = np.broadcast_to(tgt, H.shape)
            else:
                dest = _destination(w, breached, tgt, lo + TOL, hi - TOL, to)
                dest = np.where(full, tgt, dest)
            trade_cost = (np.abs(dest * v - H) * cost).sum(0) if cost.any() else z
            new = dest * (v - trade_cost)
            new = np.where(act, new, H)
            trade_cost = np.where(act, trade_cost, 0.0)
            turnover += np.abs(new - H).sum(0) / (2.0 * v)
            events += act
            cost_paid += trade_cost
            cost_lost += trade_cost
            if book is not None:
                book.trade(np.moveaxis(H, 0, -1), np.moveaxis(new, 0, -1), t)
            H = new
        if book is not None and taxed[t]:
            rates = cast(TaxRates, fr.tax)  # a book means a tax
            v_now = H.sum(0)
            if t == T - 1:  # the year's tax had everything also been sold, less the year's own
                sold = book.copy()
                sold.trade(np.moveaxis(H, 0, -1), np.zeros((S, P, K)), t)
                liquidation = np.minimum(sold.settle(rates), v_now)
            tax = np.minimum(book.settle(rates), v_now)
            if t == T - 1:  # negative when selling realises a loss that offsets the year's gains
                liquidation = liquidation - tax
            factor = 1.0 - np.divide(tax, v_now, out=np.zeros_like(tax), where=v_now > 0)
            H *= factor
            book.scale(factor)
            tax_paid += tax
            tax_lost += tax
        v_end = H.sum(0)
        r = (v_end - flow) / v_prev - 1.0
        ex = r - market.risk_free[t]
        sum_log += np.log1p(r)
        sum_r += r
        sum_r2 += r * r
        sum_ex += ex
        sum_ex2 += ex * ex
        index *= 1.0 + r
        np.maximum(peak, index, out=peak)
        np.minimum(mdd, index / peak - 1.0, out=mdd)
        if tr is not None:
            tr.wealth[t] = v_end[:, 0]
        v_prev = v_end
        hit = np.searchsorted(checkpoints, t)
        if hit < len(checkpoints) and checkpoints[hit] == t:
            wealth_at[hit] = v_end

    def last(a: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(np.moveaxis(a, 0, -1))

    return SimResult(
        policies,
        T,
        sum_log,
        sum_r,
        sum_r2,
        sum_ex,
        sum_ex2,
        mdd,
        turnover,
        events,
        cost_paid,
        tax_paid,
        cost_lost,
        tax_lost,
        v_prev,
        last(wsum),
        last(wmin),
        last(wmax),
        checkpoints,
        wealth_at,
        tr,
        liquidation_tax=liquidation if book is not None else None,
    )


def _add_flow(
    H: np.ndarray,
    flow: np.ndarray,
    tgt: np.ndarray,
    directed: np.ndarray,
    book: TaxBook | None,
    t: int,
) -> np.ndarray:
    """Add the month's cash flow: directed first to the classes it brings toward target, else
    pro rata to target (a withdrawal is taken from the overweight classes first)."""
    gap = tgt * (H.sum(0) + flow) - H
    need = np.where(flow >= 0, np.maximum(gap, 0.0), np.maximum(-gap, 0.0))
    total = need.sum(0)
    share = np.divide(need, total, out=np.broadcast_to(tgt, need.shape).copy(), where=total > 0)
    share = np.where(directed, share, tgt)
    new: np.ndarray = np.maximum(H + flow * share, 0.0)
    if book is not None:
        book.trade(np.moveaxis(H, 0, -1), np.moveaxis(new, 0, -1), t)
    return new


def _destination(
    w: np.ndarray,
    breached: np.ndarray,
    tgt: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    to: np.ndarray,
) -> np.ndarray:
    """Weights (K, S, P) after a band-triggered trade: breached classes go to the target, the
    band edge or halfway; the rest of the portfolio is spread over the unbreached classes (all
    classes if every one is breached) in proportion to their targets."""
    edge = np.clip(w, lo, hi)
    dest = np.where(to == 0, tgt, np.where(to == 1, edge, 0.5 * (edge + tgt)))
    d = np.where(breached, dest, w)
    absorb = ~breached
    absorb |= ~absorb.any(0)
    share = tgt * absorb
    norm = share.sum(0)
    share = np.divide(share, norm, out=absorb / absorb.sum(0), where=norm > 0)
    d = np.maximum(d + (1.0 - d.sum(0)) * share, 0.0)
    weights: np.ndarray = d / d.sum(0)
    return weights
