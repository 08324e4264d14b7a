"""`ballast rerun` replays the archived custodian bytes: each edit made after the run (an
archived file, a warehouse row, a run record, an output) is named, a legitimate restatement is
not blamed, and a run whose inputs were purged says it cannot be replayed.

Each test works on a copy of one real review (a real DuckDB file, a real Prefect run)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from ballast import errors
from ballast.audit import retention
from ballast.errors import EXIT_USAGE, BallastError
from ballast.ops import failures
from ballast.warehouse import db
from ballast.workspace import Workspace
from tests.audit.test_rerun import AS_OF, RESTATED, clone, outcome, restate
from tests.conftest import copy_demo
from tests.support.audit_cli import cli

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]
POSITIONS = "custodian-a_positions_2026-09-30.csv"


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory, prefect_harness) -> tuple[Workspace, str]:
    """One quarterly review of the demo, never changed by the tests (they copy it)."""
    from ballast.flows.review import quarterly_review

    ws = copy_demo(tmp_path_factory.mktemp("rerun-archive") / "ws")
    return ws, quarterly_review(workspace=str(ws.root), as_of=AS_OF, html=False)["run_id"]


@pytest.fixture
def ws(reviewed, tmp_path) -> Workspace:
    return clone(reviewed[0], tmp_path / "ws")


def ledger_row(ws: Workspace, name: str) -> tuple[int, Path, str]:
    """(file id, archived copy, sha256) of a loaded file."""
    with db.connect(ws.warehouse) as con:
        ((file_id, path, sha),) = con.execute(
            "select file_id, archive_path, sha256 from file_ledger "
            "where original_name = ? and status = 'loaded'",
            [name],
        ).fetchall()
    return file_id, ws.archive / Path(path).name, sha


def run_cli(ws: Workspace, run_id: str, *more: str):
    return cli("rerun", run_id, *more, "-w", str(ws.root))


def stderr_line(res) -> str:
    (line,) = [ln for ln in res.stderr.splitlines() if ln.strip()]
    return line


def test_untouched_run_is_proven(ws: Workspace, reviewed) -> None:
    """Nothing edited: the outputs rebuilt from the archived bytes are identical; exit 0."""
    got = outcome(ws, reviewed[1])
    assert got.identical and got.proven and got.tampered == [] and got.changes == []
    res = run_cli(ws, reviewed[1])
    assert res.exit_code == 0, res.output
    assert "identical: byte for byte" in res.output and "EDITED" not in res.output


def test_edited_archived_csv_is_named(ws: Workspace, reviewed) -> None:
    """An archived custodian CSV edited after ingest: the rerun parses the edited bytes, its
    outputs differ, and it names the file (original name, file id, hashes); exit 65."""
    file_id, path, sha = ledger_row(ws, POSITIONS)
    path.write_text(path.read_text().replace("75000", "75001"), encoding="utf-8")
    got = outcome(ws, reviewed[1])
    assert not got.proven and not got.identical
    (edit,) = got.tampered
    assert edit.where == "archive"
    assert f"{POSITIONS} (file #{file_id}): its archived copy archive/{path.name}" in edit.line
    assert f"recorded {sha[:12]}… at ingest" in edit.line
    assert any("quantity" in row and "75001" in row for row in edit.rows)
    res = run_cli(ws, reviewed[1])
    assert res.exit_code == errors.EXIT_UNPROVEN == 65, res.output
    assert "results.json: DIFFERENT" in res.output and "not proven" in res.output
    line = stderr_line(res)
    assert line.startswith(f"error: run {reviewed[1]} not proven: {POSITIONS} (file #{file_id})")


def test_edit_that_keeps_every_value_is_still_named(ws: Workspace, reviewed) -> None:
    """Bytes changed, figures not (CRLF line ends): the outputs are identical, but the
    archived copy is not what was ingested; exit 65."""
    file_id, path, _ = ledger_row(ws, POSITIONS)
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    got = outcome(ws, reviewed[1])
    assert got.identical and not got.proven
    assert [t.where for t in got.tampered] == ["archive"]
    assert f"(file #{file_id})" in got.tampered[0].line
    assert run_cli(ws, reviewed[1]).exit_code == errors.EXIT_UNPROVEN


def test_archived_file_edited_into_garbage(ws: Workspace, reviewed) -> None:
    """An archived copy that no longer parses: named with the parse error, no traceback."""
    file_id, path, _ = ledger_row(ws, POSITIONS)
    path.write_bytes(b"\x00\xffnot,a\ncsv\n")
    got = outcome(ws, reviewed[1])
    (edit,) = got.tampered
    assert f"(file #{file_id})" in edit.line and "no longer parse" in edit.line
    res = run_cli(ws, reviewed[1])
    assert res.exit_code == errors.EXIT_UNPROVEN, res.output
    assert "Traceback" not in res.output


def test_deleted_archived_file_is_named(ws: Workspace, reviewed) -> None:
    """An archived copy deleted without a purge: named as missing; exit 65."""
    file_id, path, _ = ledger_row(ws, POSITIONS)
    path.unlink()
    got = outcome(ws, reviewed[1])
    assert any(
        t.where == "archive" and f"(file #{file_id})" in t.line and "is missing" in t.line
        for t in got.tampered
    )
    assert run_cli(ws, reviewed[1]).exit_code == errors.EXIT_UNPROVEN


def test_edited_warehouse_row_with_intact_archive(ws: Workspace, reviewed) -> None:
    """A positions row edited in the warehouse: the rerun reads the archive, so the outputs
    are still identical; it says the warehouse differs from the archived bytes; exit 65."""
    file_id, _, _ = ledger_row(ws, POSITIONS)
    with db.connect(ws.warehouse) as con:
        con.execute(
            "update positions set quantity = 80000 where file_id = ? and security_id = 'GEQ'",
            [file_id],
        )
    got = outcome(ws, reviewed[1])
    assert got.identical and got.changes == []
    (edit,) = got.tampered
    assert edit.where == "warehouse" and f"{POSITIONS} (file #{file_id})" in edit.line
    assert "quantity 80000" in edit.line and "in the archived file" in edit.line
    res = run_cli(ws, reviewed[1])
    assert res.exit_code == errors.EXIT_UNPROVEN, res.output
    assert "results.json: identical" in res.output
    assert "identical from the custodian's bytes (the archive is intact)" in res.output
    assert "its outputs follow from the archive, but" in stderr_line(res)


def test_restatement_after_the_run_is_not_blamed(ws: Workspace, reviewed) -> None:
    """A later file restating the run's positions is a change since the run, never an edit:
    the rerun replays only what the run read, is identical and exits 0; even with the
    original file's warehouse rows edited, only that edit is named."""
    sha = restate(ws)
    got = outcome(ws, reviewed[1])
    assert got.proven and got.tampered == []
    assert [(c.kind, c.after.name) for c in got.changes] == [("positions", RESTATED)]
    res = run_cli(ws, reviewed[1])
    assert res.exit_code == 0, res.output
    assert f"restated by {RESTATED}" in res.output and sha[:12] in res.output

    file_id, _, _ = ledger_row(ws, POSITIONS)
    with db.connect(ws.warehouse) as con:
        con.execute("update positions set quantity = quantity + 1 where file_id = ?", [file_id])
    got = outcome(ws, reviewed[1])
    assert got.identical
    assert [(t.where, f"(file #{file_id})" in t.line) for t in got.tampered] == [
        ("warehouse", True)
    ]
    assert not any(RESTATED in t.line for t in got.tampered)


