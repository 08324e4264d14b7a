"""Retention: what is past it, the purge (recorded, audit rows kept) and legal holds."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import pytest

from ballast.audit import chain as audit
from ballast.audit import retention
from ballast.errors import BallastError
from ballast.warehouse import db
from ballast.workspace import Workspace
from tests.conftest import copy_demo
from tests.support.audit_cli import cli

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]

OLD_SHA, LOOSE_SHA = "a1" * 32, "b2" * 32


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory, prefect_harness) -> tuple[Workspace, str]:
    """One real review of the demo (tests work on copies)."""
    from ballast.flows.review import quarterly_review

    ws = copy_demo(tmp_path_factory.mktemp("retention") / "ws")
    summary = quarterly_review(workspace=str(ws.root), as_of="2026-09-30")
    return ws, summary["run_id"]


def _ledger(con, ws: Workspace, sha: str, name: str, loaded: str) -> None:
    (ws.archive / f"{sha}.csv").write_text("old\n", encoding="utf-8")
    con.execute(
        "insert into file_ledger (sha256, original_name, size_bytes, kind, rows, status, "
        "archive_path, loaded_at) values (?, ?, 4, 'positions', 1, 'loaded', ?, ?)",
        [sha, name, str(ws.archive / f"{sha}.csv"), loaded],
    )


@pytest.fixture
def ws(reviewed, tmp_path) -> Workspace:
    """A copy of the reviewed workspace with a fabricated run from 2019 and two old files:
    one read only by that run, one read by nothing; the old run also read a current file."""
    shutil.copytree(reviewed[0].root, tmp_path / "ws")
    ws = Workspace(tmp_path / "ws")
    folder = ws.reports / "2018-12-31" / "OLD-1"
    folder.mkdir(parents=True)
    (folder / "results.json").write_text("{}", encoding="utf-8")
    with db.connect(ws.warehouse) as con:
        con.execute(
            "insert into runs (run_id, kind, as_of, trigger, who, code_version, started_at, "
            "ended_at, status, report_dir) values ('OLD-1', 'quarterly_review', '2018-12-31', "
            "'manual', 'alice', '0.0', '2019-01-03 07:00', '2019-01-03 07:01', 'completed', ?)",
            [str(folder)],
        )
        _ledger(con, ws, OLD_SHA, "old-positions.csv", "2019-01-02 09:00")
        _ledger(con, ws, LOOSE_SHA, "loose.csv", "2018-06-01 09:00")
        shared = con.execute("select sha256 from run_inputs where role = 'positions' limit 1")
        shared_sha = shared.fetchall()[0][0]
        con.execute(
            "insert into run_inputs values ('OLD-1', 'positions', 'old-positions.csv', ?, null),"
            " ('OLD-1', 'positions', 'shared.csv', ?, null)",
            [OLD_SHA, shared_sha],
        )
    return ws


def test_cutoff_is_five_years_plus_current() -> None:
    """Default 5 years: on 2026-11-24 everything before 2021-01-01 is past retention."""
    cfg = retention.RetentionConfig()
    assert retention.cutoff(cfg, dt.date(2026, 11, 24)) == dt.date(2021, 1, 1)
    assert retention.cutoff(retention.RetentionConfig(years=7), dt.date(2026, 1, 1)) == dt.date(
        2019, 1, 1
    )


def test_config_is_read_from_ballast_yaml(tmp_path) -> None:
    """`retention: {years: N}` in ballast.yaml; a bad value names the field."""
    assert retention.load_config(tmp_path).years == 5
    (tmp_path / "ballast.yaml").write_text("schedule: {enabled: false}\nretention: {years: 8}\n")
    assert retention.load_config(tmp_path).years == 8
    (tmp_path / "ballast.yaml").write_text("retention: {years: 0}\n")
    with pytest.raises(BallastError, match=r"field retention\.years"):
        retention.load_config(tmp_path)


def test_listing_names_old_runs_folders_and_unused_files(ws: Workspace, reviewed) -> None:
    """The old run, its folder and both old files are listed; current runs and files are not."""
    res = cli("audit", "retention", "-w", str(ws.root))
    assert res.exit_code == 0, res.output
    assert "run OLD-1" in res.output and "2018-12-31/OLD-1" in res.output
    assert "old-positions.csv" in res.output and "loose.csv" in res.output
    assert reviewed[1] not in res.output and "shared.csv" not in res.output
    assert (ws.reports / "2018-12-31" / "OLD-1").is_dir()  # listing deletes nothing


def test_purge_deletes_marks_and_records(ws: Workspace) -> None:
    """--purge removes the folder and files, marks the run purged and keeps the chain intact."""
    with db.connect(ws.warehouse) as con:
        before = len(audit.rows(con))
    res = cli("audit", "retention", "-w", str(ws.root), "--purge", "--by", "CCO",
              "--reason", "5-year policy")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert not (ws.reports / "2018-12-31" / "OLD-1").exists()
    assert not (ws.archive / f"{OLD_SHA}.csv").exists()
    assert not (ws.archive / f"{LOOSE_SHA}.csv").exists()
    with db.connect(ws.warehouse) as con:
        status = con.execute("select status from runs where run_id = 'OLD-1'").fetchall()
        assert status == [("purged",)]
        log = audit.rows(con)
        assert audit.verify(con, ws) == []
    assert len(log) == before + 1 and log[-1]["event"] == "purge"
    payload = json.loads(log[-1]["payload"])
    assert payload["runs"] == ["OLD-1"] and payload["by"] == "CCO"
    assert {f["sha256"] for f in payload["files"]} == {OLD_SHA, LOOSE_SHA}
    again = cli("audit", "retention", "-w", str(ws.root))
    assert "nothing to purge" in again.output


def test_purge_needs_by_and_reason(ws: Workspace) -> None:
    """A purge without --by/--reason is refused."""
    res = cli("audit", "retention", "-w", str(ws.root), "--purge")
    assert isinstance(res.exception, BallastError)
    assert (ws.archive / f"{OLD_SHA}.csv").exists()


def test_hold_keeps_a_run_and_its_files_until_released(ws: Workspace) -> None:
    """A held run, its folder and its inputs survive a purge; after release they go."""
    assert (
        cli("audit", "hold", "OLD-1", "--reason", "SEC inquiry", "-w", str(ws.root)).exit_code == 0
    )
    res = cli("audit", "retention", "-w", str(ws.root), "--purge", "--by", "CCO", "--reason", "x")
    assert "kept, under legal hold: run OLD-1: SEC inquiry" in res.output
    assert (ws.reports / "2018-12-31" / "OLD-1").is_dir() and (
        ws.archive / f"{OLD_SHA}.csv"
    ).exists()
    assert not (ws.archive / f"{LOOSE_SHA}.csv").exists()  # not held: purged
    assert cli("audit", "release", "OLD-1", "--reason", "closed", "-w", str(ws.root)).exit_code == 0
    cli("audit", "retention", "-w", str(ws.root), "--purge", "--by", "CCO", "--reason", "x")
    assert not (ws.reports / "2018-12-31" / "OLD-1").exists()
    with db.connect(ws.warehouse) as con:
        events = [r["event"] for r in audit.rows(con)]
        assert audit.verify(con, ws) == []
    assert events[-4:] == ["legal_hold", "purge", "hold_released", "purge"]


def test_hold_on_a_file_and_a_purge_refusing_held_records(ws: Workspace) -> None:
    """A held file is kept; a plan made before a hold is refused rather than executed."""
    with db.connect(ws.warehouse) as con:
        plan = retention.plan(con, ws, dt.date(2021, 1, 1))
        retention.hold(con, ws, LOOSE_SHA, reason="litigation", actor="t")
        with pytest.raises(BallastError, match="under legal hold"):
            retention.purge(con, ws, plan, by="CCO", reason="x", actor="t")
        later = retention.plan(con, ws, dt.date(2021, 1, 1))
    assert LOOSE_SHA not in {f["sha256"] for f in later.files}
    assert any(LOOSE_SHA in h for h in later.held)
    assert (ws.archive / f"{LOOSE_SHA}.csv").exists()


def test_hold_targets_must_exist(ws: Workspace) -> None:
    """Unknown targets and releasing what is not held are errors."""
    with db.connect(ws.warehouse) as con:
        with pytest.raises(BallastError, match="neither a run id"):
            retention.hold(con, ws, "nope", reason="x", actor="t")
        with pytest.raises(BallastError, match="not under legal hold"):
            retention.hold(con, ws, "OLD-1", reason="x", actor="t", release=True)
