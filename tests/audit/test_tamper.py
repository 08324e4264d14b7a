"""The tamper matrix of issue 11: each edit an attacker with write access could make to what a
report rests on (archived files, warehouse rows, run records, the file ledger, chain rows,
published outputs), made with plain SQL or file writes on a copy of one real review, and the
line of ``ballast audit verify`` that names it (file, table, run, portfolio).

The consistent rewrite of the whole chain and ``audit/head`` is here too: without a witness it
passes (the documented limit); ``tests/audit/test_witness.py`` catches it with one.
"""

from __future__ import annotations

import errno
import json
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest

from ballast.audit import approvals, records
from ballast.audit import chain as audit
from ballast.audit import verify as proof
from ballast.errors import Unproven
from ballast.warehouse import db
from ballast.workspace import Workspace
from tests.conftest import copy_demo
from tests.support.audit_cli import cli

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]

AS_OF = "2026-09-30"
APPROVED = "seed-60-40"  # an ok portfolio with trades, approved in the fixture


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory, prefect_harness) -> tuple[Workspace, str]:
    """One real quarterly review of the demo, HTML reports included, and one approval."""
    from ballast.flows.review import quarterly_review

    ws = copy_demo(tmp_path_factory.mktemp("tamper") / "ws")
    run_id = quarterly_review(workspace=str(ws.root), as_of=AS_OF)["run_id"]
    with db.connect(ws.warehouse) as con:
        approvals.record_approval(con, ws, run_id, APPROVED, by="Jane Doe", note=None, actor="t")
    return ws, run_id


@pytest.fixture
def ws(reviewed, tmp_path) -> Workspace:
    """A private copy of the reviewed workspace, to tamper with."""
    shutil.copytree(reviewed[0].root, tmp_path / "ws")
    return Workspace(tmp_path / "ws")


@pytest.fixture
def run_id(reviewed) -> str:
    return reviewed[1]


def sql(ws: Workspace, *statements: str) -> None:
    """Raw SQL on the warehouse, as an attacker would run it."""
    con = duckdb.connect(str(ws.warehouse))
    try:
        for s in statements:
            con.execute(s)
    finally:
        con.close()


def value(ws: Workspace, query: str) -> Any:
    con = duckdb.connect(str(ws.warehouse), read_only=True)
    try:
        return con.execute(query).fetchone()[0]
    finally:
        con.close()


def report(ws: Workspace, **kw: Any) -> proof.Report:
    with db.connect(ws.warehouse) as con:
        return proof.verify(con, ws, **kw)


def problems(ws: Workspace) -> list[str]:
    return report(ws).findings.problems


def only(ws: Workspace, *parts: str) -> str:
    """The one problem verify finds, asserted to contain every part."""
    found = problems(ws)
    assert len(found) == 1, found
    for part in parts:
        assert part in found[0], found[0]
    return found[0]


def file_of(ws: Workspace, kind: str) -> tuple[int, str]:
    """(file id, name) of the loaded file of ``kind``."""
    con = duckdb.connect(str(ws.warehouse), read_only=True)
    try:
        fid, name = con.execute(
            "select file_id, original_name from file_ledger where kind = ? and status = 'loaded'",
            [kind],
        ).fetchone()
    finally:
        con.close()
    return fid, name


def folder(ws: Workspace, run_id: str) -> Path:
    return ws.reports / AS_OF / run_id


def test_untouched_review_verifies(ws: Workspace, run_id: str) -> None:
    """The baseline: a real review, an approval, nothing edited: intact, no notes, exit 0, and
    every kind of record was actually checked."""
    r = report(ws)
    assert r.findings.problems == [] and r.findings.notes == []
    counts = r.findings.counts
    assert counts["runs"] == 1 and counts["files"] == 6 and counts["outputs"] == 9
    assert counts["archived files"] == 6 + 5  # custodian files and IPS versions
    assert counts["warehouse rows"] > 0 and counts["run table rows"] > 0
    done = cli("audit", "verify", "-w", str(ws.root))
    assert done.exit_code == 0, done.output
    assert "audit trail intact" in done.output and "no witness checked" in done.output