@pytest.mark.parametrize("name", ["results.json", "trades.csv"])
def test_edited_output_is_named(ws: Workspace, reviewed, name: str) -> None:
    """results.json or trades.csv edited in the run's folder: named with what the edit
    changed; exit 65 (the rebuilt file still matches the recorded hash)."""
    path = ws.reports / AS_OF / reviewed[1] / name
    if name == "results.json":
        doc = json.loads(path.read_text())
        doc["portfolios"] = [p for p in doc["portfolios"] if p["portfolio_id"] != "seed-60-40"]
        path.write_text(json.dumps(doc), encoding="utf-8")
    else:
        path.write_text(path.read_text().replace(",sell,", ",buy,", 1), encoding="utf-8")
    got = outcome(ws, reviewed[1])
    assert got.identical and not got.proven
    (edit,) = got.tampered
    assert edit.where == "output" and edit.line.startswith(f"{name} in the run's folder was edited")
    if name == "results.json":
        assert edit.line.endswith(": portfolios[seed-60-40]: removed")
    else:
        removed, added = edit.rows
        assert removed.startswith("-") and ",sell," in removed
        assert added.startswith("+") and ",buy," in added
    res = run_cli(ws, reviewed[1])
    assert res.exit_code == errors.EXIT_UNPROVEN, res.output
    assert stderr_line(res).startswith(f"error: run {reviewed[1]} not proven: {name} in the run")


