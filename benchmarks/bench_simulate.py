"""Benchmark: 10,000 bootstrap paths × 30 years × 6 policies, and the same work in bt.

bt runs one path and one policy at a time, so it is timed on a few path × policy runs and the
figure is extrapolated linearly to the full 60,000 runs (said so in the output).

    uv run python benchmarks/bench_simulate.py [--paths 10000] [--bt-runs 6]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ballast.simulate import run
from ballast.simulate.config import load_config
from ballast.simulate.engine import simulate

ROOT = Path(__file__).resolve().parents[1]
IPS = ROOT / "examples" / "simulate" / "sixty-forty.yaml"
CONFIG = ROOT / "examples" / "simulate" / "config" / "sixty-forty.yaml"


def bt_seconds_per_run(market, specs: list[str], n: int) -> float:
    """Mean seconds of one bt backtest (one path, one policy) over ``n`` runs."""
    import bt

    def weigh():
        return [bt.algos.SelectAll(), bt.algos.WeighSpecified(equity=0.6, bonds=0.4)]

    # ±500 bp around 60 % is a relative tolerance of 0.05 / 0.6 on equities (the first to trip)
    band = 0.05 / 0.6
    algos = {
        "never": lambda: [bt.algos.RunOnce(), *weigh()],
        "monthly": lambda: [bt.algos.RunMonthly(run_on_end_of_period=True), *weigh()],
        "quarterly": lambda: [bt.algos.RunQuarterly(run_on_end_of_period=True), *weigh()],
        "annual": lambda: [bt.algos.RunYearly(run_on_end_of_period=True), *weigh()],
        "bands:monthly": lambda: [*weigh(), bt.algos.RunIfOutOfBounds(band)],
        "ips": lambda: [
            bt.algos.RunQuarterly(run_on_end_of_period=True),
            *weigh(),
            bt.algos.RunIfOutOfBounds(band),
        ],
    }
    months = market.returns.shape[0]
    index = pd.date_range("1999-12-31", periods=months + 1, freq="ME")
    total = 0.0
    for i in range(n):
        spec = specs[i % len(specs)]
        r = market.returns[:, i, :]
        prices = pd.DataFrame(
            np.vstack([np.ones((1, 2)), np.cumprod(1 + r, axis=0)]) * 100,
            index=index,
            columns=["equity", "bonds"],
        )
        strategy = bt.Strategy(spec, [*algos[spec](), bt.algos.Rebalance()])
        began = time.perf_counter()
        bt.run(bt.Backtest(strategy, prices, integer_positions=False, progress_bar=False))
        total += time.perf_counter() - began
    return total / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", type=int, default=10_000)
    parser.add_argument("--years", type=int, default=30)
    parser.add_argument("--bt-runs", type=int, default=6)
    args = parser.parse_args()

    cfg = load_config(CONFIG).model_copy(
        update={"paths": args.paths, "years": args.years, "seed": 1}
    )
    inputs = run.prepare(IPS, cfg)
    began = time.perf_counter()
    market = run.simulated_market(inputs)
    generated = time.perf_counter()
    res = simulate(market, inputs.policies, inputs.frictions)
    engine = time.perf_counter() - generated
    total = generated - began + engine
    n_pol = len(inputs.policies)
    work = args.paths * n_pol
    print(
        f"ballast: {args.paths:,} paths × {args.years} years × {n_pol} policies "
        f"= {work:,} path-policies in {total:.2f} s "
        f"(bootstrap {generated - began:.2f} s, engine {engine:.2f} s); "
        f"median terminal wealth of 'never' {np.median(res.wealth[0]):.2f}"
    )
    per_run = bt_seconds_per_run(market, [p.name for p in inputs.policies], args.bt_runs)
    bt_total = per_run * work
    print(
        f"bt: {per_run * 1000:.0f} ms per path-policy measured on {args.bt_runs} runs, "
        f"extrapolated × {work:,} = {bt_total:,.0f} s ({bt_total / 60:.0f} min)"
    )
    print(f"ratio: ballast is {bt_total / total:,.0f}× faster than bt on the same work")


if __name__ == "__main__":
    main()
