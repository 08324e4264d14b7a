"""Schwab and Fidelity CSV adapters: layouts, cleaning rules and equivalence with canonical CSV."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import polars as pl
import pytest

from ballast.errors import DataError
from ballast.ingest.adapters import Context, find
from ballast.ingest.adapters.csv_profile import numbers
from ballast.ingest.adapters.fidelity import ADAPTER as FIDELITY
from ballast.ingest.adapters.schwab import ADAPTER as SCHWAB
from ballast.ingest.reader import parse_bytes
from ballast.kinds import ColType
from tests.support.paths import FIXTURES

FIXTURES = FIXTURES / "adapters"


@pytest.fixture(scope="module")
def ctx() -> Context:
    return Context(pl.read_csv(FIXTURES / "securities.csv", infer_schema=False))


def _read(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def _canonical(name: str) -> pl.DataFrame:
    return parse_bytes(_read(name), name).frame.drop("line")


def _only(adapter, name: str, ctx: Context, kind: str) -> pl.DataFrame:
    parsed = adapter.parse(_read(name), name, ctx)
    assert [p.kind.name for p in parsed] == [kind]
    assert parsed[0].frame.columns[0] == "line"
    return parsed[0].frame


@pytest.mark.parametrize(
    ("adapter", "export", "canonical"),
    [
        (SCHWAB, "schwab_Balances_417.csv", "schwab_positions_canonical.csv"),
        (FIDELITY, "fidelity_Statement09302026.csv", "fidelity_positions_canonical.csv"),
    ],
)
def test_positions_equal_the_canonical_file(adapter, export, canonical, ctx: Context) -> None:
    got = _only(adapter, export, ctx, "positions").drop("line")
    want = _canonical(canonical)
    key = ["account_id", "security_id"]
    assert got.schema == want.schema
    assert got.sort(key).equals(want.sort(key))


def test_recognise_and_registry() -> None:
    for name, adapter in [
        ("schwab_Balances_417.csv", "schwab"),
        ("schwab_Transactions_417.csv", "schwab"),
        ("fidelity_Statement09302026.csv", "fidelity"),
        ("fidelity_History_for_Account_Z70012345.csv", "fidelity"),
    ]:
        found = find(name, _read(name)[:65536])
        assert found is not None and found.name == adapter, name
    assert find("x.csv", _read("schwab_positions_canonical.csv")) is None


def test_schwab_transactions(ctx: Context) -> None:
    frame = _only(SCHWAB, "schwab_Transactions_417.csv", ctx, "transactions")
    assert frame.height == 9  # the "Transactions Total" row is dropped
    assert frame["type"].to_list() == [
        "BUY",
        "SELL",
        "INTEREST",
        "DIVIDEND",
        "REINVEST",
        "DIVIDEND",
        "CONTRIBUTION",
        "WITHDRAWAL",
        "FEE",
    ]
    interest = frame.filter(pl.col("type") == "INTEREST").row(0, named=True)
    assert interest["trade_date"] == date(2026, 9, 22)  # "09/22/2026 as of 09/20/2026"
    assert interest["security_id"] == "CASH"
    reinvest = frame.filter(pl.col("type") == "REINVEST").row(0, named=True)
    assert reinvest["amount"] == Decimal("-61.2") and reinvest["quantity"] == Decimal("1.53")
    sell = frame.filter(pl.col("type") == "SELL").row(0, named=True)
    assert sell["quantity"] == Decimal(1000) and sell["amount"] == Decimal("98099.98")
    assert frame["transaction_id"].n_unique() == frame.height
    assert set(frame["account_id"]) == {"Growth Trust ...417"}


def test_fidelity_history(ctx: Context) -> None:
    name = "fidelity_History_for_Account_Z70012345.csv"
    frame = _only(FIDELITY, name, ctx, "transactions")
    assert frame.height == 8  # disclaimers and the "Date downloaded" footer are not rows
    assert frame["type"].to_list() == [
        "BUY",
        "BUY",
        "SELL",
        "DIVIDEND",
        "DIVIDEND",
        "REINVEST",
        "INTEREST",
        "WITHDRAWAL",
    ]
    sell = frame.filter(pl.col("type") == "SELL").row(0, named=True)
    assert sell["security_id"] == "AGGB"  # matched by CUSIP
    assert sell["quantity"] == Decimal(200)
    # two identical buys get distinct, content-derived ids: stable across re-exports
    ids = frame["transaction_id"].to_list()
    assert len(set(ids)) == len(ids)
    again = FIDELITY.parse(_read(name), name, ctx)[0].frame["transaction_id"].to_list()
    assert again == ids


def test_unknown_symbol_is_an_error_naming_it(ctx: Context) -> None:
    data = _read("schwab_Balances_417.csv").replace(b'"EMKT"', b'"ZZZQ"')
    with pytest.raises(
        DataError, match=r"row 5, column Symbol: .*symbol ZZZQ.*not in the security"
    ):
        SCHWAB.parse(data, "b.csv", ctx)


def test_unknown_action_is_an_error(ctx: Context) -> None:
    data = _read("schwab_Transactions_417.csv").replace(b'"Service Fee"', b'"Mystery"')
    with pytest.raises(DataError, match=r"row 11, column Action: action 'Mystery'"):
        SCHWAB.parse(data, "t.csv", ctx)


def test_bad_number_names_row_and_column(ctx: Context) -> None:
    data = _read("fidelity_Statement09302026.csv").replace(b"250.5000", b"25O.5")
    with pytest.raises(DataError, match=r"row 13, column Quantity: '25O.5' is not a number"):
        FIDELITY.parse(data, "Statement09302026.csv", ctx)


def test_statement_date_comes_from_the_name(ctx: Context) -> None:
    with pytest.raises(DataError, match="cannot tell the as-of date"):
        FIDELITY.parse(_read("fidelity_Statement09302026.csv"), "positions.csv", ctx)


def test_number_cleaning() -> None:
    raw = ["$1,234.50", "(1.23)", "-$1.84", "+5", "0.", "$-2"]
    frame = pl.DataFrame({"line": range(2, 2 + len(raw)), "v": raw})
    got = frame.select(numbers(frame, "v", ColType.MONEY, "V", "f.csv").alias("v"))["v"].to_list()
    want = ["1234.5", "-1.23", "-1.84", "5", "0", "-2"]
    assert got == [Decimal(w) for w in want]