# -- the archive ---------------------------------------------------------------------------------


def test_edited_archived_custodian_file(ws: Workspace) -> None:
    fid, name = file_of(ws, "positions")
    path = (
        ws.archive
        / Path(value(ws, f"select archive_path from file_ledger where file_id = {fid}")).name
    )
    path.write_text(path.read_text().replace("2026-09-30", "2026-09-29", 1))
    only(ws, f"file #{fid} ({name})", f"archive/{path.name} was edited")


def test_deleted_archived_file(ws: Workspace) -> None:
    fid, name = file_of(ws, "lots")
    path = (
        ws.archive
        / Path(value(ws, f"select archive_path from file_ledger where file_id = {fid}")).name
    )
    path.unlink()
    only(ws, f"file #{fid} ({name})", "is missing (deleted, and not by a purge)")


def test_edited_archived_ips(ws: Workspace, run_id: str) -> None:
    path = sorted((ws.archive / "ips").iterdir())[0]
    path.write_text(path.read_text() + "\n# edited\n")
    only(ws, "IPS ", f"of run {run_id}", "was edited")


# -- warehouse rows loaded from each file ---------------------------------------------------------

FIRST = "rowid = (select min(rowid) from {t} where file_id = {fid})"
TABLES = {  # table: (its file's kind, a numeric column to change)
    "positions": ("positions", "quantity"),
    "lots": ("lots", "quantity"),
    "prices": ("prices", "price"),
    "transactions": ("transactions", "amount"),
    "securities": ("securities", "line"),
}


@pytest.mark.parametrize("table", sorted(TABLES))
@pytest.mark.parametrize(
    ("action", "said"),
    [
        ("change", "rows as recorded, but their content was changed"),
        ("delete", "rows were deleted"),
        ("insert", "rows were added"),
    ],
)
def test_warehouse_row_edits(ws: Workspace, table: str, action: str, said: str) -> None:
    """Change, delete or insert one row of a canonical table: verify names the file it came
    from and the table."""
    kind, column = TABLES[table]
    fid, name = file_of(ws, kind)
    first = FIRST.format(t=table, fid=fid)
    statement = {
        "change": f"update {table} set {column} = {column} + 1 where {first}",
        "delete": f"delete from {table} where {first}",
        "insert": f"insert into {table} select * from {table} where {first}",
    }[action]
    sql(ws, statement)
    only(ws, f"file #{fid} ({name}): {table}:", said)


def test_validation_result_edited(ws: Workspace) -> None:
    fid, name = file_of(ws, "positions")
    sql(ws, f"update validation_results set success = not success where file_id = {fid}")
    only(ws, f"file #{fid} ({name}): validation_results:", "content was changed")


def test_rows_under_a_file_id_nobody_knows(ws: Workspace) -> None:
    sql(ws, "insert into positions select * replace (999 as file_id) from positions limit 2")
    only(ws, "positions: 2 rows carry file id 999", "neither the file ledger nor the audit trail")


# -- the file ledger ------------------------------------------------------------------------------


def test_ledger_row_changed(ws: Workspace) -> None:
    fid, name = file_of(ws, "prices")
    sql(ws, f"update file_ledger set original_name = 'other.csv' where file_id = {fid}")
    only(
        ws, f"file #{fid} ({name}): its file_ledger row was changed", "original_name is 'other.csv'"
    )


def test_ledger_row_deleted(ws: Workspace) -> None:
    fid, name = file_of(ws, "transactions")
    sql(
        ws,
        f"delete from transactions where file_id = {fid}",
        f"delete from validation_results where file_id = {fid}",
        f"delete from file_ledger where file_id = {fid}",
    )
    found = problems(ws)
    assert any(
        f"file #{fid} ({name}): in the audit trail" in p and "missing from the file ledger" in p
        for p in found
    ), found
    assert any(f"file #{fid} ({name}): transactions:" in p and "deleted" in p for p in found)


