"""Loading the IPS files of a review: ``load_policies`` over N generated ``ips/*.yaml``.

    uv run python benchmarks/bench_ips.py [--portfolios 10000] [--runs 3] [--workspace DIR]

Generates a workspace with ``generate.py`` (or uses ``--workspace DIR``, which must hold ips/),
then, in a fresh Python process per run (nothing cached or imported beforehand), times

- the import of ``ballast.portfolio.policy_set`` (pydantic, PyYAML);
- the first ``load_policies(ws)`` of the process: read, hash, parse (YAML), validate (pydantic);
- a second ``load_policies(ws)`` in the same process, on the same unchanged files (what a
  scheduled review that first waited for custodian files, or a rerun, pays);
- for the breakdown, over the same texts: ``yaml.load`` with PyYAML's C safe loader, the
  module's own ``_parse_yaml`` (checked to give the same values), and pydantic's validation
  alone (these three run after the loads, so the cycle collector is on and caches are warm).

Prints min and median over the runs. A timing script, not a test: the figures depend on what
else the machine is doing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, sys, time
t = time.perf_counter()
from ballast.portfolio import policy as pol
from ballast.portfolio.policy_set import load_policies
from ballast.workspace import Workspace
imported = time.perf_counter() - t
ws = Workspace(__import__("pathlib").Path(sys.argv[1]))
t = time.perf_counter(); first = load_policies(ws); t_first = time.perf_counter() - t
t = time.perf_counter(); second = load_policies(ws); t_second = time.perf_counter() - t
assert [p.id for p in first.policies] == [p.id for p in second.policies]
assert first.errors == second.errors
texts = list(first.texts.values())
yaml = pol.yaml
loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
t = time.perf_counter(); raws = [yaml.load(x, Loader=loader) for x in texts]
t_yaml = time.perf_counter() - t
parse = getattr(pol, "_parse_yaml", None)  # absent before the tuned parser
t = time.perf_counter(); parsed = [parse(x) for x in texts] if parse else None
t_parse = time.perf_counter() - t if parse else float("nan")
assert parsed is None or parsed == raws
t = time.perf_counter()
for r in raws:
    try:
        pol.Policy.model_validate(r)
    except Exception:
        pass
t_pyd = time.perf_counter() - t
print(json.dumps({
    "import": imported, "first": t_first, "second": t_second, "yaml": t_yaml, "parse": t_parse,
    "pydantic": t_pyd, "policies": len(first.policies), "errors": len(first.errors),
    "loader": loader.__name__, "source": pol.__file__,
}))
"""


def one_run(ws: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(ws)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"child failed:\n{done.stderr}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def report(runs: list[dict[str, float]]) -> None:
    first = runs[0]
    counts = f"{first['policies']:,} policies, {first['errors']:,} refused"
    print(f"{counts}; YAML loader {first['loader']}; {first['source']}")
    print(f"{'seconds':<40}{'min':>8}{'median':>8}")
    labels = {
        "import": "import policy_set (pydantic, PyYAML)",
        "first": "load_policies, first in the process",
        "second": "load_policies, again (same files)",
        "yaml": "yaml.load (C safe loader) alone",
        "parse": "ballast's _parse_yaml alone",
        "pydantic": "pydantic validation alone",
    }
    for key, label in labels.items():
        values = [r[key] for r in runs]
        print(f"{label:<40}{min(values):>8.3f}{statistics.median(values):>8.3f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--portfolios", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workspace", type=Path, help="an existing workspace (its ips/ is read)")
    ap.add_argument("--json", type=Path, help="also write the runs here")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-ips-") as scratch:
        ws = args.workspace
        if ws is None:
            from generate import generate_workspace

            ws = Path(scratch) / "ws"
            generate_workspace(ws, args.portfolios, lots=False)
        runs = [one_run(ws.resolve()) for _ in range(args.runs)]
    report(runs)
    if args.json:
        args.json.write_text(json.dumps(runs, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
