"""The terminal's view of a run: every portfolio of a small run, the exceptions of a large one,
and nothing read back from disk."""

from __future__ import annotations

from typing import Any

import pytest

from ballast.cli import app
from ballast.reporting.summary import EXCEPTIONS_SHOWN, FULL_TABLE_MAX, shown, terminal_row


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


def test_small_run_lists_every_portfolio() -> None:
    all_rows = rows(FULL_TABLE_MAX, invalid=2, breached=3)
    assert shown(all_rows, full=False) == (all_rows, 0)


def test_large_run_lists_the_exceptions_invalid_first() -> None:
    all_rows = rows(10_000, invalid=3, breached=40)
    picked, left_out = shown(all_rows, full=False)
    assert len(picked) == EXCEPTIONS_SHOWN and left_out == 43 - EXCEPTIONS_SHOWN
    assert [r["ok"] for r in picked[:3]] == [False] * 3
    assert all(r["ok"] and r["action"] == "rebalance" for r in picked[3:])
    assert shown(all_rows, full=True) == (all_rows, 0)


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
        "invalid": ["p09999"],
        "breached": 30,
        "trades": 60,
        "rows": rows(200, invalid=1, breached=30),
    }
    app._print_summary(summary, full)
    printed = capsys.readouterr()
    assert "p09999" not in printed.out  # only ids that exist are printed
    assert "p00199" in printed.out and "data invalid" in printed.out
    assert ("… and 11 more exceptions" in printed.out) is not full
    assert ("200 portfolios: 30 breached, 1 data invalid" in printed.out) is not full
    assert "p00150" in printed.out if full else "p00150" not in printed.out
    assert "p00199: account ••••456 of p00199 has no positions" in printed.err