def test_ledger_row_inserted(ws: Workspace) -> None:
    sql(
        ws,
        "insert into file_ledger select * replace (77 as file_id, 'forged.csv' as original_name) "
        "from file_ledger where kind = 'positions'",
    )
    only(ws, "file #77 (forged.csv): in the file ledger but not in the audit trail")


# -- runs and their records -----------------------------------------------------------------------


def test_runs_row_changed(ws: Workspace, run_id: str) -> None:
    sql(ws, f"update runs set who = 'mallory', reason = 'quarterly' where run_id = '{run_id}'")
    only(ws, f"run {run_id}: its runs row was changed", "who is 'mallory'", "reason is 'quarterly'")


def test_runs_row_deleted(ws: Workspace, run_id: str) -> None:
    sql(ws, f"delete from runs where run_id = '{run_id}'")
    only(ws, f"run {run_id}: in the audit trail", "missing from the runs table")


def test_runs_row_inserted(ws: Workspace, run_id: str) -> None:
    sql(ws, "insert into runs select * replace ('FORGED-1' as run_id) from runs")
    only(ws, "run FORGED-1: in the runs table", "not in the audit trail")


RUN_TABLES = {  # table: (an update, a where naming the portfolio's rows)
    "run_trades": "amount = amount + 1",
    "run_allocations": "weight = weight + 0.01",
    "run_portfolios": "action = 'none'",
}


@pytest.mark.parametrize("table", sorted(RUN_TABLES))
@pytest.mark.parametrize(
    ("action", "said"),
    [
        ("change", "rows as recorded, but their content was changed"),
        ("delete", "rows were deleted"),
        ("insert", "rows were added"),
    ],
)
def test_run_table_edits(ws: Workspace, run_id: str, table: str, action: str, said: str) -> None:
    """Change, delete or insert a row of a run table: verify names the run, the table and the
    portfolio."""
    first = f"rowid = (select min(rowid) from {table} where portfolio_id = '{APPROVED}')"
    statement = {
        "change": f"update {table} set {RUN_TABLES[table]} where {first}",
        "delete": f"delete from {table} where {first}",
        "insert": f"insert into {table} select * from {table} where {first}",
    }[action]
    sql(ws, statement)
    only(ws, f"run {run_id}: {table}:", said, f"(portfolio {APPROVED})")


@pytest.mark.parametrize("table", ["run_inputs", "run_outputs"])
def test_run_inputs_and_outputs_edited(ws: Workspace, run_id: str, table: str) -> None:
    sql(
        ws,
        f"update {table} set sha256 = repeat('0', 64) "
        f"where rowid = (select min(rowid) from {table})",
    )
    only(ws, f"run {run_id}: {table}:", "content was changed")


def test_rows_of_a_run_nobody_recorded(ws: Workspace) -> None:
    sql(ws, "insert into run_trades select * replace ('GHOST' as run_id) from run_trades limit 1")
    only(ws, "run GHOST: run_trades hold rows of it", "records no finished run GHOST")


# -- the chain ------------------------------------------------------------------------------------


def test_chain_row_changed(ws: Workspace) -> None:
    sql(ws, "update audit_log set actor = 'mallory' where event = 'approval'")
    only(ws, f"(approval {APPROVED}", "edited: its content hashes to")


def test_chain_row_deleted(ws: Workspace) -> None:
    seq = value(ws, "select seq from audit_log where event = 'ingest'")
    sql(ws, f"delete from audit_log where seq = {seq}")
    only(ws, f"seq {seq}: row {seq} was deleted")


