"""Two reviews of copies of one workspace compared byte for byte: one run id and start time for
both, every file of the run folder, every recorded result row."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import duckdb
import pytest

from ballast.ops import runs

TABLES = ("run_portfolios", "run_allocations", "run_trades")


def fixed_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every run gets one run id and start time, so their files can be compared byte for byte."""
    begin = runs.RunIdentity.begin.__func__  # type: ignore[attr-defined]

    def fixed(cls: type[runs.RunIdentity], *args: object) -> runs.RunIdentity:
        started = dt.datetime(2026, 10, 2, 7, 0, 0)
        return dataclasses.replace(begin(cls, *args), run_id="r-fixed", started_at=started)

    monkeypatch.setattr(runs.RunIdentity, "begin", classmethod(fixed))


def files(folder: Path) -> dict[str, bytes]:
    """Every file of a run folder, by name, in name order."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def recorded(ws: Path) -> dict[str, list[tuple]]:
    """The recorded result rows of a workspace's runs (less the run id)."""
    con = duckdb.connect(str(ws / "warehouse.duckdb"), read_only=True)
    try:
        return {
            t: con.execute(f"select * exclude (run_id) from {t} order by all").fetchall()
            for t in TABLES
        }
    finally:
        con.close()


def generated_with_a_refused_ips(root: Path, n: int, seed: int) -> Path:
    """``n`` generated portfolios at ``root`` and one refused IPS (not YAML) whose id sorts
    among theirs, so that some shard holds both kinds."""
    from tests.support import generator

    generator.load().generate_workspace(root, n, seed=seed)
    ids = sorted(p.stem for p in (root / "ips").glob("*.yaml"))
    (root / "ips" / f"{ids[n // 2]}a.yaml").write_text("a: [1, 2\n", encoding="utf-8")
    return root


def assert_same_review(one: dict, many: dict, here: Path, there: Path, n: int) -> None:
    """The sharded review ``many`` of the workspace ``there`` said and wrote what ``one`` of
    ``here`` did, to the byte: its terminal rows (the exceptions of a large run), counts, run
    folder (``n`` reports, an invalid one among them, the index, results and two CSVs) and
    records."""
    from ballast.reporting.summary import TerminalRows

    assert one["status"] == many["status"] == "completed_with_errors"
    assert many["rows"] == TerminalRows.of(one["rows"]).rows
    for key in ("portfolios", "breached", "trades", "exceptions", "invalid", "positions"):
        assert one[key] == many[key], key
    a, b = files(Path(one["report_dir"])), files(Path(many["report_dir"]))
    assert list(a) == list(b) and len(a) == n + 1 + 4  # reports, index, results, two CSVs
    assert [name for name in a if a[name] != b[name]] == []
    assert b["trades.csv"].count(b"\n") > 1  # the generated portfolios do trade
    assert recorded(here) == recorded(there)
