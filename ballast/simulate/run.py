"""The simulation's stages as plain functions: prepare inputs, run history, run simulated paths,
run the Vanguard grid, run the history at every calendar phase, assemble ``simulation.json``.
The CLI calls them directly; the Prefect flow wraps each in a task."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ballast.errors import BallastError
from ballast.portfolio.policy import Policy, load_policy
from ballast.simulate import metrics
from ballast.simulate.bootstrap import block_bootstrap, parametric
from ballast.simulate.config import SimulationConfig
from ballast.simulate.engine import Frictions, Market, SimResult, simulate
from ballast.simulate.history import BUNDLED, History, load_bundled, load_csv
from ballast.simulate.policies import (
    SimPolicy,
    all_phases,
    parse_spec,
    vanguard_policies,
    with_phase,
)
from ballast.simulate.tax import TaxRates
from ballast.simulate.vanguard import vanguard_rows


@dataclass(frozen=True)
class Inputs:
    """Everything a run needs, validated."""

    policy: Policy
    config: SimulationConfig
    classes: list[str]
    history: History
    policies: list[SimPolicy]
    frictions: Frictions


def prepare(ips_path: Path, config: SimulationConfig) -> Inputs:
    """Load the IPS and the history, check the mapping, build the policies."""
    policy = load_policy(ips_path)
    classes = config.classes(policy)
    if config.history == BUNDLED:
        history = load_bundled(config.bond_duration)
    else:
        history = load_csv(Path(config.history), percent=config.percent)
    history = history.window(config.start, config.end)
    for cls in classes:
        history.index(config.mapping[cls])
    if config.risk_free:
        history.index(config.risk_free)
    if not config.policies:
        raise BallastError("no policy to simulate")
    names = [s.strip() for s in config.policies]
    if len(set(names)) != len(names):
        raise BallastError("a policy is listed twice")
    sims = [parse_spec(s, policy, classes) for s in names]
    if isinstance(config.phase, int) and config.phase:
        sims = [with_phase(s, config.phase) for s in sims]
    tax = (
        TaxRates(float(policy.tax.short_term_rate), float(policy.tax.long_term_rate))
        if config.is_taxable(policy)
        else None
    )
    frictions = Frictions(config.costs(policy, classes), config.flow_rate, tax)
    return Inputs(policy, config, classes, history, sims, frictions)


def _market(inputs: Inputs, series: np.ndarray, months: np.ndarray) -> Market:
    """Pick the mapped columns out of series (T, P, M)."""
    h = inputs.history
    cols = [h.index(inputs.config.mapping[c]) for c in inputs.classes]
    rf = (
        series[:, :, h.index(inputs.config.risk_free)]
        if inputs.config.risk_free
        else np.zeros(series.shape[:2])
    )
    return Market(np.ascontiguousarray(series[:, :, cols]), np.ascontiguousarray(rf), months)


def history_market(inputs: Inputs) -> Market:
    """The historical window as a single path."""
    h = inputs.history
    return _market(inputs, h.returns[:, None, :], h.calendar_months)


def simulated_market(inputs: Inputs) -> Market:
    """``paths`` futures of ``years`` years from the configured model, seeded."""
    cfg, h = inputs.config, inputs.history
    rng = np.random.default_rng(cfg.seed)
    months = cfg.years * 12
    if cfg.model == "bootstrap":
        series = block_bootstrap(h.returns, months, cfg.paths, cfg.block_months, rng)
    else:
        series = parametric(
            h.returns,
            months,
            cfg.paths,
            rng,
            {h.index(k): v for k, v in cfg.annual_mean.items()},
            {h.index(k): v for k, v in cfg.annual_vol.items()},
        )
    return _market(inputs, series, np.arange(months) % 12 + 1)  # paths start in January


def run_history(inputs: Inputs) -> SimResult:
    """Every policy on the historical window, traced month by month."""
    return simulate(history_market(inputs), inputs.policies, inputs.frictions, trace=True)


def run_paths(inputs: Inputs) -> SimResult | None:
    """Every policy on every simulated path (None when ``paths`` is 0)."""
    if inputs.config.paths == 0:
        return None
    return simulate(simulated_market(inputs), inputs.policies, inputs.frictions)


def run_phases(inputs: Inputs) -> SimResult | None:
    """With ``phase: all``, every policy at each of its calendar phases on the history, in one
    engine run (the phases share its policy axis); else None."""
    if inputs.config.phase != "all":
        return None
    return simulate(history_market(inputs), all_phases(inputs.policies), inputs.frictions)


def run_vanguard(inputs: Inputs) -> list[dict[str, Any]]:
    """Vanguard 2010's grid on the historical window, no costs, no flows, no tax; always at
    phase 0 (quarter and year ends), whatever ``phase`` says."""
    sims = vanguard_policies(inputs.policy, inputs.classes)
    res = simulate(history_market(inputs), sims, Frictions())
    equity = inputs.config.equity(inputs.policy)
    return vanguard_rows(res, inputs.classes.index(equity))


def assemble(
    inputs: Inputs,
    hist: SimResult,
    paths: SimResult | None,
    vanguard: list[dict[str, Any]] | None = None,
    phases: SimResult | None = None,
) -> dict[str, Any]:
    """The content of ``simulation.json`` (``phases``: ``run_phases``'s result)."""
    cfg, h = inputs.config, inputs.history
    by_name_hist = {r["policy"]: r for r in metrics.history_summary(hist, inputs.classes)}
    by_name_paths = (
        {r["policy"]: r for r in metrics.paths_summary(paths, inputs.classes)}
        if paths is not None
        else {}
    )
    events = (
        {
            p.name: [h.label(t) for t in np.flatnonzero(hist.trace.events[:, s])]
            for s, p in enumerate(hist.policies)
        }
        if hist.trace is not None
        else {}
    )
    policies = []
    for sim in inputs.policies:
        policies.append(
            {
                "name": sim.name,
                "description": sim.description,
                "targets": dict(zip(inputs.classes, sim.targets, strict=True)),
                "lower": dict(zip(inputs.classes, sim.lower, strict=True)),
                "upper": dict(zip(inputs.classes, sim.upper, strict=True)),
                "history": {k: v for k, v in by_name_hist[sim.name].items() if k != "policy"},
                "simulated": (
                    {k: v for k, v in by_name_paths[sim.name].items() if k != "policy"}
                    if paths is not None
                    else None
                ),
                "history_events": events.get(sim.name, []),
            }
        )
    return {
        "ips": inputs.policy.id,
        "ips_name": inputs.policy.name,
        "asset_classes": inputs.classes,
        "config": cfg.model_dump(mode="json"),
        "history": {
            "source": cfg.history,
            "series": list(h.names),
            "start": h.label(0),
            "end": h.label(len(h.months) - 1),
            "months": len(h.months),
            "bond_duration": cfg.bond_duration if cfg.history == BUNDLED else None,
        },
        "simulated": None
        if paths is None
        else {
            "model": cfg.model,
            "paths": cfg.paths,
            "years": cfg.years,
            "seed": cfg.seed,
            "block_months": cfg.block_months if cfg.model == "bootstrap" else None,
            "wealth_fan": metrics.wealth_fan(paths),
        },
        "taxable": inputs.frictions.tax is not None,
        "policies": policies,
        "vanguard": vanguard,
        "phases": None if phases is None else metrics.phase_summary(phases),
    }