@pytest.mark.parametrize(
    ("edit", "said"),
    [
        (
            "update audit_detail set value = '\"' || repeat('0', 64) || '\"' "
            "where part = 'outputs' and key = 'trades.csv'",
            "its detail in audit_detail was edited",
        ),
        ("delete from audit_detail where part = 'portfolios' and key = 'seed-60-40'", "edited"),
        (
            "insert into audit_detail select digest, part, 'extra.html', value from audit_detail "
            "where part = 'outputs' limit 1",
            "edited",
        ),
        ("delete from audit_detail", "is missing from audit_detail"),
    ],
)
def test_run_finished_detail_edited(ws: Workspace, edit: str, said: str) -> None:
    """The IPS, output and per-portfolio maps of ``run_finished`` are rows of ``audit_detail``,
    named in the chained payload by their digest and count: an edited, deleted or added row is
    named at the event's seq."""
    seq = value(ws, "select seq from audit_log where event = 'run_finished'")
    sql(ws, edit)
    found = problems(ws)
    assert any(f"seq {seq} (run_finished" in f and said in f for f in found), found


def test_verify_reads_and_hashes_each_detail_once(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The detail of a large run is tens of thousands of rows: ``verify`` reads them in one
    query and hashes each detail once, for both its own check and the trail it reads."""
    reads, hashed = [], []
    real_read, real_digest = audit._details, audit.detail_digest

    def read(con: duckdb.DuckDBPyConnection, digests: list[str]) -> dict[str, Any]:
        reads.append(len(digests))
        return real_read(con, digests)

    def digest(parts: dict[str, Any]) -> str:
        hashed.append(1)
        return real_digest(parts)

    monkeypatch.setattr(audit, "_details", read)
    monkeypatch.setattr(audit, "detail_digest", digest)
    assert problems(ws) == []
    details = value(ws, "select count(distinct digest) from audit_detail")
    assert details >= 1 and reads == [details] and len(hashed) == details


def test_an_edited_detail_gives_approvals_no_recorded_digest(ws: Workspace, run_id: str) -> None:
    """A reader of the detail gets nothing from a detail that no longer matches its digest:
    the portfolio's recorded digest is gone, so its proposal is not proven."""
    with db.connect(ws.warehouse) as con:
        assert approvals.proposal_sha256(con, run_id, APPROVED)
    sql(ws, "update audit_detail set key = key || 'x' where part = 'ips'")
    with db.connect(ws.warehouse) as con, pytest.raises(Unproven, match="were edited or deleted"):
        approvals.proposal_sha256(con, run_id, APPROVED)


def test_chain_row_inserted_after_the_head(ws: Workspace) -> None:
    """A well-formed row appended without moving ``audit/head``."""
    with db.connect(ws.warehouse) as con:
        last = audit.rows(con)[-1]
    at = last["at"]
    payload = json.dumps({"portfolio": "ridge-endowment", "by": "mallory"})
    digest = audit.row_hash(
        last["seq"] + 1, at, "approval", "m", None, "x", payload, last["row_hash"]
    )
    sql(
        ws,
        f"insert into audit_log values ({last['seq'] + 1}, '{at}', 'approval', 'm', null, 'x', "
        f"'{payload}', '{last['row_hash']}', '{digest}')",
    )
    only(ws, f"seq {last['seq'] + 1}: rows {last['seq'] + 1}..{last['seq'] + 1} come after")


def test_chain_row_inserted_in_the_middle(ws: Workspace) -> None:
    """A well-formed row slipped in at seq 3, linked to seq 2, the later rows moved up one."""
    with db.connect(ws.warehouse) as con:
        second = audit.rows(con)[1]
    at, prev = second["at"], second["row_hash"]
    payload = json.dumps({"forged": True})
    digest = audit.row_hash(3, at, "legal_hold", "m", None, "x", payload, prev)
    sql(
        ws,
        "update audit_log set seq = seq + 1000 where seq >= 3",
        "update audit_log set seq = seq - 999 where seq >= 1003",
        f"insert into audit_log values (3, '{at}', 'legal_hold', 'm', null, 'x', '{payload}', "
        f"'{prev}', '{digest}')",
    )
    found = problems(ws)
    assert not any(p.startswith("seq 3 (") for p in found), found  # the forged row is well formed
    assert any(p.startswith("seq 4 (") and "edited" in p for p in found), found


def test_chain_rows_reordered(ws: Workspace) -> None:
    """Rows 2 and 3 swap places (their seqs exchanged)."""
    sql(
        ws,
        "update audit_log set seq = -2 where seq = 2",
        "update audit_log set seq = 2 where seq = 3",
        "update audit_log set seq = 3 where seq = -2",
    )
    found = problems(ws)
    assert any(p.startswith("seq 2 (") and "edited" in p for p in found), found
    assert any(p.startswith("seq 3 (") and "edited" in p for p in found), found


def test_chain_tail_truncated(ws: Workspace) -> None:
    """The newest row (the approval) deleted: ``audit/head`` still names it."""
    last = value(ws, "select max(seq) from audit_log")
    sql(ws, f"delete from audit_log where seq = {last}")
    only(ws, f"seq {last}: truncated", f"rows {last}..{last} are missing")


def test_whole_trail_deleted_while_runs_exist(ws: Workspace, run_id: str) -> None:
    """Every audit row and the head file gone: the runs and ledger tables still list what the
    trail should have recorded."""
    sql(ws, "delete from audit_log")
    audit.head_path(ws).unlink()
    found = problems(ws)
    assert f"run {run_id}: in the runs table" in "\n".join(found), found
    assert sum("in the file ledger but not in the audit trail" in p for p in found) == 6, found
    bad = cli("audit", "verify", "-w", str(ws.root))
    assert bad.exit_code == 1 and "audit trail intact" not in bad.output
    with db.connect(ws.warehouse) as con:  # the next append keeps the evidence in the chain
        audit.append(con, ws, "legal_hold", actor="t", subject=run_id, payload={"kind": "run"})
        first = audit.rows(con)[0]
    assert first["event"] == "audit_anomaly"
    assert "the warehouse lists 1 runs and 6 files: the trail was deleted" in first["payload"]
    assert any("seq 1 (audit_anomaly" in p for p in problems(ws))


def rewrite_chain(ws: Workspace, change: Any) -> None:
    """A consistent rewrite: ``change(row)`` edits rows, every hash and link is recomputed,
    the table replaced and ``audit/head`` rewritten to match."""
    with db.connect(ws.warehouse) as con:
        rows = audit.rows(con)
        prev = audit.GENESIS
        for r in rows:
            change(r)
            r["prev_hash"] = prev
            r["row_hash"] = prev = audit.row_hash(
                r["seq"],
                r["at"],
                r["event"],
                r["actor"],
                r["run_id"],
                r["subject"],
                r["payload"],
                r["prev_hash"],
            )
        con.execute("delete from audit_log")
        con.executemany(
            "insert into audit_log values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [list(r.values()) for r in rows],
        )
    last = rows[-1]
    audit.head_path(ws).write_text(f"{last['seq']} {last['row_hash']}\n")


def forge_approver(row: dict[str, Any]) -> None:
    if row["event"] == "approval":
        p = json.loads(row["payload"])
        row["payload"] = audit.canonical_payload(p | {"by": "Mallory"})


def test_consistent_rewrite_passes_without_a_witness(ws: Workspace) -> None:
    """The documented limit: whoever can write the warehouse and ``audit/head`` can rewrite the
    chain consistently (here: who approved); only a witness outside the workspace catches it
    (``test_witness.py::test_consistent_rewrite_is_caught_by_the_witness``)."""
    rewrite_chain(ws, forge_approver)
    r = report(ws)
    assert r.intact, r.findings.problems
    assert "no witness checked" in r.witness


# -- published outputs ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "old", "new", "who"),
    [
        ("results.json", '"breached": true', '"breached": false', "run {run}: "),
        ("trades.csv", ",sell,", ",buy,", "run {run}: "),
        (f"{APPROVED}.html", "Pending", "Approved", f"run {{run}}, portfolio {APPROVED}: "),
        ("index.html", "</html>", "<!-- -->\n</html>", "run {run}: "),
    ],
)
def test_edited_output(ws: Workspace, run_id: str, name: str, old: str, new: str, who: str) -> None:
    path = folder(ws, run_id) / name
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    only(ws, who.format(run=run_id) + f"{name} was edited", "the run recorded")


