"""The Prefect flow `simulate_policies` end to end (slow: starts a temporary Prefect server)."""

from __future__ import annotations

import json

import pytest

from ballast.simulate.config import load_config
from tests.support.paths import ROOT


@pytest.mark.slow
def test_flow_writes_the_same_outputs_as_the_cli(prefect_harness, tmp_path):
    """The flow composes the tasks and writes simulation.json with the Vanguard grid."""
    from ballast.flows.simulate import simulate_policies

    cfg = load_config(ROOT / "examples/simulate/config/sixty-forty.yaml")
    cfg = cfg.model_copy(update={"paths": 50, "years": 5})
    written = simulate_policies(ROOT / "examples/simulate/sixty-forty.yaml", cfg, tmp_path, True)
    data = json.loads((tmp_path / "simulation.json").read_text())
    assert {p.name for p in written} == {"simulation.json", "simulation.html"}
    assert data["simulated"]["paths"] == 50 and len(data["vanguard"]) == 13
