"""``ballast review`` as a user runs it: whole processes, cold and warm, next to a bare floor.

    uv run python benchmarks/bench_cli.py --portfolios 1000 10000 [--runs 3] [--baseline FILE ...]

For each size the workspace is generated once (``generate.generate_workspace``, seeded), then
``--runs`` times, in this order:

1. **floor**: ``benchmarks/floor.py`` as a whole process on the generated files (DuckDB reads the
   custodian CSVs, PyYAML's C loader the IPS files, Polars computes weights, drift and breaches,
   one small CSV out; no ballast import);
2. **cold**: a fresh copy of the generated workspace (nothing ingested, no ``.ballast/``, so also
   a new Prefect home), then ``ballast review --as-of DATE -w COPY`` as a whole process. The new
   home starts from the migrated Prefect database the machine's first command left in the state
   folder: before the first size, ``ballast ingest`` of an empty workspace is timed as that first
   command (``first_command_seconds``); without ``--server`` the benchmark has a state folder of
   its own;
3. **warm**: the same command again on the same copy (the files are already ingested).

Each process is measured from the outside: wall time (spawn to exit), the peak of the summed
RSS of its process tree (psutil, every ``--interval`` s; Prefect's temporary server and any
workers included) and the largest single process's peak RSS (the largest ``VmHWM`` of the
process and its descendants, read at each sample; not ``ru_maxrss``, which Linux keeps across
``exec``: a command started by this benchmark would report the benchmark's own size), with the
load average at its start and end (the machine is shared). ``ballast --help`` is timed
``--help-runs`` times as well. Exit status 0 and 1 (some portfolio data invalid) both count as
a review; anything else is reported as an error.

Prints Markdown tables (sizes, stage split, growth between sizes, targets of issue #15, load
averages) and writes ``OUT/cli-<N>.json`` per size and ``OUT/cli-summary-<sizes>.json``
(default OUT: ``benchmarks/out/``; the runs' console output and ``logs/ballast.jsonl`` go to
``OUT/cli-logs/``).
``--baseline OUT/cli-10000.json`` adds an earlier run's size to the growth table (e.g. when
50,000 is run on its own).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import itertools
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from generate import generate_workspace  # noqa: E402

ROOT = HERE.parent
OUT = HERE / "out"
FLOOR = HERE / "floor.py"
MIB = 1024 * 1024
STAGE_LINE = re.compile(r"^(\w+) done in ")
STAGES = ("ingest", "validate", "load", "policies", "compute", "render", "record")
REVIEW_OK = (0, 1)  # 1: some portfolio's data is invalid, the review still ran

# issue #15's targets: (size, what, limit)
TARGET_COLD_S = (10_000, 15.0)
TARGET_RATIO = (10_000, 3.0)
TARGET_WARM_S = (10_000, 8.0)
TARGET_RSS_BYTES = (50_000, 1.5e9)  # 1.5 GB = 1.5 × 10^9 bytes (1,430 MiB)
TARGET_HELP_S = 1.0
LINEAR_SLACK = 1.25  # a step's per-portfolio growth at most this times the previous step's


# --- measuring one process ------------------------------------------------------------------


BALLAST: list[str] = []  # --ballast: another environment's script (e.g. a clean checkout's)


def ballast_command() -> list[str]:
    """The ``ballast`` console script of this environment (not ``uv run``: its start-up)."""
    if BALLAST:
        return list(BALLAST)
    script = Path(sys.executable).with_name("ballast")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from ballast.cli.app import main; sys.exit(main())"]


def ballast_source() -> str | None:
    """Where the measured ``ballast`` package is imported from (its environment's Python)."""
    python = Path(ballast_command()[0]).with_name("python")
    if not python.exists():
        python = Path(sys.executable)
    done = subprocess.run(
        [str(python), "-P", "-c", "import ballast; print(ballast.__file__)"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or None


def _busy() -> float:
    """CPU seconds the whole machine has been busy (all CPUs, not idle or waiting for I/O)."""
    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0)


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _tree(proc: psutil.Process) -> list[psutil.Process]:
    try:
        return [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return []


def _hwm_kib(pid: int) -> int:
    """A process's own peak RSS so far (``VmHWM``), 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _rss(procs: list[psutil.Process]) -> int:
    total = 0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total


def measure(
    cmd: Sequence[str],
    *,
    log: Path | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    interval: float = 0.05,
    timeout: float | None = None,
) -> dict[str, Any]:
    """Run ``cmd`` as a whole process; wall time, peak tree RSS, largest process's peak RSS.

    The largest process's peak is the largest ``VmHWM`` (a process's own high-water mark,
    read at each sample: it only grows) of the process and its descendants. Not ``ru_maxrss``:
    Linux keeps it across ``exec``, so the command's would include this benchmark's own size
    when it was started. The process is reaped with ``os.wait4`` for its CPU time (it and the
    descendants it waited for). Descendants still running when it exits are reported and
    terminated.
    """
    load_before = _load()
    busy_before = _busy()
    started = time.time()
    t0 = time.perf_counter()
    with open(log or os.devnull, "wb") as out:
        proc = subprocess.Popen(
            list(map(str, cmd)), stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd
        )
    root = psutil.Process(proc.pid)
    seen: dict[int, psutil.Process] = {}
    hwm: dict[int, int] = {}  # pid -> its VmHWM, KiB, at the last sample
    peak = samples = 0
    timed_out = False
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        procs = _tree(root)
        seen.update((p.pid, p) for p in procs[1:])
        peak = max(peak, _rss(procs))
        for p in procs:
            hwm[p.pid] = max(hwm.get(p.pid, 0), _hwm_kib(p.pid))
        samples += 1
        if timeout is not None and time.perf_counter() - t0 > timeout:
            timed_out = True
            for p in reversed(procs):
                with contextlib.suppress(psutil.Error):
                    p.kill()
            _, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(interval)
    wall = time.perf_counter() - t0
    ended = time.time()
    busy = _busy() - busy_before
    cpu = usage.ru_utime + usage.ru_stime
    proc.returncode = os.waitstatus_to_exitcode(status)
    leftover = [p for p in seen.values() if _alive(p)]
    for p in leftover:  # started by this measurement (its descendants), so ours to end
        with contextlib.suppress(psutil.Error):
            p.terminate()
    return {
        "exit_code": proc.returncode,
        "timed_out": timed_out,
        "wall_seconds": round(wall, 3),
        "peak_tree_rss_mib": round(peak / MIB, 1),
        "max_process_rss_mib": round(max(hwm.values(), default=0) / 1024, 1),  # KiB
        "cpu_seconds": round(cpu, 2),
        "system_seconds": round(usage.ru_stime, 2),  # of which in the kernel (file creation)
        "machine_busy_cpu_seconds": round(busy, 2),
        "other_cpu_seconds": round(max(0.0, busy - cpu), 2),  # the rest of the machine
        "rss_samples": samples,
        "processes_seen": 1 + len(seen),
        "leftover_processes": len(leftover),
        "load_before": load_before,
        "load_after": _load(),
        "started_epoch": started,
        "ended_epoch": ended,
    }


def _alive(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


# --- what a run left behind -----------------------------------------------------------------


def _epoch(ts: str) -> float:
    return dt.datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def run_stages(jsonl: Path) -> list[dict[str, Any]]:
    """Per run id in ``logs/ballast.jsonl`` (in order): stage seconds, first and last record."""
    runs: dict[str, dict[str, Any]] = {}
    if not jsonl.exists():
        return []
    for line in jsonl.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        run_id = rec.get("run_id")
        if not run_id:
            continue
        run = runs.setdefault(run_id, {"run_id": run_id, "stages": {}, "first": None, "last": 0.0})
        ts = _epoch(rec["ts"]) if rec.get("ts") else None
        if ts is not None:
            run["first"] = ts if run["first"] is None else min(run["first"], ts)
            run["last"] = max(run["last"], ts)
        m = STAGE_LINE.match(str(rec.get("message", "")))
        if m and "seconds" in rec:
            stage = m.group(1)
            run["stages"][stage] = round(run["stages"].get(stage, 0.0) + float(rec["seconds"]), 3)
    return list(runs.values())


def attach_stages(measurement: dict[str, Any], run: dict[str, Any] | None) -> None:
    """Stage seconds of the run, and the time before its first and after its last log record."""
    if not run or run["first"] is None:
        return
    measurement["run_id"] = run["run_id"]
    measurement["stage_seconds"] = run["stages"]
    measurement["before_first_log_seconds"] = round(run["first"] - measurement["started_epoch"], 3)
    measurement["after_last_log_seconds"] = round(measurement["ended_epoch"] - run["last"], 3)


def breached_in_results(workspace: Path, as_of: str, run_id: str | None) -> dict[str, int] | None:
    """Portfolios, breached and not-ok ones in the run's ``results.json``."""
    if not run_id:
        return None
    path = workspace / "reports" / as_of / run_id / "results.json"
    if not path.exists():
        return None
    rows = json.loads(path.read_text(encoding="utf-8")).get("portfolios", [])
    return {
        "portfolios": len(rows),
        "breached": sum(bool(r.get("breached")) for r in rows),
        "not_ok": sum(r.get("status") != "ok" for r in rows),
    }


def floor_result(log: Path) -> dict[str, Any] | None:
    """The JSON summary the floor printed last."""
    for line in reversed(log.read_text(encoding="utf-8", errors="replace").splitlines()):
        with contextlib.suppress(json.JSONDecodeError):
            found = json.loads(line)
            if isinstance(found, dict):
                return found
    return None


# --- one size -------------------------------------------------------------------------------


SERVER_STATE: list[Path] = []  # --server: the state folder of the `ballast server` started
BENCH_STATE: list[Path] = []  # else: the benchmark's state folder (no server record in it)


def review_env(home: Path | None) -> dict[str, str]:
    """The user's environment; with ``home``, a fresh HOME (and no XDG folders) instead. With
    ``--server``, the state folder of the benchmark's ``ballast server`` (else none is used)."""
    env = dict(os.environ)
    env.pop("PREFECT_API_URL", None)
    if home is not None:
        home.mkdir(parents=True, exist_ok=True)
        env["HOME"] = str(home)
        for key in [k for k in env if k.startswith("XDG_")]:
            del env[key]
    # without --server a folder with no server record: each review starts a temporary server
    # (the folder keeps the migrated Prefect database new workspaces start from: prime_state)
    state = SERVER_STATE or BENCH_STATE
    env["BALLAST_STATE_DIR"] = str(state[0] if state else "/nonexistent/ballast")
    return env


def prime_state(work: Path, timeout: float) -> float:
    """The benchmark's state folder, with the template Prefect database a user's first
    command leaves there (``ballast.ops.prefect_template``): ``ballast ingest`` on an empty
    workspace, timed (the one-time cost of a machine's first command), before the cold runs,
    which then measure a new workspace on a machine that has run ballast before."""
    BENCH_STATE[:] = [work / "ballast-state"]
    empty = work / "prime-ws"
    shutil.rmtree(empty, ignore_errors=True)
    env = review_env(None)
    subprocess.run(
        [*ballast_command(), "init", str(empty)],
        env=env,
        check=True,
        timeout=timeout,
        capture_output=True,
    )
    t0 = time.perf_counter()
    subprocess.run(
        [*ballast_command(), "ingest", "-w", str(empty)],
        env=env,
        check=True,
        timeout=timeout,
        capture_output=True,
    )
    shutil.rmtree(empty, ignore_errors=True)
    return round(time.perf_counter() - t0, 3)


@contextlib.contextmanager
def ballast_server(work: Path, timeout: float) -> Any:
    """``ballast server start`` for the whole benchmark (``--server``), stopped at the end;
    yields the seconds its start took. Its process is detached: not in a review's RSS tree."""
    state = work / "ballast-state"
    env = {**os.environ, "BALLAST_STATE_DIR": str(state)}
    env.pop("PREFECT_API_URL", None)
    t0 = time.perf_counter()
    subprocess.run(
        [*ballast_command(), "server", "start", "--timeout", str(timeout)], env=env, check=True
    )
    SERVER_STATE[:] = [state]
    try:
        yield round(time.perf_counter() - t0, 3)
    finally:
        subprocess.run([*ballast_command(), "server", "stop"], env=env, check=False)
        SERVER_STATE.clear()


def bench_size(
    n: int,
    *,
    runs: int,
    work: Path,
    logs: Path,
    as_of: str,
    seed: int,
    interval: float,
    timeout: float,
    fresh_home: bool,
    keep: bool,
    say: Any = print,
) -> dict[str, Any]:
    """Generate once, then ``runs`` × (floor, cold review, warm review); every measurement."""
    gen = work / f"gen-{n}"
    stats = generate_workspace(gen, n, seed=seed, as_of=dt.date.fromisoformat(as_of)).as_dict()
    say(
        f"[{n}] generated in {stats['seconds']} s: {stats['positions']} positions, "
        f"{stats['lots']} lots, {stats['breached_portfolios']} breached"
    )
    review = [*ballast_command(), "review", "--as-of", as_of]
    measurements: list[dict[str, Any]] = []
    for rep in range(runs):
        tag = f"{n}-{rep + 1}"
        floor = measure(
            [sys.executable, FLOOR, gen, work / f"floor-{tag}"],
            log=logs / f"{tag}-floor.log",
            cwd=work,
            interval=interval,
            timeout=timeout,
        )
        floor.update(kind="floor", rep=rep + 1, result=floor_result(logs / f"{tag}-floor.log"))
        measurements.append(floor)
        say(_line(n, floor))

        copy = work / f"ws-{tag}"
        t0 = time.perf_counter()
        shutil.copytree(gen, copy)
        copy_seconds = round(time.perf_counter() - t0, 3)
        env = review_env(work / f"home-{tag}" if fresh_home else None)
        pair = []
        for kind in ("cold", "warm"):
            m = measure(
                [*review, "-w", copy],
                log=logs / f"{tag}-{kind}.log",
                env=env,
                cwd=work,
                interval=interval,
                timeout=timeout,
            )
            m.update(kind=kind, rep=rep + 1)
            if m["exit_code"] not in REVIEW_OK or m["timed_out"]:
                m["error"] = f"exit status {m['exit_code']}" + (
                    " (timed out)" if m["timed_out"] else ""
                )
            pair.append(m)
        pair[0]["copy_seconds"] = copy_seconds
        jsonl = copy / "logs" / "ballast.jsonl"
        found = run_stages(jsonl)
        for m, run in zip(pair, found + [None] * (2 - len(found)), strict=False):
            attach_stages(m, run)
            m["results"] = breached_in_results(copy, as_of, m.get("run_id"))
            measurements.append(m)
            say(_line(n, m))
        if jsonl.exists():
            shutil.copyfile(jsonl, logs / f"{tag}-ballast.jsonl")
        if not keep:
            shutil.rmtree(copy, ignore_errors=True)
            shutil.rmtree(work / f"floor-{tag}", ignore_errors=True)
    return {"portfolios": n, "generated": stats, "measurements": measurements}


def _line(n: int, m: dict[str, Any]) -> str:
    extra = f" ERROR {m['error']}" if m.get("error") else ""
    return (
        f"[{n}] {m['kind']} {m['rep']}: {m['wall_seconds']:.2f} s, exit {m['exit_code']}, "
        f"tree {m['peak_tree_rss_mib']:.0f} MiB, largest {m['max_process_rss_mib']:.0f} MiB, "
        f"load {m['load_before'][0]} -> {m['load_after'][0]}{extra}"
    )


def bench_help(runs: int, interval: float) -> dict[str, Any]:
    """``ballast --help`` as a whole process, ``runs`` times."""
    cwd = Path(tempfile.gettempdir())  # not the project folder: nothing importable from there
    ms = [measure([*ballast_command(), "--help"], cwd=cwd, interval=interval) for _ in range(runs)]
    walls = [m["wall_seconds"] for m in ms]
    return {
        "runs": ms,
        "median_seconds": round(statistics.median(walls), 3),
        "min_seconds": min(walls),
        "max_seconds": max(walls),
        "errors": sum(m["exit_code"] != 0 for m in ms),
    }


# --- summaries (pure) -----------------------------------------------------------------------


def _of(ms: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return sorted((m for m in ms if m["kind"] == kind), key=lambda m: m["rep"])


def _spread(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {
        "median": round(statistics.median(values), 3),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
    }


def summarise(size: dict[str, Any]) -> dict[str, Any]:
    """One size's figures: medians and ranges, pairwise ratios, peak RSS (the worst run)."""
    ms = size["measurements"]
    cold, warm, floor = _of(ms, "cold"), _of(ms, "warm"), _of(ms, "floor")
    floor_by_rep = {m["rep"]: m["wall_seconds"] for m in floor}

    def walls(rows: list[dict[str, Any]]) -> list[float]:
        return [m["wall_seconds"] for m in rows]

    def ratios(rows: list[dict[str, Any]]) -> list[float]:
        return [
            m["wall_seconds"] / floor_by_rep[m["rep"]] for m in rows if floor_by_rep.get(m["rep"])
        ]

    def peak(rows: list[dict[str, Any]], key: str) -> float | None:
        return max((m[key] for m in rows), default=None)

    def stages(rows: list[dict[str, Any]]) -> dict[str, float]:
        keys: list[str] = []
        for m in rows:
            keys += [k for k in m.get("stage_seconds", {}) if k not in keys]
        out = {
            k: statistics.median(
                m["stage_seconds"].get(k, 0.0) for m in rows if "stage_seconds" in m
            )
            for k in keys
        }
        for k in ("before_first_log_seconds", "after_last_log_seconds"):
            vals = [m[k] for m in rows if k in m]
            if vals:
                out[k] = statistics.median(vals)
        return {k: round(v, 3) for k, v in out.items()}

    def breached(rows: list[dict[str, Any]]) -> list[int]:
        return sorted({m["results"]["breached"] for m in rows if m.get("results")})

    return {
        "portfolios": size["portfolios"],
        "runs": len(cold),
        "cold": _spread(walls(cold)),
        "warm": _spread(walls(warm)),
        "floor": _spread(walls(floor)),
        "cold_over_floor": _spread(ratios(cold)),
        "warm_over_floor": _spread(ratios(warm)),
        "peak_tree_rss_mib": {
            k: peak(r, "peak_tree_rss_mib")
            for k, r in (("cold", cold), ("warm", warm), ("floor", floor))
        },
        "max_process_rss_mib": {
            k: peak(r, "max_process_rss_mib")
            for k, r in (("cold", cold), ("warm", warm), ("floor", floor))
        },
        "stage_seconds": {"cold": stages(cold), "warm": stages(warm)},
        "breached": {
            "generated": size["generated"]["breached_portfolios"],
            "cold": breached(cold),
            "warm": breached(warm),
            "floor": sorted({m["result"]["breached"] for m in floor if m.get("result")}),
        },
        "errors": [f"{m['kind']} {m['rep']}: {m['error']}" for m in ms if m.get("error")]
        + [f"floor {m['rep']}: exit status {m['exit_code']}" for m in floor if m["exit_code"] != 0],
        "load": {
            "min_before": min((m["load_before"][0] for m in ms), default=None),
            "max_after": max((m["load_after"][0] for m in ms), default=None),
        },
    }


def growth(summaries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per added portfolio between consecutive sizes: seconds (ms) and peak RSS (KiB), medians
    of wall and worst RSS; ``*_vs_previous``: this step's slope over the previous step's."""
    rows: list[dict[str, Any]] = []
    ordered = sorted(summaries, key=lambda s: s["portfolios"])
    for a, b in itertools.pairwise(ordered):
        dn = b["portfolios"] - a["portfolios"]
        if dn <= 0:
            continue
        row: dict[str, Any] = {"from": a["portfolios"], "to": b["portfolios"]}
        for kind in ("cold", "warm", "floor"):
            if a[kind] and b[kind]:
                row[f"{kind}_ms_per_portfolio"] = round(
                    (b[kind]["median"] - a[kind]["median"]) * 1000 / dn, 3
                )
            ra, rb = a["peak_tree_rss_mib"].get(kind), b["peak_tree_rss_mib"].get(kind)
            if ra is not None and rb is not None:
                row[f"{kind}_rss_kib_per_portfolio"] = round((rb - ra) * 1024 / dn, 2)
            ra, rb = a["max_process_rss_mib"].get(kind), b["max_process_rss_mib"].get(kind)
            if ra is not None and rb is not None:
                row[f"{kind}_max_rss_kib_per_portfolio"] = round((rb - ra) * 1024 / dn, 2)
        if rows:
            prev = rows[-1]
            for key in [k for k in row if k.endswith("_per_portfolio")]:
                if prev.get(key):
                    row[key.replace("_per_portfolio", "_vs_previous")] = round(
                        row[key] / prev[key], 2
                    )
        rows.append(row)
    return rows


def targets(
    summaries: list[dict[str, Any]],
    help_figures: dict[str, Any] | None,
    steps: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """Issue #15's targets that this run measured: what, measured, limit, met."""
    by_n = {s["portfolios"]: s for s in summaries}
    rows: list[dict[str, Any]] = []

    def add(what: str, value: float | None, limit: float, unit: str) -> None:
        if value is not None:
            rows.append(
                {
                    "target": what,
                    "measured": value,
                    "limit": limit,
                    "unit": unit,
                    "met": value <= limit,
                }
            )

    n, limit = TARGET_COLD_S
    if n in by_n and by_n[n]["cold"]:
        add(f"cold review, {n:,} portfolios (median)", by_n[n]["cold"]["median"], limit, "s")
    n, limit = TARGET_RATIO
    if n in by_n and by_n[n]["cold_over_floor"]:
        add(
            f"cold / floor, {n:,} portfolios (median of pairs)",
            by_n[n]["cold_over_floor"]["median"],
            limit,
            "x",
        )
    n, limit = TARGET_WARM_S
    if n in by_n and by_n[n]["warm"]:
        add(f"warm review, {n:,} portfolios (median)", by_n[n]["warm"]["median"], limit, "s")
    n, limit = TARGET_RSS_BYTES
    if n in by_n:
        for key, label in (
            ("peak_tree_rss_mib", "process tree"),
            ("max_process_rss_mib", "largest process"),
        ):
            seen = [by_n[n][key].get(k) for k in ("cold", "warm")]
            worst = max((v for v in seen if v is not None), default=None)
            add(
                f"peak RSS, {n:,} portfolios, {label} (worst run)", worst, round(limit / MIB), "MiB"
            )
    if help_figures:
        add("`ballast --help` (median)", help_figures["median_seconds"], TARGET_HELP_S, "s")
    for step in steps[1:]:
        for key, what in (
            ("cold_ms_vs_previous", "time"),
            ("cold_rss_kib_vs_previous", "peak RSS (tree)"),
            ("cold_max_rss_kib_vs_previous", "peak RSS (largest process)"),
        ):
            if key in step:
                add(
                    f"linear growth, cold {what}: per-portfolio slope "
                    f"{step['from']:,}→{step['to']:,} over the previous step's",
                    step[key],
                    LINEAR_SLACK,
                    "x",
                )
    return rows


# --- Markdown -------------------------------------------------------------------------------


def _s(spread: dict[str, float] | None, unit: str = "s", digits: int = 2) -> str:
    if not spread:
        return "–"
    med, lo, hi = (f"{spread[k]:.{digits}f}" for k in ("median", "min", "max"))
    return f"{med} {unit} ({lo}–{hi})"


def _mib(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}"


def _rss_pair(summary: dict[str, Any], kind: str) -> str:
    tree, largest = summary["peak_tree_rss_mib"][kind], summary["max_process_rss_mib"][kind]
    return f"{_mib(tree)} / {_mib(largest)}"


def _table(header: list[str], rows: list[list[str]], align: str) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def markdown(
    summaries: list[dict[str, Any]],
    sizes: list[dict[str, Any]],
    help_figures: dict[str, Any] | None,
    steps: list[dict[str, Any]],
    goals: list[dict[str, Any]],
) -> str:
    lines: list[str] = []
    lines += ["### Whole process: `ballast review` cold and warm, next to the floor", ""]
    lines += _table(
        [
            "portfolios",
            "runs",
            "cold median (min–max)",
            "warm median (min–max)",
            "floor median (min–max)",
            "cold/floor",
            "warm/floor",
            "peak RSS cold MiB: tree / largest",
            "peak RSS warm MiB: tree / largest",
            "floor MiB: tree / largest",
            "breached gen / cold / floor",
        ],
        [
            [
                f"{s['portfolios']:,}",
                str(s["runs"]),
                _s(s["cold"]),
                _s(s["warm"]),
                _s(s["floor"]),
                _s(s["cold_over_floor"], "x", 1),
                _s(s["warm_over_floor"], "x", 1),
                _rss_pair(s, "cold"),
                _rss_pair(s, "warm"),
                _rss_pair(s, "floor"),
                f"{s['breached']['generated']} / {','.join(map(str, s['breached']['cold'])) or '–'}"
                f" / {','.join(map(str, s['breached']['floor'])) or '–'}",
            ]
            for s in summaries
        ],
        ["---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:"],
    )
    lines += [
        "",
        "Ratios are per repetition (cold i / floor i), then the median; peak RSS is the worst "
        "run; MiB = 2^20 bytes.",
    ]
    if help_figures:
        h = help_figures
        lines += [
            "",
            f"`ballast --help`, whole process, {len(h['runs'])} runs: "
            f"median {h['median_seconds']:.3f} s "
            f"(min {h['min_seconds']:.3f}, max {h['max_seconds']:.3f})"
            + (f", {h['errors']} failed" if h["errors"] else ""),
        ]

    stage_keys = list(STAGES)
    for s in summaries:
        for kind in ("cold", "warm"):
            stage_keys += [
                k
                for k in s["stage_seconds"][kind]
                if k not in stage_keys and not k.endswith("_log_seconds")
            ]
    lines += ["", "### Stage seconds inside the review (medians, from `logs/ballast.jsonl`)", ""]
    rows = []
    for s in summaries:
        for kind in ("cold", "warm"):
            st = s["stage_seconds"][kind]
            if not st:
                continue
            inside = sum(st.get(k, 0.0) for k in stage_keys)
            wall = s[kind]["median"] if s[kind] else 0.0
            rows.append(
                [
                    f"{s['portfolios']:,}",
                    kind,
                    f"{wall:.2f}",
                    f"{st.get('before_first_log_seconds', 0):.2f}",
                ]
                + [f"{st.get(k, 0.0):.2f}" for k in stage_keys]
                + [f"{inside:.2f}", f"{st.get('after_last_log_seconds', 0):.2f}"]
            )
    lines += _table(
        [
            "portfolios",
            "run",
            "wall",
            "before first log",
            *stage_keys,
            "stages total",
            "after last log",
        ],
        rows,
        ["---:", "---"] + ["---:"] * (len(stage_keys) + 4),
    )
    lines += [
        "",
        "Before first log: process start, imports, Prefect's temporary server and flow-run "
        "creation; after last log: flow end, summary, shutdown. Each column is a median on its "
        "own.",
    ]

    if steps:
        lines += ["", "### Growth per added portfolio between sizes", ""]
        lines += _table(
            [
                "from → to",
                "cold ms",
                "warm ms",
                "floor ms",
                "cold RSS KiB: tree / largest",
                "warm RSS KiB: tree / largest",
                "floor RSS KiB: tree / largest",
                "cold ms vs previous step",
                "cold RSS vs previous step: tree / largest",
            ],
            [
                [
                    f"{g['from']:,} → {g['to']:,}",
                    *(
                        f"{g[k]:.3f}" if k in g else "–"
                        for k in (
                            "cold_ms_per_portfolio",
                            "warm_ms_per_portfolio",
                            "floor_ms_per_portfolio",
                        )
                    ),
                    *(
                        f"{_num(g, f'{k}_rss_kib_per_portfolio', '.1f')} / "
                        f"{_num(g, f'{k}_max_rss_kib_per_portfolio', '.1f')}"
                        for k in ("cold", "warm", "floor")
                    ),
                    _num(g, "cold_ms_vs_previous", ".2f", "x"),
                    f"{_num(g, 'cold_rss_kib_vs_previous', '.2f', 'x')} / "
                    f"{_num(g, 'cold_max_rss_kib_vs_previous', '.2f', 'x')}",
                ]
                for g in steps
            ],
            ["---"] + ["---:"] * 8,
        )
        lines += [
            "",
            "(Δ median wall or Δ worst peak RSS) / Δ portfolios; *vs previous step*: this "
            "step's slope over the step before it (1.00x: linear).",
        ]

    if goals:
        lines += ["", "### Targets (issue #15)", ""]
        lines += _table(
            ["target", "measured", "limit", "met"],
            [
                [
                    g["target"],
                    f"{g['measured']:,.2f} {g['unit']}",
                    f"{g['limit']:,} {g['unit']}",
                    "yes" if g["met"] else "**no**",
                ]
                for g in goals
            ],
            ["---", "---:", "---:", "---"],
        )

    lines += ["", "### Load average (1 / 5 / 15 min) at start and end of each measurement", ""]
    load_rows = []
    if help_figures:
        r = help_figures["runs"]
        load_rows.append(
            [
                "–",
                "help ×" + str(len(r)),
                "–",
                f"{help_figures['median_seconds']:.2f}",
                str(max(m["exit_code"] for m in r)),
                _l(r[0]["load_before"]),
                _l(r[-1]["load_after"]),
                _cpu(sum(m.get("cpu_seconds", 0.0) for m in r)),
                _cpu(sum(m.get("system_seconds", 0.0) for m in r)),
                _cpu(sum(m.get("other_cpu_seconds", 0.0) for m in r)),
            ]
        )
    for size in sizes:
        for m in size["measurements"]:
            load_rows.append(
                [
                    f"{size['portfolios']:,}",
                    m["kind"],
                    str(m["rep"]),
                    f"{m['wall_seconds']:.2f}",
                    str(m["exit_code"]),
                    _l(m["load_before"]),
                    _l(m["load_after"]),
                    _cpu(m.get("cpu_seconds")),
                    _cpu(m.get("system_seconds")),
                    _cpu(m.get("other_cpu_seconds")),
                ]
            )
    lines += _table(
        [
            "portfolios",
            "run",
            "rep",
            "wall s",
            "exit",
            "load at start",
            "load at end",
            "its CPU s",
            "of which system s",
            "other CPU s",
        ],
        load_rows,
        ["---:", "---", "---:", "---:", "---:", "---", "---", "---:", "---:", "---:"],
    )
    lines += [
        "",
        "Its CPU: user + system seconds of the process and the descendants it waited for; "
        "system: the kernel's share of it (mostly creating the run's files: on a file system "
        "whose inode allocation is slow it grows by seconds for the same work; `--workdir` on a "
        "memory file system such as /dev/shm takes the disk out); other CPU: the machine's busy "
        "CPU seconds over the same wall time minus that (other processes, and descendants not "
        "waited for).",
    ]
    errors = [e for s in summaries for e in s["errors"]]
    if errors:
        lines += ["", "Errors: " + "; ".join(errors)]
    return "\n".join(lines)


def _num(row: dict[str, Any], key: str, fmt: str, unit: str = "") -> str:
    return f"{row[key]:{fmt}}{unit}" if key in row else "–"


def _cpu(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds:.1f}"


def _l(load: list[float]) -> str:
    return " / ".join(f"{x:.2f}" for x in load)


# --- the run --------------------------------------------------------------------------------


def _git() -> dict[str, Any]:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    return {
        "commit": git("rev-parse", "HEAD"),
        "uncommitted": git("status", "--short").splitlines(),
    }


def _machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "memory_mib": round(psutil.virtual_memory().total / MIB),
        "env": sorted(k for k in os.environ if k.startswith(("PREFECT_", "BALLAST_"))),
    }


def report(paths: list[Path]) -> str:
    """The tables of saved ``cli-<N>.json`` files (from one run or several), recomputed."""
    docs = sorted(
        (json.loads(p.read_text(encoding="utf-8")) for p in paths), key=lambda d: d["portfolios"]
    )
    summaries = [summarise(d) for d in docs]
    helps = [d["help"] for d in docs if d.get("help")]
    steps = growth(summaries)
    text = markdown(
        summaries,
        docs,
        helps[-1] if helps else None,
        steps,
        targets(summaries, helps[-1] if helps else None, steps),
    )
    runs = ", ".join(f"{d['portfolios']:,}: {d.get('started')}" for d in docs)
    return f"{text}\n\nFrom saved runs ({runs})."


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--portfolios", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--runs", type=int, default=3, help="repetitions per size (default 3)")
    ap.add_argument("--help-runs", type=int, default=5, help="`ballast --help` runs (0: none)")
    ap.add_argument("--as-of", default="2026-09-30")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--interval", type=float, default=0.05, help="RSS sampling period, seconds")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per process")
    ap.add_argument("--out", type=Path, default=OUT, help="where the JSON and logs go")
    ap.add_argument("--workdir", type=Path, help="where workspaces go (default: a temp folder)")
    ap.add_argument("--keep", action="store_true", help="keep the workspace copies (--workdir)")
    ap.add_argument("--fresh-home", action="store_true", help="each review pair gets a new HOME")
    ap.add_argument(
        "--server",
        action="store_true",
        help="start one `ballast server` first and run every review against it "
        "(default: each review starts Prefect's temporary server)",
    )
    ap.add_argument(
        "--ballast",
        type=Path,
        help="the ballast script to measure (default: the one next to this Python)",
    )
    ap.add_argument(
        "--baseline",
        type=Path,
        nargs="*",
        default=[],
        help="earlier cli-<N>.json files to add to the growth table",
    )
    ap.add_argument(
        "--report",
        type=Path,
        nargs="+",
        help="measure nothing: print the tables of these saved cli-<N>.json files together",
    )
    args = ap.parse_args(argv)
    if args.report:
        print(report(args.report))
        return 0
    if isinstance(sys.stdout, io.TextIOWrapper):  # progress lines as they happen, also to a file
        sys.stdout.reconfigure(line_buffering=True)

    if args.ballast:
        BALLAST[:] = [str(args.ballast)]
    out, logs = args.out, args.out / "cli-logs"
    logs.mkdir(parents=True, exist_ok=True)
    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    meta = {
        "started": started,
        "machine": _machine(),
        "git": _git(),
        "ballast": {"command": ballast_command(), "package": ballast_source()},
        "as_of": args.as_of,
        "seed": args.seed,
    }
    print(
        f"bench_cli {started}: {meta['machine']['cpus']} CPUs, load {_l(_load())}, "
        f"commit {meta['git']['commit'][:10]}, {len(meta['git']['uncommitted'])} uncommitted paths"
    )
    print(f"ballast: {' '.join(ballast_command())} (package {meta['ballast']['package']})")

    help_figures = bench_help(args.help_runs, args.interval) if args.help_runs > 0 else None
    if help_figures:
        print(f"ballast --help: median {help_figures['median_seconds']:.3f} s")

    sizes: list[dict[str, Any]] = []
    with contextlib.ExitStack() as stack:
        if args.workdir:
            work = args.workdir
            work.mkdir(parents=True, exist_ok=True)
        else:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-cli-")))
        if args.server:
            meta["server_start_seconds"] = stack.enter_context(ballast_server(work, args.timeout))
            print(f"ballast server started in {meta['server_start_seconds']} s")
        else:
            meta["first_command_seconds"] = prime_state(work, args.timeout)
            print(
                "first command on this machine (an empty workspace's ingest; it leaves the "
                f"migrated Prefect database new workspaces start from): "
                f"{meta['first_command_seconds']} s"
            )
        meta["prefect"] = "ballast server" if args.server else "temporary server per command"
        for n in args.portfolios:
            size = bench_size(
                n,
                runs=args.runs,
                work=work,
                logs=logs,
                as_of=args.as_of,
                seed=args.seed,
                interval=args.interval,
                timeout=args.timeout,
                fresh_home=args.fresh_home,
                keep=args.keep,
            )
            size["summary"] = summarise(size)
            (out / f"cli-{n}.json").write_text(
                json.dumps({**meta, "help": help_figures, **size}, indent=2) + "\n",
                encoding="utf-8",
            )
            sizes.append(size)
            if not args.keep:
                shutil.rmtree(work / f"gen-{n}", ignore_errors=True)

    summaries = [s["summary"] for s in sizes]
    known = {s["portfolios"] for s in summaries}
    baselines = []
    for path in args.baseline:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc["portfolios"] not in known:
            baselines.append(
                {**doc["summary"], "baseline": str(path), "baseline_started": doc.get("started")}
            )
            known.add(doc["portfolios"])
    steps = growth(summaries + baselines)
    goals = targets(summaries + baselines, help_figures, steps)
    text = f"Prefect API of the reviews: {meta['prefect']}\n\n" + markdown(
        summaries, sizes, help_figures, steps, goals
    )
    if baselines:
        text += "\n\nGrowth also uses earlier runs: " + ", ".join(
            f"{b['portfolios']:,} from {b['baseline']} ({b['baseline_started']})" for b in baselines
        )
    print()
    print(text)
    summary_doc = {
        **meta,
        "ended": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "help": help_figures,
        "sizes": summaries,
        "baselines": baselines,
        "growth": steps,
        "targets": goals,
        "markdown": text,
    }
    (out / f"cli-summary-{'-'.join(map(str, args.portfolios))}.json").write_text(
        json.dumps(summary_doc, indent=2) + "\n", encoding="utf-8"
    )
    failed = any(s["errors"] for s in summaries) or bool(help_figures and help_figures["errors"])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