def test_deleted_and_added_outputs(ws: Workspace, run_id: str) -> None:
    (folder(ws, run_id) / "trades.csv").unlink()
    (folder(ws, run_id) / "extra.html").write_text("<p>approved</p>")
    found = problems(ws)
    assert any(f"run {run_id}: trades.csv was deleted" in p for p in found), found
    assert any(
        f"run {run_id}, portfolio extra: extra.html in its report folder" in p for p in found
    )
    assert len(found) == 2, found


def test_report_folder_removed(ws: Workspace, run_id: str) -> None:
    shutil.rmtree(folder(ws, run_id))
    only(ws, f"run {run_id}: its report folder reports/{AS_OF}/{run_id} is missing")


def test_approved_copy_is_not_an_output(ws: Workspace, run_id: str) -> None:
    """``ballast report`` writes ``<portfolio>.approved.html`` beside the run's outputs: made
    from the trail, never hashed, not a finding."""
    (folder(ws, run_id) / f"{APPROVED}.approved.html").write_text("copy")
    assert problems(ws) == []


# -- a run that did not finish ----------------------------------------------------------------


def test_failed_write_is_a_run_that_did_not_finish(tmp_path: Path, monkeypatch) -> None:
    """The disk fills while the run is recorded (its final transaction cannot write the new
    head): the run's records and its ``run_finished`` roll back together. verify names a run
    that did not finish, as a note: nothing was altered, exit 0, no false tamper alarm."""
    from ballast.flows.review import quarterly_review

    ws = copy_demo(tmp_path / "ws")
    real_finish = records.finish

    def full(*args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.ENOSPC, "No space left on device", str(ws.audit / ".head.tmp"))

    def finish_on_a_full_disk(*args: Any, **kwargs: Any) -> Any:
        with monkeypatch.context() as m:
            m.setattr(audit, "_write_tmp", full)
            return real_finish(*args, **kwargs)

    monkeypatch.setattr(records, "finish", finish_on_a_full_disk)
    with pytest.raises(OSError, match="No space left"):
        quarterly_review(workspace=str(ws.root), as_of=AS_OF)
    monkeypatch.undo()

    with db.connect(ws.warehouse) as con:
        ((run_id, status),) = con.execute("select run_id, status from runs").fetchall()
        events = [r["event"] for r in audit.rows(con)]
    assert status == "running" and "run_finished" not in events
    r = report(ws)
    assert r.findings.problems == []
    (note,) = [n for n in r.findings.notes if run_id in n]
    assert "did not finish" in note and "full disk" in note
    done = cli("audit", "verify", "-w", str(ws.root))
    assert done.exit_code == 0, done.output
    assert f"note: run {run_id}" in done.output and "audit trail intact" in done.output

    quarterly_review(workspace=str(ws.root), as_of=AS_OF)  # the next run marks it crashed
    with db.connect(ws.warehouse) as con:
        statuses = dict(con.execute("select run_id, status from runs").fetchall())
    assert statuses[run_id] == "crashed"
    r = report(ws)
    assert r.findings.problems == [] and r.findings.notes == [], r.findings


