"""The optimiser's answer depends on its inputs alone: not on the machine's load (no time limit
decides a number), not on the worker count or the pool's scheduling, not on today's date."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import replace
from types import ModuleType
from typing import Any

import pytest

from ballast.trading.optimizer import optimise, programme, solve, weights
from ballast.trading.proposal import OptimisedProposal
from tests.support.paths import ROOT


def _load_bench() -> ModuleType:
    path = ROOT / "benchmarks/bench_optimizer.py"
    spec = importlib.util.spec_from_file_location("bench_optimizer", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


bench = _load_bench()


@pytest.fixture
def milp_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[dict[str, Any], Any]]:
    """Every ``milp`` call of this process: (its options, its result); delegates to scipy."""
    calls: list[tuple[dict[str, Any], Any]] = []
    real = solve.milp

    def milp(*args: Any, **kwargs: Any) -> Any:
        options = dict(kwargs.get("options") or {})  # scipy pops from the dict it is given
        res = real(*args, **kwargs)
        calls.append((options, res))
        return res

    monkeypatch.setattr(solve, "milp", milp)
    return calls


def _same(a: OptimisedProposal, b: OptimisedProposal) -> None:
    assert a.trades.height > 0
    assert a.trades.equals(b.trades)
    assert a.classes.equals(b.classes)
    assert a.warnings.equals(b.warnings)
    assert a.lot_sales.equals(b.lot_sales)


def test_branch_and_bound_is_limited_by_nodes_not_seconds(
    milp_calls: list[tuple[dict[str, Any], Any]],
) -> None:
    """HiGHS measures time in C, so no clock can be faked: the options must carry no time limit
    (it made the same input give different trades under load) and the node limit instead."""
    optimise(bench.optimiser_inputs(10, lots=10, seed=5), workers=1)
    assert milp_calls
    for options, _ in milp_calls:
        assert "time_limit" not in options
        assert options["node_limit"] == weights.MIP_NODE_LIMIT


def test_same_trades_twice_and_with_a_process_pool(
    monkeypatch: pytest.MonkeyPatch, milp_calls: list[tuple[dict[str, Any], Any]]
) -> None:
    """Benchmark households, with a node limit low enough that several solves stop at it (the
    case a time limit made load-dependent): two runs in one worker and one in a pool of two
    give identical proposals."""
    monkeypatch.setattr(weights, "MIP_NODE_LIMIT", 20)
    monkeypatch.setattr(weights, "PARALLEL_MIN", 1)  # the pool even for a few dozen
    inputs = bench.optimiser_inputs(40, lots=20, seed=3)
    first = optimise(inputs, workers=1)
    stopped = [res for _, res in milp_calls if (res.mip_node_count or 0) >= 20]
    assert stopped, "no solve reached the node limit: the test no longer exercises it"
    assert all(res.x is not None for res in stopped)  # the best whole-share solution is used
    _same(first, optimise(inputs, workers=1))
    _same(first, optimise(inputs, workers=2))


def test_the_sale_date_never_comes_from_the_clock() -> None:
    """With lots and no ``as_of`` the optimiser refuses (holding periods would count from
    today); without lots or transactions the date plays no part."""
    inputs = bench.optimiser_inputs(10, lots=5, seed=5)
    with pytest.raises(ValueError, match="as_of"):
        optimise(replace(inputs, as_of=None), workers=1)
    no_lots = replace(inputs, lots=None, as_of=None)
    _same(optimise(no_lots, workers=1), optimise(replace(no_lots, as_of=bench.AS_OF), workers=1))


def test_same_trades_with_wash_sale_switches(
    monkeypatch: pytest.MonkeyPatch, milp_calls: list[tuple[dict[str, Any], Any]]
) -> None:
    """Issue 12, defect 7, with the wash-sale switches of issue 12, defect 4 (binaries that let
    a purchased lot be sold whole with the loss lots): benchmark households with purchases of
    the last 30 days, a node limit of 20, one worker twice and a pool of two: identical."""
    monkeypatch.setattr(weights, "MIP_NODE_LIMIT", 20)
    monkeypatch.setattr(weights, "PARALLEL_MIN", 1)
    inputs = bench.optimiser_inputs(40, lots=20, seed=3, recent=True)
    kinds: list[str] = []
    real = programme.programmes

    def spy(variables: Any, *args: Any, **kwargs: Any) -> Any:
        kinds.extend(variables["kind"].to_list())
        return real(variables, *args, **kwargs)

    monkeypatch.setattr(programme, "programmes", spy)  # imported by the engine at each call
    first = optimise(inputs, workers=1)
    assert "wash" in kinds, "no wash-sale switch: the test no longer exercises them"
    assert all("time_limit" not in options for options, _ in milp_calls)
    _same(first, optimise(inputs, workers=1))
    _same(first, optimise(inputs, workers=2))
