"""The whole-process benchmark (benchmarks/bench_cli.py) and its floor (benchmarks/floor.py).

Keeps the script working on a tiny size; asserts nothing about how long anything took.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.support.paths import ROOT

N = 20


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


bench = _load("bench_cli", ROOT / "benchmarks/bench_cli.py")
floor = _load("bench_floor", ROOT / "benchmarks/floor.py")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("bench-cli") / "ws"
    stats = bench.generate_workspace(root, N, seed=7)
    return root, stats.as_dict()


def test_floor_finds_the_generators_breaches(generated: tuple[Path, dict], tmp_path: Path) -> None:
    root, stats = generated
    found = floor.run(root, tmp_path)
    assert found["portfolios"] == N
    assert found["breached"] == stats["breached_portfolios"]
    assert found["rows"]["positions"] == stats["positions"]
    assert found["rows"]["lots"] == stats["lots"]
    assert (tmp_path / "floor.csv").read_text().startswith("portfolio_id,total_value,breached")


@pytest.mark.parametrize(
    ("text", "widths"),
    [("500bp", (0.05, floor.NEVER)), ("25%rel", (floor.NEVER, 0.25)), ("5/25", (0.05, 0.25))],
)
def test_floor_bands(text: str, widths: tuple[float, float]) -> None:
    assert floor.band(text) == pytest.approx(widths)


def test_measure_a_whole_process(tmp_path: Path) -> None:
    code = "import sys, time; b = bytearray(64 * 2**20); time.sleep(0.3); sys.exit(3)"
    m = bench.measure([sys.executable, "-c", code], log=tmp_path / "log", interval=0.02)
    assert m["exit_code"] == 3
    assert not m["timed_out"]
    assert m["peak_tree_rss_mib"] >= 60
    assert m["max_process_rss_mib"] >= 60
    assert len(m["load_before"]) == len(m["load_after"]) == 3


def test_measure_kills_at_the_timeout() -> None:
    m = bench.measure([sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.3)
    assert m["timed_out"]
    assert m["exit_code"] != 0


def test_run_stages_split_by_run(tmp_path: Path) -> None:
    jsonl = tmp_path / "ballast.jsonl"
    records = [
        {"ts": "2026-09-30T10:00:00.000Z", "run_id": "a", "message": "run a: quarterly_review"},
        {
            "ts": "2026-09-30T10:00:01.000Z",
            "run_id": "a",
            "message": "ingest done in 1.00 s",
            "seconds": 1.0,
        },
        {
            "ts": "2026-09-30T10:00:03.000Z",
            "run_id": "a",
            "message": "render done in 2.00 s",
            "seconds": 2.0,
        },
        {
            "ts": "2026-09-30T10:01:00.000Z",
            "run_id": "b",
            "message": "ingest done in 0.10 s",
            "seconds": 0.1,
        },
    ]
    jsonl.write_text("\n".join(json.dumps(r) for r in records) + "\nnot json\n")
    runs = bench.run_stages(jsonl)
    assert [r["run_id"] for r in runs] == ["a", "b"]
    assert runs[0]["stages"] == {"ingest": 1.0, "render": 2.0}
    m = {"started_epoch": runs[0]["first"] - 5, "ended_epoch": runs[0]["last"] + 1}
    bench.attach_stages(m, runs[0])
    assert m["before_first_log_seconds"] == pytest.approx(5)
    assert m["after_last_log_seconds"] == pytest.approx(1)


def _m(kind: str, rep: int, wall: float, rss: float) -> dict:
    return {
        "kind": kind,
        "rep": rep,
        "wall_seconds": wall,
        "exit_code": 0,
        "peak_tree_rss_mib": rss,
        "max_process_rss_mib": rss / 2,
        "load_before": [1.0, 1.0, 1.0],
        "load_after": [2.0, 1.0, 1.0],
        "stage_seconds": {"ingest": wall / 10} if kind != "floor" else {},
        "results": {"portfolios": 1, "breached": 3, "not_ok": 0} if kind != "floor" else None,
        "result": {"breached": 3} if kind == "floor" else None,
    }


def _size(n: int, scale: float) -> dict:
    ms = []
    for rep in (1, 2, 3):
        ms += [
            _m("floor", rep, 1.0 * scale, 100 * scale),
            _m("cold", rep, 10.0 * scale * rep, 500 * scale),
            _m("warm", rep, 5.0 * scale, 400 * scale),
        ]
    return {"portfolios": n, "generated": {"breached_portfolios": 3}, "measurements": ms}


def test_summaries_tables_and_targets() -> None:
    sizes = [_size(1_000, 1.0), _size(10_000, 2.0)]
    summaries = [bench.summarise(s) for s in sizes]
    small = summaries[0]
    assert small["cold"] == {"median": 20.0, "min": 10.0, "max": 30.0}
    assert small["cold_over_floor"]["median"] == 20.0  # pairwise: 10/1, 20/1, 30/1
    assert small["peak_tree_rss_mib"]["cold"] == 500
    assert small["breached"] == {"generated": 3, "cold": [3], "warm": [3], "floor": [3]}
    steps = bench.growth(summaries)
    assert steps[0]["cold_ms_per_portfolio"] == pytest.approx((40 - 20) * 1000 / 9000, abs=1e-3)
    goals = bench.targets(summaries, None, steps)
    assert {g["target"].split(",")[0] for g in goals} >= {"cold review", "warm review"}
    text = bench.markdown(summaries, sizes, None, steps, goals)
    assert "| 10,000 | 3 | 40.00 s (20.00–60.00)" in text
    assert "Load average" in text


@pytest.mark.slow
def test_the_whole_benchmark_on_a_tiny_size(tmp_path: Path) -> None:
    """Generate, floor, cold and warm ``ballast review`` once each, tables and JSON."""
    code = bench.main(
        ["--portfolios", str(N), "--runs", "1", "--help-runs", "1", "--out", str(tmp_path)]
    )
    summary = json.loads((tmp_path / f"cli-summary-{N}.json").read_text())
    size = summary["sizes"][0]
    assert code == 0, size["errors"]
    assert size["breached"]["cold"] == size["breached"]["floor"] == [size["breached"]["generated"]]
    assert set(size["stage_seconds"]["cold"]) >= {"ingest", "validate", "render"}
    assert (tmp_path / f"cli-{N}.json").exists()