# -- every column is covered ----------------------------------------------------------------------

KEYS = {"file_id", "run_id"}  # moving a row to another file or run is covered by the row counts


def _changed(column: str, kind: str) -> str:
    """An SQL expression giving a different value of ``column`` (of DuckDB type ``kind``)."""
    if kind.endswith("[]"):
        return f"list_append(coalesce({column}, []), null)"
    if kind in ("VARCHAR",):
        return f"coalesce({column}, '') || 'x'"
    if kind == "BOOLEAN":
        return f"not coalesce({column}, false)"
    if kind == "DATE":
        return f"coalesce({column}, date '2000-01-01') + 1"
    if kind.startswith("TIMESTAMP"):
        return f"coalesce({column}, timestamp '2000-01-01') + interval 1 second"
    return f"coalesce({column}, 0) + 1"  # integers and decimals


def _digests(con: duckdb.DuckDBPyConnection) -> tuple[Any, Any]:
    from ballast.audit import digests

    return digests.file_records(con), digests.run_records(con)


def test_every_column_of_every_recorded_table_is_in_its_digest(ws: Workspace) -> None:
    """Changing any one column of one row (keys aside) changes a digest: a column added to the
    schema and not to ``sql/audit/records/`` fails here. Tables the demo leaves empty get a
    row first."""
    from ballast.kinds import ALL_KINDS

    tables = [*ALL_KINDS, "validation_results", "file_ledger"]
    tables += ["run_inputs", "run_outputs", "run_portfolios", "run_allocations", "run_trades"]
    missed, fid = [], file_of(ws, "prices")[0]
    with db.connect(ws.warehouse) as con:
        for table in tables:
            con.execute("begin transaction")
            if con.execute(f"select count(*) from {table}").fetchone()[0] == 0:
                filler = {
                    "fx_rates": f"({fid}, 1, date '2026-09-30', 'EUR', 'USD', 1.1)",
                    "cash_flows": f"({fid}, 1, 'A1', date '2026-09-30', 5, 'USD', 'fee')",
                }[table]
                con.execute(f"insert into {table} values {filler}")
            columns = con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_name = ? order by ordinal_position",
                [table],
            ).fetchall()
            before = _digests(con)
            for column, kind in columns:
                if column in KEYS:
                    continue
                con.execute(
                    f'update {table} set "{column}" = {_changed(column, kind)} '
                    f"where rowid = (select min(rowid) from {table})"
                )
                if _digests(con) == before:
                    missed.append(f"{table}.{column}")
                before = _digests(con)
            con.execute("rollback")
    assert missed == []


