"""HTML reports alone: rendering N portfolios' reports from contexts built once, and the whole
``ballast review`` command around it.

    uv run python benchmarks/bench_render.py [--portfolios 2000] [--seed 11] [--runs 3]
        [--workspace DIR] [--as-of 2026-09-30] [--profile 500] [--command-runs 0]

Generates a workspace with ``generate.py`` (or uses ``--workspace DIR``) and runs
``ballast review`` once on it (that ingests the custodian files; with ``--workspace`` a workspace
already reviewed is used as it is). Then, in this process, without Prefect:

1. builds every report context once, as the render task does (``review.review``,
   ``results.portfolio_entries``, ``records.file_info``, ``drift_history.fetch``,
   ``outputs.report_contexts``), timing the entries and the contexts;
2. times, ``--runs`` times each (min and median printed):
   - **strings**: ``html.render_portfolio_report`` for every context, one process, nothing
     written (the templates' own cost, figures and charts included);
   - **one process**: ``outputs.render_reports(..., workers=1)``, written and hashed;
   - **pool**: ``outputs.render_reports`` with the default workers (a spawn pool above
     ``PARALLEL_FROM`` reports), written and hashed;
   - **results.json, trades.csv, index.html**: their text, in this process;
   - **write_run**: the whole run folder as the render task writes it (the pool renders the
     reports while this process writes the other three files);
3. with ``--profile N``, profiles the strings step over the first N contexts (cProfile, top
   functions by own time and by cumulative time);
4. with ``--command-runs K``, times the whole ``uv run ballast review`` command K times, each on a
   fresh copy of the generated (not yet ingested) workspace, and prints the median.

The load average is printed before and after: the machine is shared and every figure depends on
what else it is doing. A timing script, not a test.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import datetime as dt
import io
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


def _generate(dest: Path, n: int, seed: int, as_of: str) -> None:
    cmd = [sys.executable, str(HERE / "generate.py"), str(dest), "--portfolios", str(n)]
    cmd += ["--seed", str(seed), "--as-of", as_of]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def _review_command(ws: Path, as_of: str) -> float:
    """Seconds of one ``uv run ballast review`` (exit 1, completed with errors, is fine)."""
    t = time.perf_counter()
    done = subprocess.run(
        ["uv", "run", "ballast", "review", "--as-of", as_of, "-w", str(ws)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    took = time.perf_counter() - t
    if done.returncode not in (0, 1):
        raise SystemExit(f"ballast review failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return took


def build_contexts(
    ws_root: Path, as_of: str
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """(run metadata, results entries, report contexts) as the render task builds them (the
    cycle collector paused, as there); prints how long each step took."""
    from ballast import review
    from ballast.audit import records
    from ballast.ops.runs import RunIdentity
    from ballast.portfolio.policy_set import load_policies
    from ballast.reporting import drift_history, outputs, results
    from ballast.warehouse import db
    from ballast.workspace import Workspace

    paused = getattr(outputs, "collector_paused", contextlib.nullcontext)  # older code: none
    ws = Workspace(ws_root)
    pset = load_policies(ws, None)
    meta = RunIdentity.begin(as_of, "quarterly_review", "benchmark", None).meta()
    with db.connect(ws.warehouse) as con:
        computed = review.review(con, pset, dt.date.fromisoformat(as_of))
        with paused():
            t = time.perf_counter()
            entries = results.portfolio_entries(computed, kind="quarterly_review")
            t_entries = time.perf_counter() - t
            file_ids = review.used_files(computed)["file_id"].unique().sort().to_list()
            info = records.file_info(con, file_ids)
            history = drift_history.fetch(con, meta, [e["portfolio_id"] for e in entries])
            t = time.perf_counter()
            contexts = outputs.report_contexts(meta, computed, entries, info, history)
            t_contexts = time.perf_counter() - t
    print(
        f"{len(contexts)} portfolios: results entries {t_entries:.3f} s, "
        f"report contexts {t_contexts:.3f} s"
    )
    return meta, entries, contexts


def _timed(
    label: str, runs: int, fn: Callable[[], object], before: Callable[[], object] | None = None
) -> list[float]:
    """``fn`` timed ``runs`` times; ``before`` (not timed) runs ahead of each."""
    took = []
    for _ in range(runs):
        if before:
            before()
        t = time.perf_counter()
        fn()
        took.append(time.perf_counter() - t)
    print(
        f"{label:<28} min {min(took):7.3f} s   median {statistics.median(took):7.3f} s   "
        f"({', '.join(f'{x:.3f}' for x in took)})"
    )
    return took


def _profile(contexts: list[dict[str, Any]]) -> None:
    from ballast.reporting import html

    env = html.make_environment()
    html.render_portfolio_report(contexts[0], env)  # templates compiled outside the profile
    prof = cProfile.Profile()
    prof.enable()
    for c in contexts:
        html.render_portfolio_report(c, env)
    prof.disable()
    for key in ("tottime", "cumulative"):
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats(key).print_stats(18)
        lines = buf.getvalue().splitlines()
        start = next(i for i, line in enumerate(lines) if "ncalls" in line)
        print(f"\n-- profile of {len(contexts)} reports, by {key} --")
        print("\n".join(lines[start - 3 : start + 19]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--portfolios", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--as-of", default="2026-09-30")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workspace", type=Path, help="an already reviewed workspace to use")
    ap.add_argument("--profile", type=int, default=0, metavar="N")
    ap.add_argument("--command-runs", type=int, default=0, metavar="K")
    args = ap.parse_args()

    print(_load())
    tmp = Path(tempfile.mkdtemp(prefix="bench-render-"))
    try:
        pristine = tmp / "generated"
        if args.workspace:
            ws = args.workspace
        else:
            _generate(pristine, args.portfolios, args.seed, args.as_of)
            ws = tmp / "ws"
            shutil.copytree(pristine, ws)
            print(f"first review (ingest): {_review_command(ws, args.as_of):.1f} s")

        meta, entries, contexts = build_contexts(ws, args.as_of)

        from ballast.reporting import html, outputs, results_text

        env = html.make_environment()
        html.render_portfolio_report(contexts[0], env)
        n = len(contexts)
        print(f"\n{n} reports ({_load()})")
        _timed(
            "strings, one process",
            args.runs,
            lambda: [html.render_portfolio_report(c, env) for c in contexts],
        )

        out = tmp / "out"

        def empty() -> None:  # removing the last run's files is not part of the time
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir()

        def to_folder(workers: int) -> Callable[[], object]:
            return lambda: outputs.render_reports(out, contexts, workers=workers)

        _timed("written, one process", args.runs, to_folder(1), empty)
        cores = os.cpu_count() or 1
        _timed(f"written, pool ({cores} cores)", args.runs, to_folder(cores), empty)

        def paused(fn: Callable[[], object]) -> Callable[[], object]:
            def go() -> object:
                with getattr(outputs, "collector_paused", contextlib.nullcontext)():
                    return fn()

            return go

        _timed(
            "results.json text",
            args.runs,
            paused(lambda: results_text.results_document(meta, entries)),
        )
        _timed("trades.csv text", args.runs, paused(lambda: results_text.trades_csv(entries)))
        _timed("index.html", args.runs, paused(lambda: html.render_run_index(meta, entries, env)))

        _timed(
            "write_run (the run folder)",
            args.runs,
            lambda: outputs.write_run(out, meta, entries, contexts),
            empty,
        )
        print(_load())

        if args.profile:
            _profile(contexts[: args.profile])

        if args.command_runs:
            if args.workspace:
                raise SystemExit("--command-runs needs a generated workspace (no --workspace)")
            took = []
            for k in range(args.command_runs):
                fresh = tmp / f"cmd-{k}"
                shutil.copytree(pristine, fresh)
                before = _load()
                took.append(_review_command(fresh, args.as_of))
                print(f"ballast review run {k + 1}: {took[-1]:.1f} s ({before}; after: {_load()})")
                shutil.rmtree(fresh)
            print(f"ballast review, {n} portfolios: median {statistics.median(took):.1f} s")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
