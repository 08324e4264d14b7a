"""Figures per policy from the engine's online statistics.

Conventions (monthly data): CAGR = exp(12 · mean log(1 + r)) − 1 of the time-weighted monthly
returns; volatility = sample standard deviation (ddof 1) × √12; Sharpe = mean / standard deviation
of the excess over the T-bill, × √12; maximum drawdown on month-end values; turnover = one-way
(Σ|trade| / 2 ÷ value) summed per year; cost and tax drag = how much higher the CAGR would be had
the money paid stayed invested at the portfolio's return. Taxable runs add the liquidation
figures: ``liquidation_tax`` (the extra tax of selling everything at the last month-end) and
``after_tax_cagr`` (the CAGR with that sale's tax taken as one more return at the end).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ballast.simulate.engine import SimResult
from ballast.simulate.policies import phase_count, schedule_label

PERCENTILES = (5, 25, 50, 75, 95)


def per_path(res: SimResult) -> dict[str, np.ndarray]:
    """Each figure as an array of shape (policies, paths)."""
    n = res.months
    years = n / 12.0
    growth = np.exp(res.sum_log * 12.0 / n)
    var = np.maximum(res.sum_r2 - res.sum_r**2 / n, 0.0) / (n - 1)
    ex_var = np.maximum(res.sum_ex2 - res.sum_ex**2 / n, 0.0) / (n - 1)
    ex_sd = np.sqrt(ex_var)
    sharpe = np.divide(res.sum_ex / n, ex_sd, out=np.zeros_like(ex_sd), where=ex_sd > 0)
    wealth = np.maximum(res.wealth, 1e-300)

    def drag(lost: np.ndarray) -> np.ndarray:
        gap: np.ndarray = growth * ((wealth + lost) / wealth) ** (1.0 / years) - growth
        return gap

    figs = {
        "cagr": growth - 1.0,
        "volatility": np.sqrt(var * 12.0),
        "sharpe": sharpe * np.sqrt(12.0),
        "max_drawdown": res.max_drawdown,
        "turnover": res.turnover / years,
        "events": res.events.astype(float),
        "cost_drag": drag(res.cost_lost),
        "tax_drag": drag(res.tax_lost),
        "terminal_wealth": res.wealth,
    }
    if res.liquidation_tax is not None:
        kept = np.maximum(1.0 - res.liquidation_tax / wealth, 0.0)
        figs["liquidation_tax"] = res.liquidation_tax
        figs["after_tax_cagr"] = growth * kept ** (1.0 / years) - 1.0
    return figs


def weights(
    res: SimResult, classes: list[str], s: int, p: int | None = None
) -> dict[str, dict[str, float]]:
    """Average, lowest and highest month-end weight of each class (over paths: mean of the
    averages, the 5th percentile of the lows and the 95th of the highs)."""
    avg = res.weight_sum[s] / res.months  # (P, K)
    out: dict[str, dict[str, float]] = {}
    for k, name in enumerate(classes):
        if p is not None:
            lo, mean, hi = res.weight_min[s, p, k], avg[p, k], res.weight_max[s, p, k]
        else:
            lo = np.percentile(res.weight_min[s, :, k], 5)
            mean = avg[:, k].mean()
            hi = np.percentile(res.weight_max[s, :, k], 95)
        out[name] = {"average": _r(mean), "min": _r(lo), "max": _r(hi)}
    return out


def history_summary(res: SimResult, classes: list[str]) -> list[dict[str, Any]]:
    """One dict of figures per policy for a single path (the historical backtest)."""
    figs = per_path(res)
    out = []
    for s, policy in enumerate(res.policies):
        row: dict[str, Any] = {key: _r(val[s, 0]) for key, val in figs.items()}
        row["events"] = int(res.events[s, 0])
        row["cost_paid"] = _r(res.cost_paid[s, 0])
        row["tax_paid"] = _r(res.tax_paid[s, 0])
        row["weights"] = weights(res, classes, s, 0)
        out.append({"policy": policy.name, **row})
    return out


def paths_summary(res: SimResult, classes: list[str]) -> list[dict[str, Any]]:
    """Per policy: medians over paths of each figure, terminal-wealth percentiles, dispersion."""
    figs = per_path(res)
    out = []
    for s, policy in enumerate(res.policies):
        median = {k: _r(np.median(v[s])) for k, v in figs.items() if k != "terminal_wealth"}
        tw = figs["terminal_wealth"][s]
        pct = np.percentile(tw, PERCENTILES)
        logs = np.log(np.maximum(tw, 1e-300))
        out.append(
            {
                "policy": policy.name,
                "median": median,
                "terminal_wealth": {f"p{q}": _r(v) for q, v in zip(PERCENTILES, pct, strict=True)}
                | {"mean": _r(tw.mean())},
                "dispersion": {
                    "log_sd": _r(logs.std(ddof=1)) if len(tw) > 1 else 0.0,
                    "p95_over_p5": _r(pct[-1] / pct[0]) if pct[0] > 0 else None,
                },
                "weights": weights(res, classes, s),
            }
        )
    return out


def wealth_fan(res: SimResult) -> dict[str, list[dict[str, float]]]:
    """Wealth percentiles at each checkpoint (year ends), per policy: the fan chart's data."""
    pct = np.percentile(res.wealth_at, PERCENTILES, axis=2)  # (5, C, S)
    out = {}
    for s, policy in enumerate(res.policies):
        out[policy.name] = [
            {"month": int(m) + 1} | {f"p{q}": _r(pct[i, c, s]) for i, q in enumerate(PERCENTILES)}
            for c, m in enumerate(res.checkpoints)
        ]
    return out


# figures whose spread over calendar phases is reported (the tax ones only when taxed)
PHASE_FIGURES = (
    "cagr",
    "volatility",
    "max_drawdown",
    "events",
    "turnover",
    "cost_drag",
    "tax_drag",
    "after_tax_cagr",
)


def phase_summary(res: SimResult) -> list[dict[str, Any]]:
    """Timing luck on one path: ``res`` ran ``policies.all_phases`` (each policy once per phase,
    same name, consecutive). Per policy: each phase's figures and, per figure, min, median, max and
    spread (max − min) over its phases."""
    figs = per_path(res)
    taxed = res.liquidation_tax is not None
    keys = [k for k in PHASE_FIGURES if k in figs and (taxed or "tax" not in k)]
    out: list[dict[str, Any]] = []
    s = 0
    while s < len(res.policies):
        first = res.policies[s]
        n = phase_count(first)
        rows = range(s, s + n)
        runs = [
            {"phase": res.policies[i].phase, "months": schedule_label(res.policies[i])}
            | {k: _r(figs[k][i, 0]) for k in keys}
            for i in rows
        ]
        spread = {}
        for k in keys:
            vals = figs[k][s : s + n, 0]
            lo, hi = float(vals.min()), float(vals.max())
            spread[k] = {
                "min": _r(lo),
                "median": _r(np.median(vals)),
                "max": _r(hi),
                "spread": _r(hi - lo),
            }
        out.append({"policy": first.name, "phases": n, "runs": runs, "dispersion": spread})
        s += n
    return out


def _r(x: float, digits: int = 6) -> float:
    return round(float(x), digits)