# -- a workspace that cannot be written -------------------------------------------------------


@pytest.mark.parametrize("command", ["verify", "anchor"])
def test_read_only_workspace_is_one_line_and_74(
    ws: Workspace, tmp_path: Path, command: str
) -> None:
    """``ballast audit verify|anchor`` on a read-only workspace (a real read-only mount): one
    line, exit 74, no traceback."""
    from ballast.errors import EXIT_STORAGE
    from tests.support.one_line import BALLAST, read_only, run

    with read_only(ws, [BALLAST, "audit", command, "-w", str(ws.root)]) as cmd:
        proc, line = run(cmd, tmp_path)
    assert proc.returncode == EXIT_STORAGE, line
    assert line.startswith(f"error: cannot write {ws.root}") or "no permission" in line, line


# -- what ballast itself removes is not tampering -------------------------------------------------


def test_a_purge_is_not_tampering(ws: Workspace, run_id: str) -> None:
    """A retention purge of the run (its folder, its archived inputs, its IPS versions) is
    recorded with the rows it changes: verify stays intact, and the purged files are not
    re-hashed."""
    import datetime as dt

    from ballast.audit import retention

    with db.connect(ws.warehouse) as con:
        plan = retention.plan(con, ws, dt.date(2100, 1, 1))
        assert [r["run_id"] for r in plan.runs] == [run_id] and plan.files
        retention.purge(con, ws, plan, by="Records Officer", reason="test", actor="t")
    assert not folder(ws, run_id).exists()
    r = report(ws)
    assert r.findings.problems == [], r.findings.problems
    assert r.findings.counts.get("archived files", 0) < 6 + 5


# -- digests streamed batch by batch are the format's digests --------------------------------------


def _aggregated(con: duckdb.DuckDBPyConnection, name: str, keys: str, ids: str) -> list[Any]:
    """Format 1 as one string per group, the way it was first written: ``sha256(string_agg(
    body, chr(10) order by body))`` over the bodies of ``sql/<name>.sql``."""
    body = db.sql_text(name)
    every = {"from_portfolio": None, "to_portfolio": None}  # the bounds of a range: none
    every |= {"keyed": None} if "$keyed" in body else {}
    every |= dict.fromkeys(("table", "role", "from_name", "to_name")) if "$table" in body else {}
    return con.sql(
        f"select {keys}, count(*), sha256(string_agg(body, chr(10) order by body)) "
        f"from ({body}) group by all order by all",
        params={ids: None, **(every if "$from_portfolio" in body else {})},
    ).fetchall()


