"""Start-up of the ``ballast`` command: ``--help`` of every command as whole processes.

    uv run python benchmarks/bench_startup.py [--runs 5] [--top 15] [--json OUT]

1. In a fresh process: how long ``import ballast.cli.app`` takes, which heavy libraries it
   loads, and (``--top N``) the N slowest imports by ``python -X importtime``.
2. ``ballast --help``, then ``ballast <command> [<subcommand>] --help`` for every command the app
   has, each as a whole new process (interpreter start included), ``--runs`` times; min,
   median and max wall time.

Runs the ``ballast`` script next to this Python (the project's environment), not ``uv run``,
whose own start-up (about 0.1-0.3 s) would be counted otherwise. A timing script, not a test:
the figures depend on what else the machine is doing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HEAVY = (
    "duckdb",
    "exchange_calendars",
    "great_expectations",
    "jinja2",
    "numpy",
    "pandas",
    "polars",
    "prefect",
    "pyarrow",
    "pydantic",
    "scipy",
    "weasyprint",
    "yaml",
)

PROBE = f"""
import json, sys, time
t = time.perf_counter()
import ballast.cli.app
took = time.perf_counter() - t
import typer.main


def paths(command, prefix=()):
    yield prefix
    for name, sub in sorted(getattr(command, "commands", {{}}).items()):
        yield from paths(sub, (*prefix, name))


print(json.dumps({{
    "import_seconds": took,
    "heavy": [m for m in {HEAVY!r} if m in sys.modules],
    "commands": [list(p) for p in paths(typer.main.get_command(ballast.cli.app.app))],
}}))
"""


def _env() -> dict[str, str]:
    return {**os.environ, "COLUMNS": "120", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}


def ballast_command() -> list[str]:
    """The ``ballast`` console script of this environment (else the same entry point)."""
    script = Path(sys.executable).with_name("ballast")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from ballast.cli.app import main; main()"]


def probe() -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, env=_env(), check=True
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def slowest_imports(top: int) -> list[tuple[float, str]]:
    """The ``top`` imports with the largest cumulative time (seconds), by ``-X importtime``."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import ballast.cli.app"],
        capture_output=True,
        text=True,
        env=_env(),
        check=True,
    )
    rows = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line.split("|")
        rows.append((int(cumulative) / 1e6, name.strip()))
    return sorted(rows, reverse=True)[:top]


def time_help(path: list[str], runs: int) -> list[float]:
    """Wall seconds of ``ballast <path> --help`` as a new process, ``runs`` times."""
    seconds = []
    for _ in range(runs):
        t = time.perf_counter()
        done = subprocess.run(
            [*ballast_command(), *path, "--help"], capture_output=True, env=_env(), check=False
        )
        seconds.append(time.perf_counter() - t)
        if done.returncode != 0:
            raise SystemExit(f"ballast {' '.join(path)} --help failed:\n{done.stderr.decode()}")
    return seconds


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5, help="processes per command (default 5)")
    ap.add_argument("--top", type=int, default=15, help="slowest imports to list (0: none)")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args(argv)

    found = probe()
    print(f"import ballast.cli.app: {found['import_seconds']:.3f} s in a fresh process")
    print(f"heavy libraries loaded by it: {', '.join(found['heavy']) or 'none'}")
    slow = slowest_imports(args.top) if args.top else []
    if slow:
        print(f"\nslowest imports (cumulative, -X importtime, top {args.top}):")
        for seconds, name in slow:
            print(f"  {seconds:7.3f} s  {name}")

    print(f"\nwhole process, {args.runs} runs each: {' '.join(ballast_command())}")
    print(f"{'command':<36}{'min':>8}{'median':>8}{'max':>8}")
    timings = {}
    for path in found["commands"]:
        label = " ".join(["ballast", *path, "--help"])
        seconds = time_help(path, args.runs)
        timings[label] = seconds
        print(
            f"{label:<36}{min(seconds):>8.3f}{statistics.median(seconds):>8.3f}{max(seconds):>8.3f}"
        )
    if args.json:
        doc = {**found, "slowest_imports": slow, "help_seconds": timings}
        args.json.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
