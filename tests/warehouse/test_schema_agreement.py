"""One canonical schema, declared in three places that must agree: the kinds (``ballast/kinds.py``),
the warehouse tables (``sql/schema/``, applied to a fresh warehouse) and the GX suites
(``expectations/``). Each test names the kind and the column where they part."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from ballast.ingest.validation import suite_spec
from ballast.kinds import ALL_KINDS, SQL_TYPES
from ballast.resources import expectations_dir
from ballast.warehouse import db

KINDS = sorted(ALL_KINDS)
LINEAGE = {"file_id": "INTEGER", "line": "BIGINT"}  # where each canonical row came from

Columns = dict[str, tuple[str, bool]]  # column -> (DuckDB type, nullable)


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Columns]:
    """Every table of a warehouse created by the real schema files."""
    path: Path = tmp_path_factory.mktemp("schema") / "warehouse.duckdb"
    with db.connect(path, lock_timeout=0) as con:
        rows = con.execute(
            "select table_name, column_name, data_type, is_nullable from duckdb_columns() "
            "where schema_name = 'main'"
        ).fetchall()
    out: dict[str, Columns] = {}
    for table, column, data_type, nullable in rows:
        out.setdefault(table, {})[column] = (data_type, nullable)
    return out


def _duckdb_type(sql: str) -> str:
    """How DuckDB spells a type of ``kinds.SQL_TYPES``: ``decimal(18,6)`` -> ``DECIMAL(18,6)``."""
    return sql.replace(" ", "").upper()


def _of_type(spec: Mapping[str, Any], *types: str) -> list[dict[str, Any]]:
    return [e["kwargs"] for e in spec["expectations"] if e["type"] in types]


def _named(value: Any) -> Iterator[str]:
    """Column names inside a GX 1.x row condition (``{"column": {"name": ...}}``), recursively."""
    if isinstance(value, Mapping):
        column = value.get("column")
        if isinstance(column, Mapping) and "name" in column:
            yield column["name"]
        for v in value.values():
            yield from _named(v)
    elif isinstance(value, list):
        for v in value:
            yield from _named(v)


def _referenced(spec: Mapping[str, Any]) -> set[str]:
    """Every column a suite's expectations check, condition on or show."""
    found: set[str] = set()
    for e in spec["expectations"]:
        kwargs, meta = e["kwargs"], e.get("meta") or {}
        found |= {kwargs[k] for k in ("column", "column_A", "column_B") if k in kwargs}
        found |= set(kwargs.get("column_list") or [])
        found |= set(_named(kwargs.get("row_condition")))
        found |= {meta["column"]} if "column" in meta else set()
        found |= set(meta.get("found") or [])
    return found


def test_every_kind_has_a_table_and_a_suite(tables: dict[str, Columns]) -> None:
    suites = {p.stem for p in expectations_dir().glob("*.json")}
    assert suites == set(KINDS), "expectations/*.json and kinds.ALL_KINDS name different kinds"
    assert set(KINDS) <= set(tables), f"no table for {sorted(set(KINDS) - set(tables))}"


@pytest.mark.parametrize("kind", KINDS)
def test_table_has_the_kinds_columns_and_types(tables: dict[str, Columns], kind: str) -> None:
    table = tables[kind]
    want = LINEAGE | {c: _duckdb_type(SQL_TYPES[t]) for c, t in ALL_KINDS[kind].all_columns.items()}
    assert sorted(set(table) - set(want)) == [], f"{kind}: table columns the kind does not declare"
    assert sorted(set(want) - set(table)) == [], f"{kind}: kind columns the table lacks"
    wrong = {c: (table[c][0], t) for c, t in want.items() if table[c][0] != t}
    assert wrong == {}, f"{kind}: column (table type, kind type) disagree"


@pytest.mark.parametrize("kind", KINDS)
def test_table_refuses_no_empty_cell_the_suite_accepts(
    tables: dict[str, Columns], kind: str
) -> None:
    """A NOT NULL column of the table is a not-null expectation of the suite, or loading a file
    that passed validation would fail."""
    not_null = {c for c, (_, nullable) in tables[kind].items() if not nullable} - set(LINEAGE)
    checked = {
        k["column"] for k in _of_type(suite_spec(kind), "expect_column_values_to_not_be_null")
    }
    assert sorted(not_null - checked) == [], f"{kind}: NOT NULL in the table, unchecked by GX"


@pytest.mark.parametrize("kind", KINDS)
def test_suite_names_exactly_the_kinds_columns(kind: str) -> None:
    spec, k = suite_spec(kind), ALL_KINDS[kind]
    assert spec["name"] == f"ballast.{kind}"
    assert spec["meta"]["kind"] == kind
    required = [e["column"] for e in _of_type(spec, "expect_column_to_exist")]
    assert sorted(required) == sorted(k.columns), f"{kind}: expect_column_to_exist != kind columns"
    assert len(required) == len(set(required)), f"{kind}: a column is required twice"
    not_null = {e["column"] for e in _of_type(spec, "expect_column_values_to_not_be_null")}
    assert sorted(not_null - set(k.columns)) == [], f"{kind}: not-null check on a non-required col"
    if "optional_columns" in spec["meta"]:
        assert sorted(spec["meta"]["optional_columns"]) == sorted(k.optional or {})
    derived = set(spec["meta"].get("derived_columns") or {})
    unknown = _referenced(spec) - set(k.all_columns) - derived
    assert sorted(unknown) == [], f"{kind}: the suite names columns the kind does not declare"


@pytest.mark.parametrize("kind", KINDS)
def test_suite_checks_the_kinds_key(kind: str) -> None:
    spec, key = suite_spec(kind), list(ALL_KINDS[kind].key)
    compound = [e["column_list"] for e in _of_type(spec, "expect_compound_columns_to_be_unique")]
    single = [[e["column"]] for e in _of_type(spec, "expect_column_values_to_be_unique")]
    if key:
        assert key in compound + single, f"{kind}: no uniqueness check on the key {key}"
    assert all(c == key for c in compound), f"{kind}: a compound unique check is not the key"
