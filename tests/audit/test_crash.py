"""Crash tests (issue 6 item 4): ``kill -9`` at each stage, then a rerun gives a clean run's
results; the ledger, the runs table and the audit trail stay consistent, and no run folder is
ever visible for a run that is not recorded as finished.

One workspace takes the crashes in turn (each rerun also recovers the previous crash), while a
clean workspace runs once in parallel for comparison. The last crash (``publish``) comes after
the run was recorded as finished: the next run rolls its folder forward.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ballast.audit import chain as audit
from ballast.warehouse import db
from ballast.warehouse.result_files import results_dir
from ballast.workspace import Workspace
from tests.conftest import copy_demo
from tests.support import faults
from tests.support.paths import TESTS

pytestmark = pytest.mark.slow
AS_OF = "2026-09-30"
CRASH_CLI = TESTS / "support" / "crash_cli.py"  # ballast, one crash point armed


def start(ws: Workspace, crash_at: str | None = None) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != faults.ENV}
    if crash_at:
        env[faults.ENV] = crash_at
    cmd = [sys.executable, str(CRASH_CLI), "review", "--as-of", AS_OF, "-w", str(ws.root)]
    path = ws.root.parent / f"{ws.root.name}-{crash_at or 'run'}.log"
    with path.open("wb") as log:
        # own session: a killed run's temporary Prefect server (its child) is killed with it
        p = subprocess.Popen(cmd, env=env, stdout=log, stderr=log, start_new_session=True)
    p.log_path = path  # type: ignore[attr-defined]
    return p


def finish(p: subprocess.Popen) -> tuple[int, str]:
    """Wait for the run, kill what it left (its Prefect server), return its code and output."""
    try:
        p.wait(timeout=240)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGKILL)
    return p.returncode, p.log_path.read_text(errors="replace")  # type: ignore[attr-defined]


def run_folders(ws: Workspace) -> list[Path]:
    day = ws.reports / AS_OF
    return sorted(d for d in day.iterdir() if not d.name.startswith(".")) if day.exists() else []


def comparable(folder: Path) -> dict:
    """results.json without run-specific fields, and trades.csv."""
    doc = json.loads((folder / "results.json").read_text())
    run_id = folder.name

    def scrub(x):
        if isinstance(x, dict):
            return {k: scrub(v) for k, v in x.items() if k not in {"run_id", "started_at"}}
        if isinstance(x, list):
            return [scrub(v) for v in x]
        return x.replace(run_id, "<run>") if isinstance(x, str) else x

    return {"results": scrub(doc), "trades": (folder / "trades.csv").read_text()}


def state(ws: Workspace) -> dict:
    with db.connect(ws.warehouse) as con:
        return {
            "problems": [str(p) for p in audit.verify(con, ws)],
            "ledger": con.execute(
                "select original_name, count(*) from file_ledger group by 1 order by 1"
            ).fetchall(),
            "runs": con.execute("select status, pid from runs order by started_at").fetchall(),
            "unaudited": db.query(con, "audit/recovery/unaudited_files").height,
            "events": [r["event"] for r in audit.rows(con)],
            "result_runs": [
                s
                for (s,) in con.execute(
                    "select status from runs where run_id in (select run_id from run_portfolios)"
                ).fetchall()
            ],
        }


def test_kill_at_each_stage_then_rerun(tmp_path: Path) -> None:
    crashed = copy_demo(tmp_path / "crashed")
    clean = copy_demo(tmp_path / "clean")
    clean_proc = start(clean)
    assert faults.STAGES[-1] == "publish"
    for stage in faults.STAGES:
        rc, out = finish(start(crashed, stage))
        assert rc == -signal.SIGKILL, f"{stage}: {out}"
        # two-phase publish: no stage, not even after the record, leaves a visible folder
        assert not run_folders(crashed), f"{stage}: a run folder of a killed run is visible"
        if stage == "record":  # killed inside its transaction, after inserting its result files
            (spilled,) = results_dir(crashed).iterdir()  # the earlier killed runs' are removed
            assert list(spilled.glob("run_portfolios-*.parquet"))
    (staged,) = (crashed.reports / AS_OF).glob(".*.partial")  # the recorded, unpublished run
    rc, out = finish(start(crashed))
    assert rc == 1, out  # demo: one portfolio has invalid data
    assert finish(clean_proc)[0] == 1

    rolled, final = run_folders(crashed)  # run ids sort by start time
    assert rolled.name == staged.name[1 : -len(".partial")]  # rolled forward by recovery
    (reference,) = run_folders(clean)
    assert comparable(final) == comparable(reference)
    assert comparable(rolled) == comparable(reference)
    assert not list((crashed.reports / AS_OF).glob("*.partial"))
    assert not list((crashed.reports / AS_OF).glob(".*.crashed"))  # nothing was ever visible

    after, ref = state(crashed), state(clean)
    assert after["problems"] == [] and after["unaudited"] == 0
    assert after["ledger"] == ref["ledger"]  # each file once, none lost
    statuses = [s for s, _ in after["runs"]]
    killed = len(faults.STAGES) - 1  # all but publish, which was recorded before the kill
    assert statuses == ["crashed"] * killed + ["completed_with_errors"] * 2
    assert all(pid for s, pid in after["runs"] if s == "crashed")
    assert after["events"].count("run_crashed") == killed
    assert not list(crashed.inbox.iterdir())
    # result files: the killed runs' removed by recovery, a recorded run's by its record stage;
    # result rows only of the runs recorded as finished
    assert not list(results_dir(crashed).iterdir()) and not list(results_dir(clean).iterdir())
    assert after["result_runs"] == ["completed_with_errors"] * 2
