"""Thin Prefect tasks over the simulator's pure stages (``ballast.simulate.run``)."""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from ballast.simulate import run
from ballast.simulate.config import SimulationConfig
from ballast.simulate.engine import SimResult
from ballast.simulate.report import write_outputs


@task(cache_policy=NO_CACHE)
def prepare_inputs(ips_path: Path, config: SimulationConfig) -> run.Inputs:
    """Load and validate the IPS, history and policies."""
    return run.prepare(ips_path, config)


@task(cache_policy=NO_CACHE)
def simulate_history(inputs: run.Inputs) -> SimResult:
    """Every policy on the historical window."""
    return run.run_history(inputs)


@task(cache_policy=NO_CACHE)
def simulate_paths(inputs: run.Inputs) -> SimResult | None:
    """Every policy on every simulated path."""
    return run.run_paths(inputs)


@task(cache_policy=NO_CACHE)
def simulate_vanguard(inputs: run.Inputs) -> list[dict]:
    """The Vanguard-style grid on the history."""
    return run.run_vanguard(inputs)


@task(cache_policy=NO_CACHE)
def simulate_phases(inputs: run.Inputs) -> SimResult | None:
    """Every policy at each calendar phase on the history (``phase: all``), else None."""
    return run.run_phases(inputs)


@task(cache_policy=NO_CACHE)
def write_report(
    out_dir: Path,
    inputs: run.Inputs,
    hist: SimResult,
    paths: SimResult | None,
    grid: list[dict] | None,
    phases: SimResult | None = None,
) -> list[Path]:
    """Assemble ``simulation.json`` and render ``simulation.html``."""
    payload = run.assemble(inputs, hist, paths, grid, phases)
    labels = [inputs.history.label(t) for t in range(len(inputs.history.months))]
    return write_outputs(out_dir, payload, hist, labels)
