"""Which input was edited after the fact: archived custodian files against the hashes recorded
at ingest, and the warehouse's rows against the rows their archived bytes give when parsed
again (``ballast.audit.scratch``).

Each finding is one line naming the file (and, where it can, the table and row), with every
differing row kept beside it. A later file that restates an earlier one is not an edit: it is a
file of its own, with its own hash and rows, and is named by ``rerun.changed_inputs``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb
import polars as pl

from ballast.audit.scratch import ArchivedFile, Scratch
from ballast.kinds import ALL_KINDS
from ballast.warehouse import db

MAX_ROWS = 20  # differing rows kept per finding


@dataclass(frozen=True)
class Tamper:
    """An edit found by a rerun: where (archive, ledger, warehouse, run record, output), one
    line saying what, and the rows it concerns."""

    where: str
    line: str
    rows: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"where": self.where, "line": self.line, "rows": list(self.rows)}


def _show(value: Any) -> str:
    return "null" if value is None else str(value)


def _numbered(frame: pl.DataFrame) -> pl.DataFrame:
    """Identical rows told apart by their occurrence (a duplicated row is a difference)."""
    return frame.with_columns(pl.int_range(pl.len()).over(frame.columns).alias("_n"))


def _row_lines(table: str, live: list[dict[str, Any]], again: list[dict[str, Any]]) -> list[str]:
    """One line per source line whose rows differ between the warehouse and the file."""
    w = {r["line"]: r for r in live}
    a = {r["line"]: r for r in again}
    out = []
    for line in sorted(w.keys() | a.keys()):
        wr, ar = w.get(line), a.get(line)
        if wr is None:
            out.append(f"{table} line {line}: in the archived file, missing from the warehouse")
        elif ar is None:
            out.append(f"{table} line {line}: in the warehouse, not in the archived file")
        else:
            cols = [c for c in wr if c not in ("file_id", "line", "_n") and wr[c] != ar[c]]
            said = "; ".join(
                f"{c} {_show(wr[c])} in the warehouse, {_show(ar[c])} in the archived file"
                for c in cols
            )
            out.append(f"{table} line {line}: {said or 'a row repeated in one of them'}")
    return out


def table_differences(table: str, live: pl.DataFrame, again: pl.DataFrame) -> dict[int, list[str]]:
    """File id → lines where the warehouse's rows of ``table`` are not the re-parsed ones."""
    if live.columns != again.columns or live.dtypes != again.dtypes:
        return {-1: [f"{table}: its columns are not the schema's ({', '.join(live.columns)})"]}
    if live.equals(again):
        return {}
    key = [*live.columns, "_n"]
    live, again = _numbered(live), _numbered(again)
    extra = live.join(again, on=key, how="anti", nulls_equal=True)
    gone = again.join(live, on=key, how="anti", nulls_equal=True)
    out = {}
    for file_id in sorted({*extra["file_id"].to_list(), *gone["file_id"].to_list()}):
        mine = pl.col("file_id") == file_id
        out[file_id] = _row_lines(
            table, extra.filter(mine).to_dicts(), gone.filter(mine).to_dicts()
        )
    return out


def _rows(con: duckdb.DuckDBPyConnection, table: str, max_file_id: int) -> pl.DataFrame:
    frame = db.query(con, "audit/rerun/table_rows", {"table": table, "max_file_id": max_file_id})
    return frame.select(sorted(frame.columns))


def row_differences(
    con: duckdb.DuckDBPyConnection, built: Scratch, max_file_id: int
) -> dict[int, list[str]]:
    """File id → every line where the warehouse differs from the archived bytes, over the
    canonical tables (files that did not parse again are left out: they have no rows)."""
    skip = pl.col("file_id").is_in(sorted(built.unparsed))
    out: dict[int, list[str]] = {}
    for table in ALL_KINDS:
        live = _rows(con, table, max_file_id).filter(~skip)
        again = _rows(built.con, table, max_file_id).filter(~skip)
        for file_id, lines in table_differences(table, live, again).items():
            out.setdefault(file_id, []).extend(lines)
    return out


def _first(lines: list[str]) -> str:
    more = f" (and {len(lines) - 1} more)" if len(lines) > 1 else ""
    return f": {lines[0]}{more}" if lines else ""


def _kept(lines: list[str]) -> tuple[str, ...]:
    if len(lines) <= MAX_ROWS:
        return tuple(lines)
    return (*lines[:MAX_ROWS], f"… and {len(lines) - MAX_ROWS} more")


def _archive(f: ArchivedFile, rows: list[str], unparsed: str | None) -> Tamper | None:
    if f.path is None:
        if f.purged:
            return None
        return Tamper(
            "archive",
            f"{f.label}: its archived copy (archive/{f.recorded}…) is missing: "
            "the rows it gave cannot be checked",
        )
    if not f.edited:
        return None
    assert f.actual is not None
    why = f"; its bytes no longer parse: {unparsed}" if unparsed else _first(rows)
    return Tamper(
        "archive",
        f"{f.label}: its archived copy archive/{f.path.name} was edited after ingest "
        f"(sha256 now {f.actual[:12]}…, recorded {f.recorded[:12]}… at ingest){why}",
        _kept(rows),
    )


def _ledger(f: ArchivedFile) -> Tamper | None:
    if f.ledger == f.recorded:
        return None
    return Tamper(
        "ledger",
        f"{f.label}: its file_ledger row says sha256 {f.ledger[:12]}…; the audit trail "
        f"recorded {f.recorded[:12]}… at ingest (the ledger was edited)",
    )


def _warehouse(label: str, rows: list[str]) -> Tamper:
    tables = sorted({r.split(" ", 1)[0] for r in rows})
    return Tamper(
        "warehouse",
        f"{label}: the warehouse's {', '.join(tables)} rows are not what its archived bytes "
        f"give (edited in the warehouse after ingest){_first(rows)}",
        _kept(rows),
    )


def findings(con: duckdb.DuckDBPyConnection, built: Scratch, max_file_id: int) -> list[Tamper]:
    """Every archived file edited, missing or recorded differently, and every file whose
    warehouse rows are not what its archived bytes give."""
    diffs = row_differences(con, built, max_file_id)
    out: list[Tamper] = []
    for f in built.files:
        rows = diffs.pop(f.file_id, [])
        found = [_ledger(f), _archive(f, rows, built.unparsed.get(f.file_id))]
        if rows and not f.edited:
            found.append(_warehouse(f.label, rows))
        out += [t for t in found if t is not None]
    for file_id, rows in sorted(diffs.items()):
        if file_id < 0:  # a table altered: its rows cannot be compared
            out += [Tamper("warehouse", line) for line in rows]
        else:
            out.append(_warehouse(f"file #{file_id}, which the ledger does not list", rows))
    return out


def notes(built: Scratch) -> list[str]:
    """What the rebuild could not prove without it being an edit: purged files, and files
    whose unedited bytes no longer parse (the code changed)."""
    out = []
    for f in built.files:
        if f.purged and f.status == "loaded":
            out.append(
                f"{f.label}: its archived copy was purged under retention; "
                "its warehouse rows were used as they are"
            )
        elif f.file_id in built.unparsed and not f.edited:
            out.append(
                f"{f.label}: its archived bytes no longer parse with this code "
                f"({built.unparsed[f.file_id]}); it was left out of the rebuild"
            )
    return out
