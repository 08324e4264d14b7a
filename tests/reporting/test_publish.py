"""Two-phase publish of run folders (issue 6): a folder becomes visible only after its run is
recorded as finished; recovery rolls forward a recorded run's folder left under its staging
name and removes one of a run never recorded. Plain functions, no Prefect."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ballast.audit import chain as audit
from ballast.audit import records, recovery
from ballast.ops.runs import RunIdentity
from ballast.reporting import outputs
from ballast.warehouse import db
from ballast.workspace import Workspace

AS_OF = "2026-09-30"


def run(run_id: str) -> RunIdentity:
    return RunIdentity(
        run_id=run_id,
        as_of=AS_OF,
        kind="quarterly_review",
        trigger="manual",
        who="tester",
        reason=None,
        code_version="test",
        started_at=dt.datetime(2026, 10, 5, 7, 0),
    )


def visible(ws: Workspace) -> list[str]:
    return sorted(d.name for d in (ws.reports / AS_OF).iterdir() if not d.name.startswith("."))


def staged(ws: Workspace) -> list[str]:
    return sorted(d.name for d in (ws.reports / AS_OF).glob(".*.partial"))


def test_folder_is_hidden_until_published(empty_ws: Workspace) -> None:
    final, hashes = outputs.write_run(empty_ws.reports, run("r1").meta(), [], [], html=False)
    assert final == empty_ws.reports / AS_OF / "r1"
    assert not final.exists() and visible(empty_ws) == [] and staged(empty_ws) == [".r1.partial"]
    assert set(hashes) == {"results.json", "trades.csv", "trade_lots.csv"}
    assert outputs.publish(final) == final
    assert visible(empty_ws) == ["r1"] and staged(empty_ws) == []
    assert (final / "results.json").exists()
    outputs.publish(final)  # again (a retried record stage): nothing changes
    assert visible(empty_ws) == ["r1"]


def test_recovery_rolls_forward_recorded_runs_only(empty_ws: Workspace) -> None:
    ws = empty_ws
    recorded, unrecorded, alive, rerun_id = "r-recorded", "r-killed", "r-alive", "r-rerun"
    with db.connect(ws.warehouse) as con:
        for rid in (recorded, unrecorded, alive):
            records.start(con, run(rid), ws)  # with its run_started event
        # killed between its record and its publish: recorded as finished
        records.finish(con, ws, run(recorded), None, None, None, "completed_with_errors")
        # a rerun has no row in runs: its run_finished event records it
        payload = {"status": "completed", "rerun_of": recorded}
        audit.append(con, ws, "run_finished", actor="t", run_id=rerun_id, payload=payload)
    recovery.register(ws, alive)  # this process: a run still going on
    for rid in (recorded, unrecorded, alive, rerun_id):
        outputs.write_run(ws.reports, run(rid).meta(), [], [], html=False)
    assert visible(ws) == []

    try:
        found = recovery.recover(str(ws.root), "r-new")
    finally:
        recovery.release(ws.root)

    assert visible(ws) == sorted([recorded, rerun_id])
    assert staged(ws) == [f".{alive}.partial"]  # a live run's folder is left alone
    assert sorted(Path(p).name for p in found.published) == sorted([recorded, rerun_id])
    assert [Path(p).name for p in found.removed_partial] == [f".{unrecorded}.partial"]
    assert found.crashed == [unrecorded]
    assert "published" in found.describe()
    with db.connect(ws.warehouse) as con:
        assert audit.verify(con, ws) == []
