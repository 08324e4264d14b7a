"""Interactive Brokers Flex XML adapter, on the real anonymised samples in fixtures/ibkr/."""

from __future__ import annotations

import gzip
from collections import defaultdict
from datetime import date
from decimal import Decimal

import polars as pl
import pytest

from ballast.errors import DataError
from ballast.ingest.adapters import Context, find
from ballast.ingest.adapters.ibkr_flex import ADAPTER, read_xml
from ballast.ingest.reader import ParsedFile
from tests.support.paths import FIXTURES

SAMPLES = FIXTURES / "ibkr"
NAMES = (
    "vtandchill_2025.xml",
    "corporate_action_2025.xml",
    "options_future_2025.xml",
    "eTax_report_anonymised_2025.xml.gz",
)


def sample(name: str) -> bytes:
    data = (SAMPLES / name).read_bytes()
    return gzip.decompress(data) if name.endswith(".gz") else data


def master(*names: str, drop: str | None = None) -> pl.DataFrame:
    """A security master for every instrument the samples mention (by conid)."""
    rows: dict[str, dict[str, str | None]] = {}
    for name in names:
        for st in read_xml(sample(name), name):
            for el in st.elements:
                a = el.attrs
                if not a.get("conid") or a.get("assetCategory") == "CASH" or a["symbol"] == drop:
                    continue
                rows[a.get("isin") or a["symbol"]] = {
                    "security_id": f"IB{a['conid']}",
                    "symbol": a["symbol"],
                    "isin": a.get("isin") or None,
                    "cusip": a.get("cusip") or None,
                    "asset_class": "x",
                }
    return pl.DataFrame(
        list(rows.values()), schema={k: pl.String for k in next(iter(rows.values()))}
    )


@pytest.fixture(scope="module")
def ctx() -> Context:
    return Context(master(*NAMES))


def parsed(name: str, ctx: Context) -> dict[str, pl.DataFrame]:
    out: list[ParsedFile] = ADAPTER.parse(sample(name), name, ctx)
    return {p.kind.name: p.frame for p in out}


@pytest.mark.parametrize("name", NAMES)
def test_every_sample_ingests(name: str, ctx: Context) -> None:
    assert ADAPTER.recognise(name, sample(name)[:65536])
    assert find(name, sample(name)[:65536]) is ADAPTER
    frames = parsed(name, ctx)
    assert "positions" in frames and "transactions" in frames
    for frame in frames.values():
        assert frame.columns[0] == "line" and frame["line"].dtype == pl.Int64
        required = frame.drop("short", strict=False)  # short: null on long holdings
        assert required.null_count().sum_horizontal().item() == 0


def test_lot_rows_add_up_to_summary_rows(ctx: Context) -> None:
    """The large statement: LOT quantities per (account, conid) equal the SUMMARY quantity."""
    summary: dict[tuple[str, str], Decimal] = {}
    lots: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for st in read_xml(sample(NAMES[3]), NAMES[3]):
        for el in st.elements:
            if el.tag != "OpenPosition":
                continue
            key = (el.attrs["accountId"], el.attrs["conid"])
            if el.attrs["levelOfDetail"] == "SUMMARY":
                summary[key] = Decimal(el.attrs["position"])
            else:
                lots[key] += Decimal(el.attrs["position"])
    assert len(summary) == 2 and sum(1 for _ in lots) == 2
    assert dict(lots) == summary
    # and the adapter's own frames agree, exactly, per (account, security)
    frames = parsed(NAMES[3], ctx)
    held = frames["positions"].filter(pl.col("security_id") != "CASH")
    lot_sums = frames["lots"].group_by("account_id", "security_id").agg(pl.col("quantity").sum())
    joined = held.join(lot_sums, on=["account_id", "security_id"], suffix="_lots")
    assert joined.height == held.height == 2
    assert (joined["quantity"] == joined["quantity_lots"]).all()
    assert frames["lots"].height == 72
    assert frames["lots"].select("account_id", "security_id", "lot_id").is_unique().all()
    assert frames["lots"]["acquired_date"].min() == date(2025, 12, 1)


