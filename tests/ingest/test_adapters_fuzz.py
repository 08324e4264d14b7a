"""Adapters raise nothing but DataError for bad input: random bytes and mutated fixtures."""

from __future__ import annotations

import contextlib
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ballast.errors import DataError
from ballast.ingest.adapters import Context
from ballast.ingest.adapters.fidelity import ADAPTER as FIDELITY
from ballast.ingest.adapters.ibkr_flex import ADAPTER as IBKR
from ballast.ingest.adapters.schwab import ADAPTER as SCHWAB
from tests.support.paths import FIXTURES

FIXTURES = FIXTURES
MASTER = pl.read_csv(FIXTURES / "adapters" / "securities.csv", infer_schema=False)
IB_MASTER = pl.DataFrame(  # the corporate_action sample's two instruments
    {
        "security_id": ["ZT0", "VNOM"],
        "symbol": ["ZT0", "1XJ"],
        "name": ["old", "new"],
        "asset_class": ["x", "x"],
        "identical_group": [None, None],
        "isin": ["US9279591062", "US64361Q1013"],
        "cusip": [None, None],
    },
    schema={c: pl.String for c in MASTER.columns},
)
CTX = Context(pl.concat([MASTER, IB_MASTER]))
CASES = [
    (SCHWAB, FIXTURES / "adapters" / "schwab_Balances_417.csv"),
    (SCHWAB, FIXTURES / "adapters" / "schwab_Transactions_417.csv"),
    (FIDELITY, FIXTURES / "adapters" / "fidelity_Statement09302026.csv"),
    (FIDELITY, FIXTURES / "adapters" / "fidelity_History_for_Account_Z70012345.csv"),
    (IBKR, FIXTURES / "ibkr" / "corporate_action_2025.xml"),
]
SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TOKENS = [
    b"",
    b",",
    b'"',
    b"\n",
    b"$",
    b"(",
    b"--",
    b"not applicable",
    b"-",
    b"0",
    b"<",
    b"&",
    b";",
]


def _only_data_errors(adapter, data: bytes, name: str) -> None:
    with contextlib.suppress(DataError):
        adapter.parse(data, name, CTX)


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    """The fixture with a few slices replaced by random or troublesome bytes."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        start = draw(st.integers(0, len(out)))
        end = draw(st.integers(start, min(len(out), start + 12)))
        repl = draw(st.one_of(st.sampled_from(TOKENS), st.binary(max_size=6)))
        out[start:end] = repl
    return bytes(out)


@pytest.mark.parametrize(("adapter", "path"), CASES, ids=lambda v: getattr(v, "name", ""))
@SETTINGS
@given(data=st.data())
def test_mutated_fixture(adapter, path: Path, data: st.DataObject) -> None:
    raw = path.read_bytes()
    _only_data_errors(adapter, data.draw(mutated(raw)), "Statement09302026_" + path.name)


@pytest.mark.parametrize("adapter", [SCHWAB, FIDELITY, IBKR], ids=lambda a: a.name)
@SETTINGS
@given(blob=st.binary(max_size=400))
def test_random_bytes(adapter, blob: bytes) -> None:
    _only_data_errors(adapter, blob, "random.csv")
