"""The terminal's view of a run: every portfolio of a small run, the exceptions of a large one,
and nothing read back from disk."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from ballast.cli import app
from ballast.reporting.summary import (
    EXCEPTIONS_SHOWN,
    FULL_TABLE_MAX,
    TerminalRows,
    shown,
    terminal_row,
)


def entry(pid: str, *, ok: bool = True, breached: bool = False) -> dict[str, Any]:
    return {
        "portfolio_id": pid,
        "status": "ok" if ok else "data_invalid",
        "base_currency": "USD" if ok else None,
        "total_value": "1000000.00" if ok else None,
        "breached": breached,
        "action": "rebalance" if breached else "none",
        "trades": [{}] * (2 if breached else 0),
        "errors": [] if ok else [f"account A123456 of {pid} has no positions"],
        "accounts": [{"id": "A123456"}],
    }


def rows(n: int, invalid: int, breached: int) -> list[dict[str, Any]]:
    out = [entry(f"p{i:05d}") for i in range(n)]
    for i in range(invalid):
        out[n - 1 - i] = entry(f"p{n - 1 - i:05d}", ok=False)
    for i in range(breached):
        out[i] = entry(f"p{i:05d}", breached=True)
    return [terminal_row(e) for e in out]


def _summary(all_rows: list[dict[str, Any]], cut: int, keep_all: bool = False) -> dict[str, Any]:
    """The summary fields a run gives, its rows gathered ``cut`` at a time (its shards)."""
    gathered = TerminalRows(keep_all)
    for start in range(0, len(all_rows), cut):
        gathered.add(all_rows[start : start + cut])
    return {
        "portfolios": gathered.count,
        "breached": gathered.breached,
        "trades": gathered.trades,
        "exceptions": gathered.exceptions,
        "invalid": gathered.invalid,
        "rows": gathered.rows,
    }


@pytest.mark.parametrize("cut", [1, 7, 50])
def test_small_run_lists_every_portfolio(cut: int) -> None:
    all_rows = rows(FULL_TABLE_MAX, invalid=2, breached=3)
    summary = _summary(all_rows, cut)
    assert shown(summary) == (all_rows, 0)
    assert summary["breached"] == 3 and summary["trades"] == 6 and summary["exceptions"] == 5
    assert summary["invalid"] == ["p00048", "p00049"]


@pytest.mark.parametrize("cut", [1, 9, 2500, 10_000])
def test_large_run_keeps_only_the_exceptions_invalid_first(cut: int) -> None:
    all_rows = rows(10_000, invalid=23, breached=40)
    summary = _summary(all_rows, cut)
    picked, left_out = shown(summary)
    assert len(picked) == EXCEPTIONS_SHOWN and left_out == 63 - EXCEPTIONS_SHOWN
    assert picked == [r for r in all_rows if not r["ok"]][:EXCEPTIONS_SHOWN]
    assert len(summary["invalid"]) == 23 and summary["breached"] == 40
    few = _summary(rows(10_000, invalid=3, breached=40), cut)["rows"]
    assert [r["ok"] for r in few[:3]] == [False] * 3
    assert all(r["ok"] and r["action"] == "rebalance" for r in few[3:])
    assert [r["portfolio_id"] for r in few[3:]] == [f"p{i:05d}" for i in range(17)]
    assert shown(_summary(all_rows, cut, keep_all=True)) == (all_rows, 0)  # --table


def test_a_large_run_does_not_hold_every_row() -> None:
    all_rows = rows(1_000, invalid=1, breached=1)
    quiet = all_rows[500]
    held = sys.getrefcount(quiet)
    gathered = TerminalRows()
    for start in range(0, 1_000, 100):
        gathered.add(all_rows[start : start + 100])
    assert sys.getrefcount(quiet) == held and len(gathered.rows) == 2
    every = TerminalRows(keep_all=True)
    every.add(all_rows)
    assert sys.getrefcount(quiet) == held + 1 and every.rows == all_rows


def test_errors_are_masked_in_the_rows() -> None:
    (row,) = rows(1, invalid=1, breached=0)
    assert row["errors"] == ["account ••••456 of p00000 has no positions"]


@pytest.mark.parametrize("full", [False, True])
def test_summary_is_printed_without_reading_results_json(capsys, tmp_path, full) -> None:
    summary = {
        "kind": "quarterly_review",
        "as_of": "2026-09-30",
        "run_id": "r1",
        "status": "completed_with_errors",
        "report_dir": str(tmp_path / "no-such-folder"),
        "ingest": {"loaded": [], "quarantined": [], "duplicates": [], "deferred": []},
    } | _summary(rows(200, invalid=1, breached=30), 64, keep_all=full)
    app._print_summary(summary)
    printed = capsys.readouterr()
    assert "p09999" not in printed.out  # only ids that exist are printed
    assert "p00199" in printed.out and "data invalid" in printed.out
    assert ("… and 11 more exceptions" in printed.out) is not full
    assert ("200 portfolios: 30 breached, 1 data invalid" in printed.out) is not full
    assert "p00150" in printed.out if full else "p00150" not in printed.out
    assert "p00199: account ••••456 of p00199 has no positions" in printed.err