def test_multi_currency_statement_reports_in_base_currency(ctx: Context) -> None:
    frames = parsed("vtandchill_2025.xml", ctx)
    positions, rates = frames["positions"], frames["fx_rates"]
    vt = positions.filter(pl.col("security_id") == "IB52197301").row(0, named=True)
    assert vt["currency"] == "USD" and vt["market_value"] == Decimal("28212")
    assert vt["as_of_date"] == date(2026, 1, 1)
    cash = positions.filter(pl.col("security_id") == "CASH").row(0, named=True)
    assert cash["currency"] == "CHF"  # the account's base currency
    rate = rates.filter(
        (pl.col("as_of_date") == vt["as_of_date"]) & (pl.col("currency") == "USD")
    ).row(0, named=True)
    assert rate["quote_currency"] == "CHF" and rate["rate"] == Decimal("0.79285")
    assert vt["market_value"] * rate["rate"] == Decimal("22367.88420")
    assert rates.select("as_of_date", "currency", "quote_currency").is_unique().all()


def test_base_currency_inferred_from_rate_one(ctx: Context) -> None:
    rates = parsed("options_future_2025.xml", ctx)["fx_rates"]
    assert set(rates["quote_currency"]) == {"CHF"} and set(rates["currency"]) == {"USD"}


def test_corporate_action_sample(ctx: Context) -> None:
    frames = parsed("corporate_action_2025.xml", ctx)
    txns = frames["transactions"]
    assert set(txns["account_id"]) == {"U1234567"}  # accountId="-" summary rows skipped
    ic = txns.filter(pl.col("trade_date") == date(2025, 8, 18)).sort("line")
    assert ic["type"].to_list() == ["SELL", "BUY"]  # the ISIN change: -24 old, +24 new
    assert ic["quantity"].to_list() == [Decimal(24), Decimal(24)]
    assert ic["security_id"].to_list() == ["IB665375414", "IB808825105"]
    assert frames["lots"]["acquired_date"].to_list() == [date(2025, 8, 7)]  # 20250807;104523
    assert "fx_rates" not in frames  # no AccountInformation, no currency at rate 1


def test_options_are_priced_per_contract(ctx: Context) -> None:
    positions = parsed("options_future_2025.xml", ctx)["positions"]
    gap = (positions["quantity"] * positions["price"] - positions["market_value"]).abs()
    assert (gap <= Decimal("0.01")).all()  # IBKR rounds positionValue to cents
    option = positions.filter(pl.col("security_id") == "IB838377060").row(0, named=True)
    assert option["price"] == Decimal("1018.34")  # markPrice 10.1834 x multiplier 100


def test_unmapped_option_names_it() -> None:
    symbol = "ASML  260130P00930000"
    ctx = Context(master("options_future_2025.xml", drop=symbol))
    with pytest.raises(DataError, match=rf"row 15, column symbol: security \(symbol {symbol}\)"):
        ADAPTER.parse(sample("options_future_2025.xml"), "of.xml", ctx)


def test_hostile_and_broken_xml(ctx: Context) -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
        b"<FlexQueryResponse><FlexStatements>&b;</FlexStatements></FlexQueryResponse>"
    )
    with pytest.raises(DataError, match="DTD or entities"):
        ADAPTER.parse(bomb, "bomb.xml", ctx)
    broken = sample("vtandchill_2025.xml")[:5000]
    with pytest.raises(DataError, match="not well-formed XML"):
        ADAPTER.parse(broken, "cut.xml", ctx)
    bad_date = sample("vtandchill_2025.xml").replace(
        b'reportDate="2026-01-01" position', b'reportDate="2026-13-01" position'
    )
    with pytest.raises(DataError, match=r"row 11, column reportDate: '2026-13-01' is not a date"):
        ADAPTER.parse(bad_date, "d.xml", ctx)


@pytest.mark.parametrize("name", NAMES)
def test_every_sample_passes_validation(name: str, ctx: Context) -> None:
    """Every sample's parts pass their GX suites, declared shorts included: they would load."""
    from ballast.ingest.validation import validate_frame

    for part in ADAPTER.parse(sample(name), name, ctx):
        outcome = validate_frame(part.kind.name, part.frame, name)
        assert outcome.success, [f.message for f in outcome.failures]


def test_short_option_is_declared(ctx: Context) -> None:
    """The options sample's short futures option is a declared short, not a refused row."""
    positions = parsed(NAMES[2], ctx)["positions"]
    shorts = positions.filter(pl.col("quantity") < 0)
    assert shorts.height >= 1 and (shorts["short"] == "true").all()
