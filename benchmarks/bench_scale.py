"""Scale-out as a user runs it: ``ballast review --executor local`` against ``--executor dask``
(a LocalCluster sized to this machine, or ``--address`` a running scheduler), whole processes,
on the same generated workspace, next to the bare floor in the same run.

    uv run python benchmarks/bench_scale.py --portfolios 10000 50000 100000 [--runs 1]
        [--address tcp://HOST:8786] [--server] [--shard-size 1000]

For each size the workspace is generated once (``generate.generate_workspace``, seeded) and
ingested once (``ballast ingest``), so every review measured here is warm: ingest is the same
code on both executors and would only blur the comparison. First, once, the workspace's first
Dask review ("dask-first": the coordinator parses every IPS to find its accounts,
``ballast.cluster.policy_accounts``); then ``--runs`` times: the floor (``benchmarks/floor.py``),
a local review, a Dask review (IPS files already seen). Each review is measured from the
outside (wall time; peak RSS of every process of its tree, sampled) and from its run log
(stage seconds; the coordinator's own peak RSS, which the flow logs after each stage). With a
LocalCluster the workers are the review's descendants, so their peak RSS is measured too; on an
external scheduler they are not (see the scheduler's own dashboard).

Prints a Markdown table per size (time, ratio to local, ratio to floor, coordinator and worker
peak RSS, portfolios per second per worker core) and the extrapolation (stated as one) of one
million single-account portfolios on 16 workers; writes ``OUT/scale-<N>.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import bench_cli  # noqa: E402
from generate import generate_workspace  # noqa: E402

OUT = HERE / "out"
MIB = 1024 * 1024
REVIEW_OK = {0, 1}


def measure_tree(
    cmd: list[str], *, log: Path, env: dict[str, str], interval: float
) -> dict[str, Any]:
    """Wall time, and the peak RSS of the root process and of the largest other process."""
    load_before = bench_cli._load()
    t0 = time.perf_counter()
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    root = psutil.Process(proc.pid)
    peaks: dict[int, int] = {}
    names: dict[int, str] = {}
    cpu = 0.0
    while proc.poll() is None:
        with contextlib.suppress(psutil.Error):
            times = root.cpu_times()
            cpu = times.user + times.system
        for p in bench_cli._tree(root):
            with contextlib.suppress(psutil.Error):
                rss = p.memory_info().rss
                peaks[p.pid] = max(peaks.get(p.pid, 0), rss)
                names.setdefault(p.pid, " ".join(p.cmdline()[:4]))
        time.sleep(interval)
    wall = time.perf_counter() - t0
    workers = [
        v for pid, v in peaks.items() if pid != proc.pid and "multiprocessing" in names.get(pid, "")
    ]
    return {
        "exit_code": proc.returncode,
        "wall_seconds": round(wall, 2),
        "root_peak_rss_mib": round(peaks.get(proc.pid, 0) / MIB, 1),
        "root_cpu_seconds": round(cpu, 2),  # the coordinator's own CPU (not its children's)
        "worker_peak_rss_mib": round(max(workers) / MIB, 1) if workers else None,
        "workers_seen": len(workers),
        "load_before": load_before,
        "load_after": bench_cli._load(),
    }


def coordinator_peak(jsonl: Path, run_id: str) -> float | None:
    """The largest ``peak_rss_mib`` the flow logged for the run (its own process only)."""
    peak = None
    for line in jsonl.read_text(encoding="utf-8").splitlines():
        with contextlib.suppress(json.JSONDecodeError):
            rec = json.loads(line)
            if rec.get("run_id") == run_id and "peak_rss_mib" in rec:
                peak = max(peak or 0.0, float(rec["peak_rss_mib"]))
    return peak


def bench_size(n: int, args: argparse.Namespace, work: Path, logs: Path) -> dict[str, Any]:
    ws = work / f"ws-{n}"
    stats = generate_workspace(ws, n, seed=args.seed, as_of=dt.date.fromisoformat(args.as_of))
    print(f"[{n}] generated: {stats.as_dict()['positions']} positions", flush=True)
    raw = work / f"raw-{n}"  # the floor reads the custodian files, which ingest moves away
    for sub in ("inbox", "ips", "reference"):
        shutil.copytree(ws / sub, raw / sub)
    env = bench_cli.review_env(None)
    ballast = bench_cli.ballast_command()
    subprocess.run([*ballast, "ingest", "-w", str(ws)], env=env, check=False, capture_output=True)
    review = [*ballast, "review", "--as-of", args.as_of, "-w", str(ws)]
    (ws / "ballast.yaml").write_text(
        f"execution:\n  shard_size: {args.shard_size}\n", encoding="utf-8"
    )
    dask = ["--executor", "dask"] + (["--address", args.address] if args.address else [])
    rows: list[dict[str, Any]] = []
    # the first Dask review of a workspace parses every IPS on the coordinator, to find its
    # accounts (ballast.cluster.policy_accounts); later ones only the new or edited: measured
    # apart ("dask-first"), before the runs compared
    rows.append(_review(n, "dask-first", [*review, *dask], ws, env, args, logs))
    for rep in range(args.runs):
        floor = bench_cli.measure(
            [sys.executable, str(bench_cli.FLOOR), str(raw), str(work / "floor")],
            log=logs / f"{n}-{rep}-floor.log",
            interval=args.interval,
        )
        rows.append(
            {
                "kind": "floor",
                "wall_seconds": floor["wall_seconds"],
                "root_peak_rss_mib": floor["max_process_rss_mib"],
            }
        )
        for kind, extra in (("local", ["--executor", "local"]), ("dask", dask)):
            rows.append(_review(n, kind, [*review, *extra], ws, env, args, logs, rep))
    return {"portfolios": n, "positions": stats.as_dict()["positions"], "rows": rows}


def _review(
    n: int,
    kind: str,
    cmd: list[str],
    ws: Path,
    env: dict[str, str],
    args: argparse.Namespace,
    logs: Path,
    rep: int = 0,
) -> dict[str, Any]:
    """One whole ``ballast review`` process, measured from outside and from its run log."""
    before = {r["run_id"] for r in bench_cli.run_stages(ws / "logs" / "ballast.jsonl")}
    m = measure_tree(cmd, log=logs / f"{n}-{rep}-{kind}.log", env=env, interval=args.interval)
    runs = [
        r for r in bench_cli.run_stages(ws / "logs" / "ballast.jsonl") if r["run_id"] not in before
    ]
    if runs:
        m["run_id"] = runs[-1]["run_id"]
        m["stage_seconds"] = runs[-1]["stages"]
        m["coordinator_peak_rss_mib"] = coordinator_peak(
            ws / "logs" / "ballast.jsonl", runs[-1]["run_id"]
        )
    m["kind"] = kind
    if m["exit_code"] not in REVIEW_OK:
        m["error"] = f"exit status {m['exit_code']}"
    print(f"[{n}] {kind}: {json.dumps(m)}", flush=True)
    return m


def _median(rows: list[dict[str, Any]], kind: str, key: str) -> float | None:
    values = sorted(r[key] for r in rows if r["kind"] == kind and r.get(key) is not None)
    return values[len(values) // 2] if values else None


def markdown(sizes: list[dict[str, Any]], workers: int) -> str:
    lines = [
        "| portfolios | positions | floor s | local s | dask s | dask/local | local/floor "
        "| coordinator peak MiB (local / dask) | dask worker peak MiB | portfolios/s/core (dask) "
        "| dask, first review s | coordinator CPU s (dask / first) |",
        "|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---|",
    ]
    for s in sizes:
        rows = s["rows"]
        fl, lo, da = (_median(rows, k, "wall_seconds") for k in ("floor", "local", "dask"))
        cl, cd = (_median(rows, k, "coordinator_peak_rss_mib") for k in ("local", "dask"))
        wk = _median(rows, "dask", "worker_peak_rss_mib")
        rate = s["portfolios"] / da / workers if da else None
        first = _median(rows, "dask-first", "wall_seconds")
        cpu = [_median(rows, k, "root_cpu_seconds") for k in ("dask", "dask-first")]
        tail = f" {first} | {cpu[0]} / {cpu[1]} |"
        lines.append(
            f"| {s['portfolios']:,} | {s['positions']:,} | {fl} | {lo} | {da} | "
            f"{da / lo:.2f} | {lo / fl:.1f} | {cl} / {cd} | {wk} | {rate:.1f} |{tail}"
            if fl and lo and da and rate
            else f"| {s['portfolios']:,} | {s['positions']:,} | {fl} | {lo} | {da} | – | – "
            f"| {cl} / {cd} | {wk} | – |{tail}"
        )
    big = sizes[-1]
    da = _median(big["rows"], "dask", "wall_seconds")
    coord = _median(big["rows"], "dask", "root_cpu_seconds")
    first = _median(big["rows"], "dask-first", "root_cpu_seconds")
    if da and coord:
        per_core = big["portfolios"] / da / workers
        workers_bound = 1_000_000 / (per_core * 16) / 60
        coordinator_bound = coord / big["portfolios"] * 1_000_000 / 60
        lines.append(
            f"\nExtrapolation (not a measurement), from {big['portfolios']:,} portfolios with "
            f"every report: the workers did {per_core:.1f} portfolios/s per core, so 16 worker "
            f"cores would need ~{workers_bound:.1f} min for 1,000,000 single-account "
            f"portfolios; the coordinator spent {coord / big['portfolios'] * 1000:.2f} ms of "
            f"CPU per portfolio (snapshot reads, IPS files, writing the run folder), "
            f"~{coordinator_bound:.1f} min for 1,000,000: the run takes at least the larger."
        )
        if first:
            lines.append(
                f"A workspace's first Dask review (no IPS file known to the coordinator, which "
                f"parses them all to find their accounts) cost the coordinator "
                f"{first / big['portfolios'] * 1000:.2f} ms of CPU per portfolio, "
                f"~{first / big['portfolios'] * 1_000_000 / 60:.1f} min for 1,000,000."
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--portfolios", type=int, nargs="+", default=[10_000])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--address", default=None, help="a running Dask scheduler")
    parser.add_argument("--server", action="store_true", help="one `ballast server` for all")
    parser.add_argument("--shard-size", type=int, default=1000)
    parser.add_argument("--as-of", default="2026-09-30")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--interval", type=float, default=0.2)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    workers = os.cpu_count() or 1
    sizes = []
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        work = Path(tmp)
        logs = args.out / "scale-logs"
        logs.mkdir(parents=True, exist_ok=True)
        server = bench_cli.ballast_server(work, 600) if args.server else contextlib.nullcontext()
        with server:
            for n in args.portfolios:
                size = bench_size(n, args, work, logs)
                (args.out / f"scale-{n}.json").write_text(json.dumps(size, indent=2))
                sizes.append(size)
    print(markdown(sizes, workers))
    return 0


if __name__ == "__main__":
    sys.exit(main())
