"""The policy simulator as a Prefect flow: prepare, simulate history and futures, report."""

from __future__ import annotations

from pathlib import Path

from ballast.tasks.simulate import (
    prepare_inputs,
    simulate_history,
    simulate_paths,
    simulate_phases,
    simulate_vanguard,
    write_report,
)
from prefect import flow

from ballast.simulate.config import SimulationConfig


@flow(name="simulate-policies")
def simulate_policies(
    ips_path: Path, config: SimulationConfig, out_dir: Path, vanguard: bool = False
) -> list[Path]:
    """Every policy of ``config`` for the IPS at ``ips_path`` (and, with ``config.phase`` "all",
    at every calendar phase of the history); writes into ``out_dir``."""
    inputs = prepare_inputs(ips_path, config)
    hist = simulate_history(inputs)
    paths = simulate_paths(inputs)
    grid = simulate_vanguard(inputs) if vanguard else None
    phases = simulate_phases(inputs)
    return write_report(out_dir, inputs, hist, paths, grid, phases)