def test_edited_output_hash_record_is_named(ws: Workspace, reviewed) -> None:
    """results.json and its run_outputs row both rewritten: the hash in the run's
    run_finished audit event still holds; both edits are named; exit 65."""
    run_id = reviewed[1]
    path = ws.reports / AS_OF / run_id / "results.json"
    path.write_text(path.read_text().replace('"11300000.00"', '"11300001.00"'), encoding="utf-8")
    with db.connect(ws.warehouse) as con:
        con.execute(
            "update run_outputs set sha256 = sha256(?) where run_id = ? and name = 'results.json'",
            [path.read_text(), run_id],
        )
    got = outcome(ws, run_id)
    assert {t.where for t in got.tampered} == {"run record", "output"}
    assert any("run_outputs of run" in t.line for t in got.tampered)
    assert run_cli(ws, run_id).exit_code == errors.EXIT_UNPROVEN


def test_purged_input_cannot_be_replayed(ws: Workspace, reviewed) -> None:
    """An input file of the run purged under retention: one line saying the run cannot be
    replayed, naming the file; exit 2; the rerun is recorded as failed."""
    run_id = reviewed[1]
    file_id, path, sha = ledger_row(ws, POSITIONS)
    plan = retention.Plan(dt.date.today(), files=[{"sha256": sha, "name": POSITIONS, "path": path}])
    with db.connect(ws.warehouse) as con:
        retention.purge(con, ws, plan, by="CCO", reason="test", actor="tester")
    with pytest.raises(BallastError, match=r"cannot be replayed from the custodian's bytes"):
        outcome(ws, run_id)
    res = run_cli(ws, run_id)
    failure = failures.describe(res.exception, ["ballast", "rerun", run_id])
    assert failure.exit_code == EXIT_USAGE
    assert failure.line == (
        f"run {run_id} cannot be replayed from the custodian's bytes: its input {POSITIONS} "
        f"(file #{file_id}), sha256 {sha[:12]}…, was purged under retention"
    )


def test_purged_run_cannot_be_replayed(ws: Workspace, reviewed) -> None:
    """A run purged under retention (its folder and archived inputs gone): one clear line."""
    run_id = reviewed[1]
    with db.connect(ws.warehouse) as con:
        plan = retention.plan(con, ws, dt.date.today() + dt.timedelta(days=1))
        assert run_id in [r["run_id"] for r in plan.runs]
        retention.purge(con, ws, plan, by="CCO", reason="test", actor="tester")
    res = run_cli(ws, run_id)
    failure = failures.describe(res.exception, ["ballast", "rerun", run_id])
    assert failure.exit_code == EXIT_USAGE
    assert failure.line.startswith(f"run {run_id} was purged under retention")
    assert "cannot be replayed" in failure.line


def test_scratch_warehouse_is_removed(ws: Workspace, reviewed, tmp_path, monkeypatch) -> None:
    """The scratch warehouse is a temporary file, gone after the rerun."""
    import tempfile

    scratch_dir = tmp_path / "tmp"
    scratch_dir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch_dir))
    made: list[Path] = []
    real = tempfile.TemporaryDirectory

    def spy(*args, **kwargs):
        d = real(*args, **kwargs)
        made.append(Path(d.name))
        return d

    monkeypatch.setattr(tempfile, "TemporaryDirectory", spy)
    assert outcome(ws, reviewed[1]).proven
    assert [p.parent for p in made] == [scratch_dir] and not made[0].exists()


def test_changed_parser_is_a_note_not_an_edit(ws: Workspace, reviewed, monkeypatch) -> None:
    """Intact archived bytes that today's code parses into other rows, while the warehouse
    still holds the rows recorded (digested) at ingest: the code changed; nothing is called
    edited, and the outputs differ with the same inputs (exit 1)."""
    from dataclasses import replace

    import polars as pl

    from ballast.ingest import inbox

    real = inbox.parse_file

    def newer_code(data, name, ctx):
        fmt, parts = real(data, name, ctx)
        if name != POSITIONS:
            return fmt, parts
        bump = pl.col("market_value") * 2
        return fmt, [replace(p, frame=p.frame.with_columns(bump)) for p in parts]

    monkeypatch.setattr(inbox, "parse_file", newer_code)
    file_id, _, _ = ledger_row(ws, POSITIONS)
    got = outcome(ws, reviewed[1])
    assert got.tampered == [] and not got.identical
    assert any(
        n.startswith(f"{POSITIONS} (file #{file_id}): its archived bytes (intact) parse today")
        for n in got.notes
    )
    res = run_cli(ws, reviewed[1])
    assert res.exit_code == 1, res.output
    assert "different, with the same inputs: the code changed" in res.output


