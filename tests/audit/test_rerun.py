"""Re-creating a past review: byte-identical outputs, and what a restatement changes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ballast.audit import chain as audit
from ballast.audit import rerun, run_finished
from ballast.errors import BallastError
from ballast.ingest import inbox
from ballast.portfolio import policy_set
from ballast.warehouse import db, snapshot
from ballast.workspace import Workspace
from tests.conftest import copy_demo
from tests.support.audit_cli import cli

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]
AS_OF = "2026-09-30"
RESTATED = "custodian-a_positions_2026-09-30_restated.csv"


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory, prefect_harness) -> tuple[Workspace, dict]:
    """One quarterly review of the demo, never changed by the tests (they copy it)."""
    from ballast.flows.review import quarterly_review

    ws = copy_demo(tmp_path_factory.mktemp("rerun") / "ws")
    return ws, quarterly_review(workspace=str(ws.root), as_of=AS_OF, html=False)


def clone(ws: Workspace, dest: Path) -> Workspace:
    """A copy of a whole workspace (warehouse, archive, reports, audit head)."""
    shutil.copytree(ws.root, dest)
    return Workspace(dest)


def restate(ws: Workspace) -> str:
    """The custodian restates INST-001 (GEQ 75,000 → 76,000 shares); returns the file's sha256."""
    (ws.inbox / RESTATED).write_text(
        "as_of_date,account_id,security_id,quantity,price,market_value,currency\n"
        "2026-09-30,INST-001,GEQ,76000,100.00,7600000.00,USD\n"
        "2026-09-30,INST-001,IGB,38000,100.00,3800000.00,USD\n",
        encoding="utf-8",
    )
    with db.connect(ws.warehouse) as con:
        report = inbox.commit(con, ws, inbox.validate(inbox.stage_workspace(con, ws)))
        audit.record_ingest(con, ws, report.as_dict(), actor="tester")
    (loaded,) = report.loaded
    return loaded["sha256"]


def outcome(ws: Workspace, run_id: str, **kw) -> rerun.RerunOutcome:
    with db.connect(ws.warehouse) as con:
        return rerun.rerun(con, ws, run_id, **kw)


def test_rerun_is_byte_identical(reviewed) -> None:
    """The rebuilt results.json and trades.csv hash exactly as the run recorded them."""
    ws, summary = reviewed
    got = outcome(ws, summary["run_id"])
    assert got.identical and got.mode == "pinned" and got.changes == []
    assert {f.name for f in got.files} == {"results.json", "trades.csv", "trade_lots.csv"}
    folder = Path(summary["report_dir"])
    for f in got.files:
        assert f.recorded == f.on_disk == f.rebuilt
        assert f.rebuilt == rerun.sha256_text((folder / f.name).read_text(encoding="utf-8"))


def test_cli_rerun_records_and_writes(reviewed, tmp_path) -> None:
    """`ballast rerun` exits 0, writes the rerun's outputs and records it in the audit trail."""
    ws = clone(reviewed[0], tmp_path / "ws")
    run_id = reviewed[1]["run_id"]
    res = cli("rerun", run_id, "--reason", "annual audit sample", "-w", str(ws.root))
    assert res.exit_code == 0, res.output
    assert "results.json: identical" in res.output and "trades.csv: identical" in res.output
    with db.connect(ws.warehouse) as con:
        log = audit.rows(con)
        assert audit.verify(con, ws) == []
    started, finished = (json.loads(r["payload"]) for r in log[-2:])
    assert [r["event"] for r in log[-2:]] == ["run_started", "run_finished"]
    assert log[-1]["subject"] == run_id and started["trigger"] == "rerun"
    assert started["reason"] == "annual audit sample"
    assert finished["identical"] and finished["status"] == "completed"
    doc = json.loads((Path(finished["report_dir"]) / "results.json").read_text())
    assert (doc["run_id"], doc["trigger"]) == (log[-1]["run_id"], "rerun")
    shown = cli("show", run_id, "-w", str(ws.root))
    assert shown.exit_code == 0, shown.output
    assert "custodian-a_positions_2026-09-30.csv" in shown.output
    assert f"  {log[-1]['run_id']} (pinned, by " in shown.output


