"""The record stage's ``run_finished`` event, its detail staged and hashed in the warehouse
(``ballast.audit.run_finished``), against the whole-payload path it replaces
(``chain.split_detail`` of ``chain.run_summary`` and ``digests.run_payload``): the same chained
payload, the same detail rows, the same digest."""

from __future__ import annotations

import json
import shutil

import polars as pl
import pytest

from ballast.audit import chain, digests, records, run_finished
from ballast.ops.runs import RunIdentity
from ballast.warehouse import db
from ballast.workspace import Workspace
from tests.conftest import copy_demo

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]

AS_OF = "2026-09-30"

ODD_IDS = [
    'quote"d',
    "back\\slash",
    "tab\there",
    "new\nline",
    "bell\x07",
    "unit\x1f",
    "nul\x00",
    "é-accent",
    "emoji-😀",
    "line\u2028sep",
    "slash/ok",
    "Zebra",
    "zebra",
    "~tilde",
]
"""Portfolio ids (and so IPS and report names) that JSON must escape, or that sort
differently by bytes than by case: file names may hold any of them."""


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory, prefect_harness) -> tuple[Workspace, str]:
    from ballast.flows.review import quarterly_review

    ws = copy_demo(tmp_path_factory.mktemp("finished") / "ws")
    return ws, quarterly_review(workspace=str(ws.root), as_of=AS_OF)["run_id"]


@pytest.fixture
def ws(reviewed, tmp_path) -> Workspace:
    shutil.copytree(reviewed[0].root, tmp_path / "ws")
    return Workspace(tmp_path / "ws")


def _whole(con, run_id: str) -> tuple[dict, chain.Detail | None]:
    payload = chain.run_summary(con, run_id) | digests.run_payload(con, run_id)
    return chain.split_detail(payload)


def _streamed(con, run_id: str) -> tuple[dict, run_finished.StagedDetail | None, pl.DataFrame]:
    """The streamed event and its staged rows, inside a transaction rolled back after."""
    con.execute("begin transaction")
    try:
        payload, detail = run_finished.event(con, run_id)
        staged = pl.DataFrame(schema={"part": pl.String, "key": pl.String, "value": pl.String})
        if detail is not None:
            staged = con.sql("select part, key, value from run_detail_staging").pl()
        return payload, detail, staged
    finally:
        con.execute("rollback")


def _same(con, run_id: str) -> tuple[dict, run_finished.StagedDetail | None]:
    chained, whole = _whole(con, run_id)
    payload, detail, staged = _streamed(con, run_id)
    assert chain.canonical_payload(payload) == chain.canonical_payload(chained)
    if whole is None:
        assert detail is None
        return payload, detail
    assert detail is not None
    assert (detail.sha256, detail.entries) == (whole.sha256, whole.entries)
    key = ["part", "key"]
    want = whole.rows.drop("digest").sort(key)
    assert staged.sort(key).equals(want)
    return payload, detail


@pytest.mark.parametrize(("batch", "chunk"), [(10_000, 5_000), (2, 1), (3, 2)])
def test_the_streamed_event_is_the_whole_payload_split(
    ws: Workspace, reviewed, monkeypatch: pytest.MonkeyPatch, batch: int, chunk: int
) -> None:
    """Read back a few entries at a time (parts beginning and ending inside a batch) and the
    portfolio digests a portfolio or two at a time: the same event as the whole payload's."""
    monkeypatch.setattr(run_finished, "BATCH_ROWS", batch)
    monkeypatch.setattr(digests, "CHUNK_PORTFOLIOS", chunk)
    with db.connect(ws.warehouse) as con:
        payload, detail = _same(con, reviewed[1])
    assert detail is not None and set(payload) >= {"detail", "records", "inputs", "validation"}
    assert not set(payload) & set(chain.DETAIL_PARTS)  # every map has entries


@pytest.mark.parametrize("chunk", [5_000, 1])
def test_ids_json_must_escape_give_the_same_digest(
    ws: Workspace, reviewed, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    """Portfolios, reports and IPS files named with quotes, backslashes, control characters
    and non-ASCII letters: the SQL's JSON texts are ``json.dumps``'s, the order Python's, read
    whole or a portfolio (and its names) at a time."""
    monkeypatch.setattr(digests, "CHUNK_PORTFOLIOS", chunk)
    run_id = reviewed[1]
    with db.connect(ws.warehouse) as con:
        for i, pid in enumerate(ODD_IDS):
            con.execute(
                "insert into run_portfolios (run_id, portfolio_id, status, breached, action, "
                "total_value, errors, warnings) values (?, ?, ?, ?, 'none', 1.00, [], [])",
                [run_id, pid, "ok" if i % 2 else 'in"valid\n', bool(i % 3)],
            )
            con.execute(
                "insert into run_outputs (run_id, name, sha256) values (?, ?, ?)",
                [run_id, f"{pid}.html", f"{i:064x}"],
            )
            con.execute(
                "insert into run_inputs (run_id, role, name, sha256, file_id) "
                "values (?, 'ips', ?, ?, null)",
                [run_id, f"{pid}.yaml", f"{i + 1:064x}"],
            )
        payload, _ = _same(con, run_id)
        whole = chain.run_summary(con, run_id)
    assert set(ODD_IDS) <= set(whole["portfolios"])
    assert payload["detail"]["entries"] == sum(
        len(whole[p]) for p in ("ips", "outputs", "portfolios")
    ) + len(whole["portfolios"])


def test_a_run_with_no_entries_keeps_its_empty_maps(ws: Workspace) -> None:
    """A run that recorded nothing (failed before its results): no detail, the maps kept as
    ``{}`` in the chained payload, nothing staged."""
    run = RunIdentity.begin(AS_OF, "quarterly_review", "manual", None)
    with db.connect(ws.warehouse) as con:
        records.start(con, run, ws)
        payload, detail = _same(con, run.run_id)
        assert detail is None
        assert {p: payload[p] for p in chain.DETAIL_PARTS} == {p: {} for p in chain.DETAIL_PARTS}
        tables = con.sql("select table_name from duckdb_tables() where temporary").fetchall()
    assert ("run_detail_staging",) not in tables


def test_a_recorded_run_verifies_and_its_detail_expands(reviewed) -> None:
    """The review recorded through the streamed event: verify finds nothing, and the chained
    payload expands to the whole payload the old path would have chained."""
    ws, run_id = reviewed
    with db.connect(ws.warehouse) as con:
        assert chain.verify(con, ws) == []
        row = next(r for r in chain.rows(con) if r["event"] == "run_finished")
        expanded = chain.expand(con, json.loads(row["payload"]))
        whole = chain.run_summary(con, run_id) | digests.run_payload(con, run_id)
    for part in chain.DETAIL_PARTS:
        assert expanded[part] == whole[part]