@pytest.mark.parametrize("batch", [1, 3, 10_000, 100_000])
def test_streamed_digests_are_the_aggregated_ones(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch, batch: int
) -> None:
    """Each file's, run's and portfolio's digest, hashed as DuckDB streams the sorted rows
    (groups cut across batches of 1 and 3 rows too), is SHA-256 of the group's rows joined in
    one string."""
    from ballast.audit import digests

    monkeypatch.setattr(digests, "BATCH_ROWS", batch)
    with db.connect(ws.warehouse) as con:
        files = [
            (fid, table, r["rows"], r["sha256"])
            for fid, tables in digests.file_records(con).items()
            for table, r in tables.items()
            if table != "file_ledger"
        ]
        runs = [
            (rid, table, r["rows"], r["sha256"])
            for rid, tables in digests.run_records(con).items()
            for table, r in tables.items()
        ]
        portfolios = [
            (rid, pid, sha)
            for rid, by_pid in digests.portfolio_records(con).items()
            for pid, sha in by_pid.items()
        ]
        assert sorted(files) == _aggregated(
            con, "audit/records/file_rows", "file_id, table_name", "file_ids"
        )
        assert sorted(runs) == _aggregated(
            con, "audit/records/run_rows", "run_id, table_name", "run_ids"
        )
        aggregated = _aggregated(
            con, "audit/records/portfolio_rows", "run_id, portfolio_id", "run_ids"
        )
        assert sorted(portfolios) == [(r, p, sha) for r, p, _, sha in aggregated]
    assert len(files) > 3 and len(runs) == 5 and len(portfolios) > 3


@pytest.mark.parametrize("chunk", [1, 2, 10_000])
def test_a_runs_digests_taken_a_range_of_portfolios_at_a_time_are_the_whole_runs(
    ws: Workspace, run_id: str, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    """The record stage's digests of a run (``run_payload``, a range of portfolios at a time)
    are those of the run read at once, and those ``verify`` takes of every run."""
    from ballast.audit import digests

    monkeypatch.setattr(digests, "CHUNK_PORTFOLIOS", chunk)
    with db.connect(ws.warehouse) as con:
        ranges = digests.portfolio_ranges(con, run_id)
        payload = digests.run_payload(con, run_id)
        whole = digests.run_records(con, [run_id])[run_id]
        by_portfolio = digests.portfolio_records(con, [run_id])[run_id]
        assert payload["records"] == whole == digests.run_records(con)[run_id]
        assert payload["portfolio_records"] == by_portfolio
    assert len(ranges) == (1 if chunk == 10_000 else -(-len(by_portfolio) // chunk))
    assert set(whole) == {"run_inputs", "run_outputs", "run_portfolios", "run_allocations"} | (
        {"run_trades"} & set(whole)
    )


def test_ranges_out_of_text_order_fall_back_to_the_whole_run(
    ws: Workspace, run_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows of a table that came back out of text order across ranges are never hashed as
    they came: the run is read at once instead (the same digests)."""
    from ballast.audit import digests

    with db.connect(ws.warehouse) as con:
        whole = digests.run_records(con, [run_id])[run_id]
        monkeypatch.setattr(digests, "CHUNK_PORTFOLIOS", 1)
        backwards = list(reversed(digests.portfolio_ranges(con, run_id)))
        with pytest.raises(digests._OutOfOrder):
            params = [
                {**digests._EVERY_ROW, "run_ids": [run_id], "keyed": True}
                | {"from_portfolio": lo, "to_portfolio": hi}
                for lo, hi in backwards
            ]
            list(digests._interleaved(con, "audit/records/run_rows", params))
        assert digests.table_records(con, run_id, backwards) == whole
