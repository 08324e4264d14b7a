"""Benchmark the quarterly review end to end on generated workspaces.

    uv run python benchmarks/bench_review.py --portfolios 1000 10000 [--keep DIR] [--dry-run]

For each N the parent process generates a workspace (timed on its own), then runs the review in
a fresh child process so that each N has its own peak memory and pays Prefect's start-up once.
The child calls ``ballast.flows.review.quarterly_review`` twice on the same workspace: run 1 ingests
the custodian drops, run 2 finds them already ingested (steady state). Results are printed and
written to ``benchmarks/out/review-<N>.json`` (``generate-<N>.json`` with ``--dry-run``).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate import generate_workspace

OUT = Path(__file__).resolve().parent / "out"
FLOW = "ballast.flows.review:quarterly_review"
MB = 1024 * 1024
PREFECT_ENV = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false"}


# --- memory --------------------------------------------------------------------------------


class RssSampler(threading.Thread):
    """Samples the RSS of this process and its children (Prefect's temporary server) every tick."""

    def __init__(self, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.interval, self.peak, self._stop_event = interval, 0, threading.Event()
        self.proc = psutil.Process()

    def tree_rss(self) -> int:
        """Current RSS of this process plus all its descendants, in bytes."""
        total = self.proc.memory_info().rss
        for child in self.proc.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                total += child.memory_info().rss
        return total

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            self.peak = max(self.peak, self.tree_rss())

    def reset(self) -> int:
        """The peak since the last reset (bytes), then start again from the current RSS."""
        peak, self.peak = max(self.peak, self.tree_rss()), 0
        return peak

    def stop(self) -> None:
        self._stop_event.set()


def _maxrss_mb() -> float:
    """Peak RSS of this process over its lifetime: ``VmHWM`` (``ballast.ops.memory``), not
    ``ru_maxrss``, which Linux keeps across ``exec`` (the parent's size at the spawn)."""
    from ballast.ops.memory import rss_mib

    return rss_mib()[1]


# --- the child: runs the flow --------------------------------------------------------------


def _scalars(result: dict[str, Any]) -> dict[str, Any]:
    """The flow result's small fields (numbers, strings, stage timings), for the summary."""
    keep = (int, float, str, bool, type(None))
    out = {k: v for k, v in result.items() if isinstance(v, keep)}
    out["stage_seconds"] = result.get("stage_seconds", {})
    return out


def _measure(flow: Any, sampler: RssSampler, label: str, **kwargs: Any) -> dict[str, Any]:
    """One timed call of the flow, with its stage split and memory."""
    gc.collect()
    sampler.reset()
    t0 = time.perf_counter()
    error = None
    try:
        result = flow(**kwargs)
    except Exception as exc:  # a failed run is still a figure worth reporting
        result, error = {}, f"{type(exc).__name__}: {exc}"
    wall = time.perf_counter() - t0
    if not isinstance(result, dict):
        result, error = {}, error or f"flow returned {type(result).__name__}, not a dict"
    stages = {k: float(v) for k, v in (result.get("stage_seconds") or {}).items()}
    positions = int(result.get("positions") or 0)
    return {
        "label": label,
        "error": error,
        "wall_seconds": round(wall, 3),
        "stage_seconds": {k: round(v, 3) for k, v in stages.items()},
        "stages_total_seconds": round(sum(stages.values()), 3),
        "overhead_seconds": round(wall - sum(stages.values()), 3),
        "rows_per_second": round(positions / wall) if wall and positions else None,
        "peak_rss_mb": _maxrss_mb(),
        "peak_tree_rss_mb": round(sampler.reset() / MB, 1),
        "rss_after_mb": round(psutil.Process().memory_info().rss / MB, 1),
        "result": _scalars(result),
    }


def run_child(workspace: str, as_of: str, flow_ref: str, out: Path) -> None:
    """Import the flow (timed), run it twice on ``workspace`` and write the figures to ``out``."""
    sampler = RssSampler()
    sampler.start()
    t0 = time.perf_counter()
    module, name = flow_ref.split(":")
    flow = getattr(importlib.import_module(module), name)
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    import_seconds = time.perf_counter() - t0
    kwargs = {"workspace": workspace, "as_of": as_of, "trigger": "adhoc"}
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        first = _measure(flow, sampler, "run 1: ingest and review", reason="benchmark", **kwargs)
        second = _measure(flow, sampler, "run 2: already ingested", reason="benchmark", **kwargs)
    sampler.stop()
    figures = {"import_seconds": round(import_seconds, 3), "runs": [first, second]}
    out.write_text(json.dumps(figures, indent=2), encoding="utf-8")


# --- the parent: generates, spawns, reports ------------------------------------------------


def _machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "memory_mb": round(psutil.virtual_memory().total / MB),
    }


def _spawn(
    ws: Path, as_of: str, flow_ref: str, n: int, prefect_home: Path, timeout: float
) -> dict[str, Any]:
    """Run the review in a fresh process; its console output goes to ``out/review-<N>.log``."""
    result_file = OUT / f".review-{n}.tmp.json"
    env = {**os.environ, **PREFECT_ENV}
    env.setdefault("PREFECT_HOME", str(prefect_home))
    cmd = [
        sys.executable,
        __file__,
        "--child",
        str(ws),
        "--as-of",
        as_of,
        "--flow",
        flow_ref,
        "--child-out",
        str(result_file),
    ]
    with (OUT / f"review-{n}.log").open("w", encoding="utf-8") as log:
        proc = subprocess.run(
            cmd, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=timeout, check=False
        )
    if proc.returncode != 0 or not result_file.exists():
        raise RuntimeError(
            f"review of {n} portfolios failed (exit {proc.returncode}); "
            f"see {OUT / f'review-{n}.log'}"
        )
    figures = json.loads(result_file.read_text(encoding="utf-8"))
    result_file.unlink()
    return figures


def _print_generation(n: int, gen: dict[str, Any]) -> None:
    print(
        f"\n== {n:,} portfolios: generated {gen['positions']:,} positions, {gen['lots']:,} lots, "
        f"{gen['files']:,} files, {gen['bytes_written'] / 1e6:.1f} MB in {gen['seconds']:.2f} s "
        f"({gen['breached_portfolios']:,} portfolios breach a band)"
    )


def _print_runs(figures: dict[str, Any]) -> None:
    """A table: one column per run, one row per figure."""
    runs = figures["runs"]
    stages = list(dict.fromkeys(k for r in runs for k in r["stage_seconds"]))
    rows: list[tuple[str, list[str]]] = [
        (
            "portfolios / positions (flow)",
            [
                f"{r['result'].get('portfolios', '?')} / {r['result'].get('positions', '?')}"
                for r in runs
            ],
        ),
        (
            "status, breached (flow)",
            [f"{r['result'].get('status', '?')}, {r['result'].get('breached', '?')}" for r in runs],
        ),
        ("wall, end to end (s)", [f"{r['wall_seconds']:.2f}" for r in runs]),
        *((f"  {s} (s)", [f"{r['stage_seconds'].get(s, 0):.2f}" for r in runs]) for s in stages),
        ("  Prefect/other overhead (s)", [f"{r['overhead_seconds']:.2f}" for r in runs]),
        ("positions/s (of wall)", [f"{r['rows_per_second'] or 0:,}" for r in runs]),
        ("peak RSS, process so far (MB)", [f"{r['peak_rss_mb']:.0f}" for r in runs]),
        ("peak RSS, with children (MB)", [f"{r['peak_tree_rss_mb']:.0f}" for r in runs]),
        ("RSS after run (MB)", [f"{r['rss_after_mb']:.0f}" for r in runs]),
    ]
    print(f"   import ballast.flows.review: {figures['import_seconds']:.2f} s")
    print(f"   {'':32}" + "".join(f"{r['label']:>28}" for r in runs))
    for name, values in rows:
        print(f"   {name:32}" + "".join(f"{v:>28}" for v in values))
    for r in runs:
        if r["error"]:
            print(f"   {r['label']}: {r['error']}")


def bench_one(n: int, args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    """Generate a workspace for ``n`` portfolios, review it (unless dry run), write the JSON."""
    base = args.keep if args.keep else scratch
    ws = base / f"ws-{n}"
    if ws.exists():
        shutil.rmtree(ws)
    gen = generate_workspace(ws, n, seed=args.seed).as_dict()
    _print_generation(n, gen)
    summary: dict[str, Any] = {
        "portfolios": n,
        "as_of": args.as_of,
        "seed": args.seed,
        "workspace": str(ws) if args.keep else None,
        "generate": gen,
        "machine": _machine(),
    }
    if args.dry_run:
        (OUT / f"generate-{n}.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
        return summary
    figures = _spawn(ws, args.as_of, args.flow, n, scratch / "prefect-home", args.timeout)
    for run in figures["runs"]:  # a flow that does not count positions: use the generated count
        if run["rows_per_second"] is None and run["wall_seconds"]:
            run["rows_per_second"] = round(gen["positions"] / run["wall_seconds"])
    _print_runs(figures)
    summary.update(figures, env=PREFECT_ENV | {"PREFECT_FLOWS_HEARTBEAT_FREQUENCY": None})
    (OUT / f"review-{n}.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return summary


def _parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description="Benchmark ballast's quarterly review.")
    ap.add_argument("--portfolios", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--keep", type=Path, help="keep the generated workspaces (and reports) here")
    ap.add_argument("--dry-run", action="store_true", help="generate only; do not run the review")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--as-of", default="2026-09-30")
    ap.add_argument(
        "--flow", default=FLOW, help="module:function of the flow (default %(default)s)"
    )
    ap.add_argument("--timeout", type=float, default=3600, help="seconds allowed per N")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--child-out", type=Path, help=argparse.SUPPRESS)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.child:
        run_child(args.child, args.as_of, args.flow, args.child_out)
        return 0
    OUT.mkdir(parents=True, exist_ok=True)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ballast-bench-") as tmp:
        for n in args.portfolios:
            try:
                bench_one(n, args, Path(tmp))
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 1
    print(f"\nsummaries in {OUT}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
