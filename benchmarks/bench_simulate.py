"""Benchmark: 10,000 bootstrap paths × 30 years × 6 policies, and the same work in bt.

Like for like: both run the same bootstrap paths with the same policies and no costs, flows or
tax (bt's commissions are one function of quantity and price for every security, so the IPS's
10/5 bp per class cannot be given to it); calendars fire at the month-end closing the period on
both; a ±500 bp band is bt's ``RunIfOutOfBounds(0.05 / 0.40)`` (see ``bt_tolerance``). Each bt
run's final value is checked against ballast's for the same path and policy. bt runs one path
and one policy at a time, so it is timed on a few runs and extrapolated linearly to the full
60,000 (said so in the output); its time excludes building its price frames, ballast's includes
generating the paths.

    uv run python benchmarks/bench_simulate.py [--paths 10000] [--bt-runs 12]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ballast.simulate import run
from ballast.simulate.config import load_config
from ballast.simulate.engine import Frictions, Market, SimResult, simulate
from ballast.simulate.policies import SimPolicy

ROOT = Path(__file__).resolve().parents[1]
IPS = ROOT / "examples" / "simulate" / "sixty-forty.yaml"
CONFIG = ROOT / "examples" / "simulate" / "config" / "sixty-forty.yaml"


def bt_tolerance(policy: SimPolicy) -> float:
    """bt's ``RunIfOutOfBounds`` tolerance for the policy's bands. bt's test is relative per
    security, |w − t| > tol · t; with two classes both drift by the same amount, so the smaller
    target trips first and an absolute band ±b is ``tol = b / min(t)`` (0.05 / 0.40 for 60/40,
    not 0.05 / 0.6, which trips the 40 % leg at ±3.33 pp): the largest half-width / target."""
    if len(policy.targets) != 2:
        raise ValueError("an absolute band maps to one bt tolerance only with two classes")
    return max((u - t) / t for t, u in zip(policy.targets, policy.upper, strict=True))


def bt_runs(
    market: Market, policies: list[SimPolicy], res: SimResult, n: int
) -> tuple[float, float]:
    """Mean seconds of one bt backtest (one path, one policy) over ``n`` runs, and the largest
    relative gap between bt's final value and ballast's for the same path and policy."""
    import bt

    def weigh() -> list:
        return [bt.algos.SelectAll(), bt.algos.WeighSpecified(equity=0.6, bonds=0.4)]

    by_name = {p.name: p for p in policies}
    algos = {
        "never": lambda: [bt.algos.RunOnce(), *weigh()],
        "monthly": lambda: [bt.algos.RunMonthly(run_on_end_of_period=True), *weigh()],
        "quarterly": lambda: [bt.algos.RunQuarterly(run_on_end_of_period=True), *weigh()],
        "annual": lambda: [bt.algos.RunYearly(run_on_end_of_period=True), *weigh()],
        "bands:monthly": lambda: [
            *weigh(),
            bt.algos.RunIfOutOfBounds(bt_tolerance(by_name["bands:monthly"])),
        ],
        "ips": lambda: [  # the IPS: bands checked at its quarterly review
            bt.algos.RunQuarterly(run_on_end_of_period=True),
            *weigh(),
            bt.algos.RunIfOutOfBounds(bt_tolerance(by_name["ips"])),
        ],
    }
    months = market.returns.shape[0]
    index = pd.date_range("1999-12-31", periods=months + 1, freq="ME")  # paths start in January
    total, gap = 0.0, 0.0
    for i in range(n):
        s = i % len(policies)
        r = market.returns[:, i, :]
        prices = pd.DataFrame(
            np.vstack([np.ones((1, 2)), np.cumprod(1 + r, axis=0)]) * 100,
            index=index,
            columns=["equity", "bonds"],
        )
        name = policies[s].name
        strategy = bt.Strategy(name, [*algos[name](), bt.algos.Rebalance()])
        began = time.perf_counter()
        out = bt.run(bt.Backtest(strategy, prices, integer_positions=False, progress_bar=False))
        total += time.perf_counter() - began
        final = float(out.prices[name].iloc[-1]) / 100.0
        gap = max(gap, abs(final / res.wealth[s, i] - 1.0))
    return total / n, gap


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", type=int, default=10_000)
    parser.add_argument("--years", type=int, default=30)
    parser.add_argument("--bt-runs", type=int, default=12)
    args = parser.parse_args()

    cfg = load_config(CONFIG).model_copy(
        update={"paths": args.paths, "years": args.years, "seed": 1}
    )
    inputs = run.prepare(IPS, cfg)
    began = time.perf_counter()
    market = run.simulated_market(inputs)
    generated = time.perf_counter()
    res = simulate(market, inputs.policies, Frictions())  # no costs, flows or tax: as bt
    engine = time.perf_counter() - generated
    total = generated - began + engine
    n_pol = len(inputs.policies)
    work = args.paths * n_pol
    print(
        f"ballast: {args.paths:,} paths × {args.years} years × {n_pol} policies "
        f"= {work:,} path-policies in {total:.2f} s "
        f"(bootstrap {generated - began:.2f} s, engine {engine:.2f} s), no costs; "
        f"median terminal wealth of 'never' {np.median(res.wealth[0]):.2f}"
    )
    per_run, gap = bt_runs(market, inputs.policies, res, args.bt_runs)
    bt_total = per_run * work
    print(
        f"bt: {per_run * 1000:.0f} ms per path-policy measured on {args.bt_runs} runs, "
        f"extrapolated × {work:,} = {bt_total:,.0f} s ({bt_total / 60:.0f} min); "
        f"final values within {gap:.1e} (relative) of ballast's on those runs"
    )
    print(f"ratio: ballast is {bt_total / total:,.0f}× faster than bt on the same work")


if __name__ == "__main__":
    main()
