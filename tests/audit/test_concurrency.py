"""Two reviews on one workspace at once: one waits for the other (or fails with one clear
line), nothing is loaded twice, and the audit trail verifies afterwards."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ballast.audit import chain as audit
from ballast.audit import recovery
from ballast.errors import BallastError
from ballast.warehouse import db
from tests.conftest import copy_demo

pytestmark = pytest.mark.slow
BALLAST = Path(sys.executable).with_name("ballast")


def review(root: Path, timeout: str) -> subprocess.Popen:
    env = os.environ | {"BALLAST_LOCK_TIMEOUT": timeout}
    cmd = [str(BALLAST), "review", "--as-of", "2026-09-30", "-w", str(root)]
    return subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )


def test_two_concurrent_reviews(tmp_path: Path) -> None:
    ws = copy_demo(tmp_path / "ws")
    procs = [review(ws.root, "120"), review(ws.root, "120")]
    outs = [p.communicate(timeout=300)[1] for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes == [1, 1], outs  # both complete (demo: one portfolio invalid), one after other
    with db.connect(ws.warehouse) as con:
        assert audit.verify(con, ws) == []
        ledger = con.execute("select original_name, count(*) from file_ledger group by 1")
        assert all(n == 1 for _, n in ledger.fetchall())
        runs = con.execute("select status from runs").fetchall()
    assert sorted(runs) == [("completed_with_errors",)] * 2


def test_second_run_times_out_cleanly(tmp_path: Path) -> None:
    ws = copy_demo(tmp_path / "ws")
    recovery.acquire(ws, 1)  # this test process plays the first run
    try:
        p = review(ws.root, "1")
        _, err = p.communicate(timeout=120)
    finally:
        recovery.release(ws.root)
    assert p.returncode == 2
    assert "another ballast run is using this workspace" in err.decode()
    assert err.decode().rstrip().endswith("finished")  # the CLI's one line comes last
    with db.connect(ws.warehouse) as con:
        assert con.execute("select count(*) from runs").fetchall() == [(0,)]
        assert audit.verify(con, ws) == []


def test_lock_is_per_workspace_and_reentrant(tmp_path: Path) -> None:
    a, b = copy_demo(tmp_path / "a"), copy_demo(tmp_path / "b")
    recovery.acquire(a, 0)
    try:
        recovery.acquire(a, 0)  # held by this process already
        recovery.acquire(b, 0)
    finally:
        recovery.release(a.root)
        recovery.release(b.root)


def test_lock_timeout_settings(tmp_path: Path, monkeypatch) -> None:
    ws = copy_demo(tmp_path / "ws")
    monkeypatch.delenv("BALLAST_LOCK_TIMEOUT", raising=False)
    assert db.lock_timeout_for(ws.warehouse) == 60
    (ws.root / "ballast.yaml").write_text("warehouse:\n  lock_timeout_seconds: 5\n")
    assert db.lock_timeout_for(ws.warehouse) == 5
    monkeypatch.setenv("BALLAST_LOCK_TIMEOUT", "7")
    assert db.lock_timeout_for(ws.warehouse) == 7
    monkeypatch.setenv("BALLAST_LOCK_TIMEOUT", "soon")
    with pytest.raises(BallastError, match="BALLAST_LOCK_TIMEOUT"):
        db.lock_timeout_for(ws.warehouse)