def test_restatement_is_named(reviewed, tmp_path) -> None:
    """After a restated positions file, the pinned rerun is still identical but names it;
    with today's data the outputs differ and the rerun says which input changed."""
    ws = clone(reviewed[0], tmp_path / "ws")
    run_id = reviewed[1]["run_id"]
    sha = restate(ws)

    pinned = outcome(ws, run_id)
    assert pinned.identical
    (change,) = pinned.changes
    assert (change.kind, change.subject, change.portfolios) == (
        "positions",
        "INST-001",
        ("seed-60-40",),
    )
    assert change.before.name == "custodian-a_positions_2026-09-30.csv"
    assert (change.after.name, change.after.sha256) == (RESTATED, sha)

    latest = outcome(ws, run_id, latest=True)
    assert not latest.identical and latest.changes == pinned.changes
    results = next(f for f in latest.files if f.name == "results.json")
    total = 'portfolios[seed-60-40].total_value: "11300000.00" → "11400000.00"'
    assert total in results.differences
    trades = next(f for f in latest.files if f.name == "trades.csv")
    assert any(line.startswith("+seed-60-40,INST-001,GEQ,sell") for line in trades.differences)

    res = cli("rerun", run_id, "--latest", "-w", str(ws.root))
    assert res.exit_code == 1
    assert "results.json: DIFFERENT" in res.output
    assert f"restated by {RESTATED}" in res.output and sha[:12] in res.output


def test_edited_report_file_is_named(reviewed, tmp_path) -> None:
    """A run folder file edited after the run: the rebuild still matches the recorded hash,
    and the edit is named: the run is not proven (tests/audit/test_rerun_archive.py has more)."""
    ws = clone(reviewed[0], tmp_path / "ws")
    run_id = reviewed[1]["run_id"]
    trades = ws.reports / AS_OF / run_id / "trades.csv"
    trades.write_text(trades.read_text() + "x\n")
    got = outcome(ws, run_id)
    assert got.identical and not got.proven
    (edit,) = got.tampered
    assert edit.where == "output"
    assert edit.line.startswith("trades.csv in the run's folder was edited after the run")
    assert "+x" in edit.rows or "-x" in edit.rows


def test_missing_ips_archive_is_an_error(reviewed, tmp_path) -> None:
    """Without the archived IPS version the run cannot be re-created: one clear line."""
    ws = clone(reviewed[0], tmp_path / "ws")
    shutil.rmtree(ws.archive / "ips")
    with pytest.raises(BallastError, match=r"is not archived; the run cannot be re-created"):
        outcome(ws, reviewed[1]["run_id"])


def test_unknown_run(reviewed) -> None:
    """An unknown run id is a user error naming it."""
    with pytest.raises(BallastError, match="no run nope in the warehouse"):
        outcome(reviewed[0], "nope")


def test_run_finished_event(reviewed, tmp_path) -> None:
    """The run_finished payload carries the run's IPS and input hashes, validation and outputs."""
    ws = clone(reviewed[0], tmp_path / "ws")
    run_id = reviewed[1]["run_id"]
    with db.connect(ws.warehouse) as con:
        run_finished.record(con, ws, run_id)
        row = audit.rows(con)[-1]
        recorded = dict(
            con.execute(
                "select name, sha256 from run_outputs where run_id = ?", [run_id]
            ).fetchall()
        )
        chained = json.loads(row["payload"])
        p = audit.expand(con, chained)
    # the per-IPS, per-output and per-portfolio maps are rows of audit_detail, named by digest
    assert not set(audit.DETAIL_PARTS) & set(chained)
    assert chained["detail"]["entries"] == sum(len(p[k]) for k in audit.DETAIL_PARTS)
    assert (row["event"], row["run_id"], p["status"]) == (
        "run_finished",
        run_id,
        "completed_with_errors",
    )
    assert len(p["ips"]["seed-60-40.yaml"]) == 64 and p["outputs"] == recorded
    positions = [i for i in p["inputs"] if i["role"] == "positions"]
    assert [i["name"] for i in positions] == ["custodian-a_positions_2026-09-30.csv"]
    assert p["validation"]["failed"] == 0 and p["validation"]["passed"] >= 2
    assert p["portfolios"]["lakeside-pension"]["status"] == "data_invalid"


def test_bounded_snapshot_is_todays_when_nothing_changed(reviewed) -> None:
    """With no file loaded since the run, the run's bounded view equals today's snapshot."""
    ws, summary = reviewed
    with db.connect(ws.warehouse) as con:
        run = rerun.load_run(con, summary["run_id"])
        accounts = policy_set.accounts_of(rerun.archived_policies(ws, run))
        latest = snapshot.take(con, run.as_of, accounts)
        pinned = rerun.pinned_snapshot(con, run.as_of, accounts, rerun.pins(con, run))
    for name, frame in rerun.frames(latest).items():
        assert rerun.frames(pinned)[name].equals(frame), name
