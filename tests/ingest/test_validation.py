"""The validation stage: real Great Expectations runs of the suites in ``expectations/``."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from typing import Any

import polars as pl
import pytest

from ballast.ingest import validation
from ballast.ingest.validation import Failure, validate_frame
from ballast.kinds import ALL_KINDS, POLARS_TYPES, TRANSACTION_TYPES, ColType
from ballast.resources import expectations_dir, resource_dir

FILE = "custodian_2026-09-30.csv"

CLEAN: dict[str, list[dict[str, str | None]]] = {
    "positions": [
        {
            "as_of_date": "2026-09-30",
            "account_id": "INST-001",
            "security_id": "GEQ",
            "quantity": "75000",
            "price": "100.00",
            "market_value": "7500000.00",
            "currency": "USD",
        },
        {
            "as_of_date": "2026-09-30",
            "account_id": "INST-001",
            "security_id": "IGB",
            "quantity": "1234.5",
            "price": "3.333333",
            "market_value": "4115.00",
            "currency": "USD",
        },
        {
            "as_of_date": "2026-09-30",
            "account_id": "INST-001",
            "security_id": "CASH",
            "quantity": "250000.25",
            "price": "1",
            "market_value": "250000.25",
            "currency": "USD",
        },
    ],
    "lots": [
        {
            "as_of_date": "2026-09-30",
            "account_id": "TAX-1",
            "security_id": "GEQ",
            "lot_id": "L1",
            "acquired_date": "2024-01-15",
            "quantity": "100",
            "cost_basis": "8000.00",
        },
        {
            "as_of_date": "2026-09-30",
            "account_id": "TAX-1",
            "security_id": "GEQ",
            "lot_id": "L2",
            "acquired_date": "2026-09-30",
            "quantity": "0",
            "cost_basis": "0",
        },
        {
            "as_of_date": "2026-09-30",
            "account_id": "TAX-1",
            "security_id": "IGB",
            "lot_id": "L1",
            "acquired_date": "2025-06-01",
            "quantity": "50",
            "cost_basis": "4900.00",
        },
    ],
    "transactions": [
        {
            "transaction_id": "T1",
            "trade_date": "2026-09-01",
            "account_id": "TAX-1",
            "security_id": "GEQ",
            "type": "BUY",
            "quantity": "10",
            "amount": "-1000.00",
            "currency": "USD",
        },
        {
            "transaction_id": "T2",
            "trade_date": "2026-09-02",
            "account_id": "TAX-1",
            "security_id": None,
            "type": "FEE",
            "quantity": None,
            "amount": "-25.00",
            "currency": "USD",
        },
        {
            "transaction_id": "T3",
            "trade_date": "2026-09-03",
            "account_id": "TAX-1",
            "security_id": "GEQ",
            "type": "REINVEST",
            "quantity": "1.5",
            "amount": "0",
            "currency": "EUR",
        },
    ],
    "cash_flows": [
        {
            "account_id": "INST-001",
            "effective_date": "2026-10-15",
            "amount": "500000.00",
            "currency": "USD",
            "description": "Q4 contribution",
        },
        {
            "account_id": "INST-001",
            "effective_date": "2026-11-15",
            "amount": "-20000.00",
            "currency": "USD",
            "description": None,
        },
        {
            "account_id": "INST-001",
            "effective_date": "2026-11-15",
            "amount": "-20000.00",
            "currency": "USD",
            "description": None,
        },
    ],
    "fx_rates": [
        {"as_of_date": "2026-09-30", "currency": "CHF", "quote_currency": "USD", "rate": "1.2512"},
        {"as_of_date": "2026-09-30", "currency": "EUR", "quote_currency": "USD", "rate": "1.0831"},
    ],
    "prices": [
        {"as_of_date": "2026-09-30", "security_id": "GEQ", "price": "100.00", "currency": "USD"},
        {"as_of_date": "2026-09-30", "security_id": "IGB", "price": "0.000001", "currency": "USD"},
        {"as_of_date": "2026-09-30", "security_id": "CASH", "price": "1", "currency": "USD"},
    ],
    "securities": [
        {
            "security_id": "GEQ",
            "symbol": "GEQ",
            "name": "Global Equity Fund",
            "asset_class": "global_equity",
            "identical_group": "world",
        },
        {
            "security_id": "GEQ2",
            "symbol": "GEQ2",
            "name": "Global Equity Fund II",
            "asset_class": "global_equity",
            "identical_group": "world",
        },
        {
            "security_id": "IGB",
            "symbol": "IGB",
            "name": "IG Bond Fund",
            "asset_class": "ig_bonds",
            "identical_group": None,
        },
    ],
}


def typed(kind: str, rows: list[dict[str, str | None]]) -> pl.DataFrame:
    """Rows of text typed as ``kinds.POLARS_TYPES`` say, with source lines from 2."""
    columns = {c: t for c, t in ALL_KINDS[kind].all_columns.items() if c in rows[0]}
    raw = pl.DataFrame(rows, schema={c: pl.String for c in rows[0]}, orient="row")
    raw = raw.with_row_index("line", offset=2).with_columns(pl.col("line").cast(pl.Int64))
    return raw.with_columns(
        pl.col(c).str.to_date("%Y-%m-%d") if t is ColType.DATE else pl.col(c).cast(POLARS_TYPES[t])
        for c, t in columns.items()
    )


def changed(kind: str, line: int, **values: str | None) -> pl.DataFrame:
    """The clean frame of ``kind`` with some values of one source line replaced."""
    rows = [dict(r) for r in CLEAN[kind]]
    rows[line - 2].update(values)
    return typed(kind, rows)


def failure_for(outcome: Any, expectation: str, column: str) -> Failure:
    """The one failure of ``expectation`` on ``column``."""
    found = [f for f in outcome.failures if f.expectation == expectation and f.column == column]
    assert len(found) == 1, outcome.failures
    return found[0]


@pytest.fixture(scope="module", autouse=True)
def _warm() -> None:
    """Import GX and build the context once for the module."""
    validation.warm_up()


@pytest.mark.parametrize("kind", sorted(ALL_KINDS))
def test_clean_frame_passes(kind: str) -> None:
    """A clean frame of every kind passes every expectation of its suite."""
    outcome = validate_frame(kind, typed(kind, CLEAN[kind]), FILE)
    assert outcome.failures == []
    assert outcome.success
    assert outcome.kind == kind
    assert outcome.evaluated == len(validation.suite_spec(kind)["expectations"]) > 0


BETWEEN = "expect_column_values_to_be_between"
NOT_NULL = "expect_column_values_to_not_be_null"
REGEX = "expect_column_values_to_match_regex"
COMPOUND = "expect_compound_columns_to_be_unique"
UNIQUE = "expect_column_values_to_be_unique"
IN_SET = "expect_column_values_to_be_in_set"
PAIR = "expect_column_pair_values_a_to_be_greater_than_b"
KEY = {k: ", ".join(ALL_KINDS[k].key) for k in ALL_KINDS}

FAILING = [
    # kind, line, changes, expectation, column, text in the message
    ("fx_rates", 3, {"rate": "0"}, BETWEEN, "rate", "> 0 (found 0; 1 row"),
    (
        "fx_rates",
        2,
        {"quote_currency": "usd"},
        "expect_column_values_to_match_regex",
        "quote_currency",
        "3-letter upper-case currency code",
    ),
    ("positions", 3, {"account_id": None}, NOT_NULL, "account_id", "must not be empty (1 row"),
    ("positions", 2, {"as_of_date": None}, NOT_NULL, "as_of_date", "as-of date must be present"),
    ("positions", 3, {"price": "0", "market_value": "0"}, BETWEEN, "price", "> 0 (found 0; 1 row"),
    (
        "positions",
        4,
        {"price": "1.5", "market_value": "375000.38"},
        BETWEEN,
        "price",
        "must be 1 for security CASH (found security_id CASH, price 1.5;",
    ),
    (
        "positions",
        3,
        {"quantity": "-1234.5", "market_value": "-4115.00"},
        BETWEEN,
        "quantity",
        "unless the row declares a short position",
    ),
    ("positions", 4, {"security_id": "GEQ"}, COMPOUND, KEY["positions"], "also on row 4"),
    (
        "positions",
        3,
        {"market_value": "4117.07"},
        BETWEEN,
        "market_value",
        "quantity × price within max(0.01, 0.05% of |market_value|) (found market_value 4117.07",
    ),
    (
        "positions",
        2,
        {"currency": "usd"},
        REGEX,
        "currency",
        "currency code such as USD (found usd",
    ),
    ("lots", 3, {"lot_id": None}, NOT_NULL, "lot_id", "must not be empty"),
    (
        "lots",
        4,
        {"quantity": "-50"},
        BETWEEN,
        "quantity",
        "must be >= 0 unless the row declares a short",
    ),
    (
        "lots",
        3,
        {"cost_basis": "-0.01"},
        BETWEEN,
        "cost_basis",
        "must be >= 0 unless the lot is a declared short",
    ),
    (
        "lots",
        4,
        {"acquired_date": "2026-10-01"},
        PAIR,
        "acquired_date",
        "not be after the as-of date (found acquired_date 2026-10-01, as_of_date 2026-09-30;",
    ),
    ("lots", 4, {"security_id": "GEQ"}, COMPOUND, KEY["lots"], "also on row 4"),
    ("transactions", 3, {"type": "BUYY"}, IN_SET, "type", "must be one of BUY, SELL"),
    ("transactions", 4, {"transaction_id": "T1"}, UNIQUE, "transaction_id", "also on row 4"),
    ("transactions", 2, {"trade_date": None}, NOT_NULL, "trade_date", "must not be empty"),
    ("transactions", 4, {"currency": "EU"}, REGEX, "currency", "(found EU; 1 row fails)"),
    ("cash_flows", 3, {"amount": None}, NOT_NULL, "amount", "must not be empty"),
    ("cash_flows", 4, {"currency": "Usd"}, REGEX, "currency", "(found Usd;"),
    ("prices", 3, {"price": "-2"}, BETWEEN, "price", "must be > 0 (found -2;"),
    ("prices", 4, {"price": "0.99"}, BETWEEN, "price", "must be 1 for security CASH"),
    ("prices", 4, {"security_id": "GEQ"}, COMPOUND, KEY["prices"], "also on row 4"),
    ("prices", 3, {"currency": "US$"}, REGEX, "currency", "(found US$; 1 row fails)"),
    ("prices", 2, {"as_of_date": None}, NOT_NULL, "as_of_date", "as-of date must be present"),
    ("securities", 4, {"security_id": "GEQ"}, UNIQUE, "security_id", "also on row 4"),
    ("securities", 3, {"name": None}, NOT_NULL, "name", "must not be empty"),
]


@pytest.mark.parametrize(
    ("kind", "line", "changes", "expectation", "column", "text"),
    FAILING,
    ids=[f"{c[0]}-{c[3].removeprefix('expect_')}-{c[4]}" for c in FAILING],
)
def test_failing_case_names_file_row_and_column(
    kind: str, line: int, changes: dict, expectation: str, column: str, text: str
) -> None:
    """Each rule fails on a bad value, naming the file, the first failing row and the column."""
    outcome = validate_frame(kind, changed(kind, line, **changes), FILE)
    assert not outcome.success
    failure = failure_for(outcome, expectation, column)
    first = 2 if expectation in (COMPOUND, UNIQUE) else line  # a duplicate first occurs on row 2
    assert failure.line == first
    label = "columns" if ", " in column else "column"
    assert failure.message.startswith(f"{FILE}, row {first}, {label} {column}: ")
    assert text in failure.message
    assert "\n" not in failure.message


def test_missing_required_column_is_reported_once() -> None:
    """A missing required column is one failure on the header row, not one per rule using it."""
    frame = typed("positions", CLEAN["positions"]).drop("price")
    outcome = validate_frame("positions", frame, FILE)
    assert [f.column for f in outcome.failures] == ["price"]
    (failure,) = outcome.failures
    assert failure.expectation == "expect_column_to_exist"
    assert failure.line == 1
    assert (
        failure.message
        == f"{FILE}, row 1, column price: required column is missing from the header"
    )


def test_first_failing_line_and_count() -> None:
    """With several bad rows the message names the first line and counts them all."""
    rows = [dict(CLEAN["prices"][0], security_id=f"S{i}") for i in range(10)]
    for i in (7, 3, 8):
        rows[i]["price"] = "0"
    frame = typed("prices", rows).reverse()  # line order must not matter
    failure = failure_for(validate_frame("prices", frame, FILE), BETWEEN, "price")
    assert failure.line == 5
    assert failure.message == f"{FILE}, row 5, column price: must be > 0 (found 0; 3 rows fail)"


@pytest.mark.parametrize(
    ("market_value", "quantity", "price", "ok"),
    [
        ("1000500.25", "10000", "100", True),  # off by 500.25 <= 0.05% of 1,000,500.25
        ("1000500.26", "10000", "100", False),  # off by 500.26 > 500.25013
        ("1.0100", "1", "1", True),  # off by 0.01: the absolute floor
        ("1.0101", "1", "1", False),
        ("-1000.0000", "10", "100", False),  # sign matters
        ("4.1150", "1234.5", "0.003333", True),  # exact product 4.1145885
    ],
)
def test_market_value_tolerance(market_value: str, quantity: str, price: str, ok: bool) -> None:
    """market_value may differ from quantity × price by max(0.01, 0.05% of |market_value|)."""
    frame = changed("positions", 3, market_value=market_value, quantity=quantity, price=price)
    outcome = validate_frame("positions", frame, FILE)
    assert outcome.success is ok, outcome.failures


def test_securities_optional_columns_checked_when_present() -> None:
    """isin, when given, must be unique; absent optional columns are not an error."""
    rows = [dict(r, isin=f"US000000000{i}") for i, r in enumerate(CLEAN["securities"])]
    assert validate_frame("securities", typed("securities", rows), FILE).success
    rows[2]["isin"] = rows[0]["isin"]
    failure = failure_for(
        validate_frame("securities", typed("securities", rows), FILE), UNIQUE, "isin"
    )
    assert failure.line == 2
    assert "also on row 4" in failure.message


def test_result_is_json_serialisable() -> None:
    """The GX result dict survives json.dumps, for passing and failing frames alike."""
    good = validate_frame("lots", typed("lots", CLEAN["lots"]), FILE)
    bad = validate_frame("lots", changed("lots", 4, acquired_date="2027-01-01"), FILE)
    for outcome in (good, bad):
        again = json.loads(json.dumps(outcome.result))
        assert again["success"] is outcome.success
        assert len(again["results"]) == outcome.evaluated


def test_audit_result_keeps_count_but_caps_lines() -> None:
    """The audit result counts every failing row but lists at most MAX_AUDIT_LINES lines."""
    rows = [dict(CLEAN["prices"][0], security_id=f"S{i}", price="-1") for i in range(150)]
    outcome = validate_frame("prices", typed("prices", rows), FILE)
    (item,) = [
        r
        for r in outcome.result["results"]
        if not r["success"] and r["expectation_config"]["kwargs"].get("strict_min")
    ]
    assert item["result"]["unexpected_count"] == 150
    listed = [n for e in item["result"]["partial_unexpected_index_list"] for n in e["line"]]
    assert listed == list(range(2, 2 + validation.MAX_AUDIT_LINES))


def test_unknown_kind_is_refused() -> None:
    """An unknown kind is a programming error, not a silent pass."""
    with pytest.raises(ValueError, match="unknown kind"):
        validate_frame("trades", typed("prices", CLEAN["prices"]), FILE)


def test_no_progress_bars(capfd: pytest.CaptureFixture[str]) -> None:
    """Validation writes nothing to stdout or stderr (no GX progress bars)."""
    validate_frame("positions", changed("positions", 3, price="0"), FILE)
    out, err = capfd.readouterr()
    assert out == ""
    assert "Calculating Metrics" not in err
    assert "%|" not in err


def test_module_import_does_not_import_gx() -> None:
    """Importing ballast.ingest.validation is cheap: GX loads only when validating."""
    code = "import sys, ballast.ingest.validation; print('great_expectations' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_large_frame_validates() -> None:
    """100,000 clean positions validate in one pass (its speed is measured by
    benchmarks/bench_ingest.py, not here: no test depends on the machine's speed)."""
    n = 100_000
    base = typed("positions", CLEAN["positions"][:1])
    frame = pl.concat([base] * n).with_columns(
        line=pl.int_range(2, n + 2, dtype=pl.Int64),
        security_id=pl.format("S{}", pl.int_range(0, n)),
    )
    validate_frame("positions", frame.head(10), FILE)
    outcome = validate_frame("positions", frame, FILE)
    assert outcome.success, outcome.failures


# --- the suites and the kinds agree --------------------------------------------------------


def suite_columns(expectation: dict[str, Any]) -> set[str]:
    """Every column an expectation names: its kwargs, row condition and message meta."""
    kwargs, meta = expectation["kwargs"], expectation.get("meta") or {}
    names = {kwargs[k] for k in ("column", "column_A", "column_B") if k in kwargs}
    names |= set(kwargs.get("column_list") or [])
    condition = kwargs.get("row_condition")
    if isinstance(condition, dict) and "column" in condition:
        names.add(condition["column"]["name"])
    names |= set(meta.get("found") or [])
    if "column" in meta:
        names.add(meta["column"])
    return names


@pytest.mark.parametrize("kind", sorted(ALL_KINDS))
def test_suite_columns_exist_in_kinds(kind: str) -> None:
    """Every column a suite names is a column of that kind (or a declared derived column)."""
    spec = validation.suite_spec(kind)
    allowed = set(ALL_KINDS[kind].all_columns) | set(validation.DERIVED.get(kind, {}))
    for expectation in spec["expectations"]:
        assert suite_columns(expectation) <= allowed, expectation
    for derived, (needs, _) in validation.DERIVED.get(kind, {}).items():
        assert set(needs) <= set(ALL_KINDS[kind].all_columns), derived
        assert derived in spec["meta"]["derived_columns"]


@pytest.mark.parametrize("kind", sorted(ALL_KINDS))
def test_suite_covers_required_columns_and_keys(kind: str) -> None:
    """Each suite requires every column of its kind, keeps keys non-null and unique."""
    spec, definition = validation.suite_spec(kind), ALL_KINDS[kind]
    by_type: dict[str, list[dict]] = {}
    for e in spec["expectations"]:
        by_type.setdefault(e["type"], []).append(e["kwargs"])
    assert {k["column"] for k in by_type["expect_column_to_exist"]} == set(definition.columns)
    not_null = {k["column"] for k in by_type[NOT_NULL]}
    assert set(definition.key) <= not_null
    if len(definition.key) > 1:
        assert {tuple(k["column_list"]) for k in by_type[COMPOUND]} == {definition.key}
    elif definition.key:
        assert definition.key[0] in {k["column"] for k in by_type[UNIQUE]}
    if "currency" in definition.columns:
        assert {k["column"] for k in by_type[REGEX]} >= {"currency"}
    assert spec["meta"]["description"] and "tolerance" in spec["meta"]


def test_every_kind_has_a_loadable_suite() -> None:
    """Each kind's suite loads as a GX ExpectationSuite; no suite exists without a kind."""
    import great_expectations as gx

    files = {p.stem for p in expectations_dir().glob("*.json")}
    assert files == set(ALL_KINDS)
    for kind in ALL_KINDS:
        with (expectations_dir() / f"{kind}.json").open(encoding="utf-8") as f:
            suite = gx.ExpectationSuite(**json.load(f))
        assert suite.name == f"ballast.{kind}"


def test_transaction_types_match_kinds() -> None:
    """The allowed transaction types are exactly ``kinds.TRANSACTION_TYPES``."""
    (in_set,) = [
        e for e in validation.suite_spec("transactions")["expectations"] if e["type"] == IN_SET
    ]
    assert tuple(in_set["kwargs"]["value_set"]) == TRANSACTION_TYPES


def test_positions_tolerance_is_stated_in_meta() -> None:
    """The positions suite states its market value tolerance and that shorts are unsupported."""
    meta = validation.suite_spec("positions")["meta"]
    tolerance = meta["tolerance"]["market_value"]
    assert Decimal(tolerance["absolute"]) == Decimal("0.01")
    assert Decimal(tolerance["relative"]) == Decimal("0.0005")
    assert "declared short position" in meta["shorts"]


def test_resource_dirs_point_at_the_checkout() -> None:
    """In a checkout the resource folders are the repository's top-level ones."""
    root = expectations_dir().parent
    assert (root / "pyproject.toml").is_file()
    for name in ("sql", "templates", "examples"):
        assert resource_dir(name) == root / name
    with pytest.raises(ValueError):
        resource_dir("secrets")
