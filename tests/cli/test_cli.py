"""The ``ballast`` command as a user runs it: exit codes and one-line errors, no tracebacks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import copy_demo

BALLAST = str(Path(sys.executable).with_name("ballast"))


def ballast(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "COLUMNS": "200"}
    return subprocess.run(
        [BALLAST, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.mark.slow
def test_review_with_faulty_feed_exits_1(tmp_path: Path) -> None:
    """A quarantined file makes the review exit 1 with one clear line and no traceback."""
    ws = copy_demo(tmp_path / "ws")
    proc = ballast("review", "--as-of", "2026-09-30", "--workspace", str(ws.root), cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert (
        "custodian-b_positions_2026-09-30.csv, row 3, column quantity: '125O0' is not a "
        "number" in proc.stderr
    )
    assert "seed-60-40" in proc.stdout and "reports:" in proc.stdout
    assert "LP-300" not in proc.stderr and "••••300" in proc.stderr  # account numbers masked


def test_bad_date_is_a_usage_error(tmp_path: Path) -> None:
    """A malformed --as-of exits 2 naming the option."""
    ws = copy_demo(tmp_path / "ws")
    proc = ballast("review", "--as-of", "30/09/2026", "-w", str(ws.root), cwd=tmp_path)
    assert proc.returncode == 2
    assert "--as-of" in proc.stderr and "Traceback" not in proc.stderr


def test_missing_workspace_is_one_line(tmp_path: Path) -> None:
    """A workspace that does not exist is one line on stderr and exit 2."""
    proc = ballast("review", "--as-of", "2026-09-30", "-w", str(tmp_path / "nope"), cwd=tmp_path)
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "no such workspace" in lines[0]


def test_unknown_portfolio_is_one_line(tmp_path: Path) -> None:
    """Asking for a portfolio with no IPS names it."""
    ws = copy_demo(tmp_path / "ws")
    proc = ballast(
        "review", "--as-of", "2026-09-30", "-p", "ghost", "-w", str(ws.root), cwd=tmp_path
    )
    assert proc.returncode == 2 and "no IPS for portfolio(s) ghost" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_help_lists_commands(tmp_path: Path) -> None:
    """--help describes every command."""
    proc = ballast("--help", cwd=tmp_path)
    assert proc.returncode == 0
    for cmd in ("demo", "init", "ingest", "review", "monitor", "runs"):
        assert cmd in proc.stdout


def test_init_creates_workspace(tmp_path: Path) -> None:
    """init makes the contract's folders."""
    proc = ballast("init", str(tmp_path / "w"), cwd=tmp_path)
    assert proc.returncode == 0
    for d in ("inbox", "reference", "ips", "archive", "quarantine", "reports"):
        assert (tmp_path / "w" / d).is_dir()