def test_edited_ledger_and_run_inputs_are_named(ws: Workspace, reviewed) -> None:
    """The ledger's hash of a file and the run's input row both rewritten (as if the archived
    copy had always been other bytes): the audit trail's hashes still hold; both named."""
    file_id, _, sha = ledger_row(ws, POSITIONS)
    forged = "0" * 64
    with db.connect(ws.warehouse) as con:
        con.execute("update file_ledger set sha256 = ? where file_id = ?", [forged, file_id])
        con.execute("update run_inputs set sha256 = ? where file_id = ?", [forged, file_id])
    got = outcome(ws, reviewed[1])
    assert got.identical
    where = {t.where: t.line for t in got.tampered}
    assert set(where) == {"ledger", "run record"}
    assert where["ledger"].startswith(f"{POSITIONS} (file #{file_id}): its file_ledger row says")
    assert sha[:12] in where["ledger"]
    assert f"{POSITIONS} (file #{file_id}) says sha256 000000000000…" in where["run record"]
    assert run_cli(ws, reviewed[1]).exit_code == errors.EXIT_UNPROVEN


def test_edited_archived_ips_is_named(ws: Workspace, reviewed) -> None:
    """The archived IPS version the run read, edited: one line naming it; exit 65."""
    run_id = reviewed[1]
    with db.connect(ws.warehouse) as con:
        ((sha,),) = con.execute(
            "select sha256 from run_inputs where run_id = ? and name = 'seed-60-40.yaml'", [run_id]
        ).fetchall()
    path = ws.archive / "ips" / f"{sha}.yaml"
    path.write_text(path.read_text() + "\n# edited\n", encoding="utf-8")
    res = run_cli(ws, run_id)
    failure = failures.describe(res.exception, ["ballast", "rerun", run_id])
    assert failure.exit_code == errors.EXIT_UNPROVEN
    assert failure.line.startswith(
        f"{path}: the archived IPS seed-60-40.yaml of run {run_id} was edited after the run"
    )


def test_rewritten_ips_hash_row_is_named(ws: Workspace, reviewed) -> None:
    """The run's IPS row in run_inputs pointed at other bytes: the audit trail's hash is named
    before the missing archive; exit 65."""
    run_id = reviewed[1]
    with db.connect(ws.warehouse) as con:
        con.execute(
            "update run_inputs set sha256 = ? where run_id = ? and name = 'seed-60-40.yaml'",
            ["f" * 64, run_id],
        )
    with pytest.raises(errors.Unproven) as caught:
        outcome(ws, run_id)
    assert str(caught.value).startswith(
        f"run_inputs of run {run_id}: ips/seed-60-40.yaml says sha256 ffffffffffff…"
    )


@pytest.mark.parametrize(
    "name",
    ["custodian-b_positions_2026-09-30.csv", "securities.csv"],
    ids=["quarantined", "master"],
)
def test_other_archived_files_edited(ws: Workspace, reviewed, name: str) -> None:
    """The quarantined file the run reported, or the security master, edited in the archive:
    named; the rerun's audit event records it as not proven; exit 65."""
    with db.connect(ws.warehouse) as con:
        ((file_id, archived),) = con.execute(
            "select file_id, archive_path from file_ledger where original_name = ?", [name]
        ).fetchall()
    path = ws.archive / Path(archived).name
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    res = run_cli(ws, reviewed[1])
    assert res.exit_code == errors.EXIT_UNPROVEN, res.output
    assert f"EDITED (archive): {name} (file #{file_id}): its archived copy" in res.output
    with db.connect(ws.warehouse) as con:
        ((payload,),) = con.execute(
            "select payload from audit_log order by seq desc limit 1"
        ).fetchall()
    recorded = json.loads(payload)
    assert recorded["proven"] is False and recorded["rerun_of"] == reviewed[1]
    assert [t["where"] for t in recorded["tampered"]] == ["archive"]
