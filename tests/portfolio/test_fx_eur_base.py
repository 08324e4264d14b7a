"""A portfolio whose IPS base currency is EUR, holding USD securities (issue 14: FX conversion
was tested only with a USD base). Real custodian files through DuckDB, figures worked by hand.

Account E1 on 2026-09-30, IPS 40% us_equity / 60% eu_bonds, ±500 bp, rebalance to target:

- USQ (us_equity) 1,000 shares at USD 125.00 = USD 125,000.00; with USD→EUR 0.92 that is
  EUR 115,000.00 (EUR 115.00 a share);
- EUB (eu_bonds) 850 shares at EUR 100.00 = EUR 85,000.00.

Total EUR 200,000.00: us_equity 115,000 / 200,000 = 57.50% (drift +1,750 bp, above its 45%
upper edge), eu_bonds 42.50% (−1,750 bp, below 55%). Back to target: us_equity to EUR 80,000,
i.e. sell EUR 35,000 = 304.35 shares at EUR 115, and eu_bonds up by EUR 35,000 = 350 shares at
EUR 100. Whole shares, never overdrawn: 350 EUB cost EUR 35,000.00, which 304 USQ (EUR 34,960)
would not pay for, so 305 USQ are sold (EUR 35,075.00), leaving EUR 75 in cash. After the
trades: USQ 695 × 115 = 79,925 (39.96%), EUB 1,200 × 100 = 120,000 (60.00%).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from ballast import review
from ballast.ingest import inbox
from ballast.portfolio import policy_set
from ballast.warehouse import db
from ballast.workspace import Workspace

IPS = """id: eur-base
name: EUR base, USD holdings
base_currency: EUR
accounts: [{id: "E1", tax_status: tax_exempt}]
default_band: 500bp
rebalance_to: target
trade_classes: all
asset_classes:
  us_equity: {target: 40%}
  eu_bonds:  {target: 60%}
"""
SECURITIES = (
    "security_id,symbol,name,asset_class,identical_group\n"
    "USQ,USQ,US equity,us_equity,\nEUB,EUB,Euro bonds,eu_bonds,\n"
)
POSITIONS = (
    "as_of_date,account_id,security_id,quantity,price,market_value,currency\n"
    "2026-09-30,E1,USQ,1000,125.00,125000.00,USD\n"
    "2026-09-30,E1,EUB,850,100.00,85000.00,EUR\n"
)
USD_TO_EUR = "as_of_date,currency,quote_currency,rate\n2026-09-30,USD,EUR,0.92\n"
D = Decimal


def _review(ws: Workspace, files: dict[str, str]) -> review.Computed:
    ws.securities.write_text(SECURITIES, encoding="utf-8")
    (ws.ips / "eur-base.yaml").write_text(IPS, encoding="utf-8")
    for name, text in files.items():
        (ws.inbox / name).write_text(text, encoding="utf-8")
    with db.connect(ws.warehouse) as con:
        inbox.commit(con, ws, inbox.validate(inbox.stage_workspace(con, ws)))
        return review.review(con, policy_set.load_policies(ws), dt.date(2026, 9, 30))


def test_usd_holdings_valued_in_eur(empty_ws: Workspace) -> None:
    """USD 125,000 at 0.92 is EUR 115,000; with EUR 85,000 of bonds the total is EUR 200,000,
    57.50% / 42.50%, drifts ±1,750 bp, both classes breached."""
    c = _review(empty_ws, {"pos.csv": POSITIONS, "fx.csv": USD_TO_EUR})
    assert c.errors.is_empty()
    rows = {r["asset_class"]: r for r in c.allocation.iter_rows(named=True)}
    assert set(rows) == {"us_equity", "eu_bonds"}
    assert rows["us_equity"]["market_value"] == D("115000")
    assert rows["eu_bonds"]["market_value"] == D("85000")
    assert rows["us_equity"]["total_value"] == D("200000")
    assert rows["us_equity"]["weight"] == D("0.575") and rows["eu_bonds"]["weight"] == D("0.425")
    assert rows["us_equity"]["drift"] == D("1750") and rows["eu_bonds"]["drift"] == D("-1750")
    assert rows["us_equity"]["breached"] and rows["eu_bonds"]["breached"]


def test_trades_in_whole_shares_at_eur_prices(empty_ws: Workspace) -> None:
    """Sell 305 USQ at EUR 115.00 (EUR 35,075.00), buy 350 EUB at EUR 100.00 (EUR 35,000.00):
    the USD share's price is converted, the quantities are whole shares, the cash is enough."""
    c = _review(empty_ws, {"pos.csv": POSITIONS, "fx.csv": USD_TO_EUR})
    assert c.proposal is not None
    trades = {
        (t["security_id"], t["side"]): (t["quantity"], t["price"], t["amount"])
        for t in c.proposal.trades.iter_rows(named=True)
    }
    assert trades == {
        ("USQ", "sell"): (D("305"), D("115"), D("35075")),
        ("EUB", "buy"): (D("350"), D("100"), D("35000")),
    }
    after = {"us_equity": (1000 - 305) * D("115"), "eu_bonds": (850 + 350) * D("100")}
    assert after == {"us_equity": D("79925"), "eu_bonds": D("120000")}
    assert after["eu_bonds"] / D("200000") == D("0.6")


@pytest.mark.parametrize(
    "rates",
    [
        "as_of_date,currency,quote_currency,rate\n2026-09-30,USD,EUR,0.8\n",
        "as_of_date,currency,quote_currency,rate\n2026-09-30,EUR,USD,1.25\n",  # the inverse
    ],
    ids=["usd-eur", "eur-usd"],
)
def test_either_direction_of_the_rate(empty_ws: Workspace, rates: str) -> None:
    """USD→EUR 0.8 and EUR→USD 1.25 both value USD 125,000 at EUR 100,000."""
    c = _review(empty_ws, {"pos.csv": POSITIONS, "fx.csv": rates})
    values = dict(c.allocation.select("asset_class", "market_value").iter_rows())
    assert values == {"us_equity": D("100000"), "eu_bonds": D("85000")}


def test_missing_usd_rate_is_a_data_error(empty_ws: Workspace) -> None:
    """Without a USD rate the EUR portfolio is refused, naming the security and the currency."""
    c = _review(empty_ws, {"pos.csv": POSITIONS})
    messages = c.errors["message"].to_list()
    assert any("security USQ" in m and "is in USD" in m and "no FX rate" in m for m in messages)


VEHICLE_IPS = """id: eur-base
name: EUR base, a USD vehicle not yet held
base_currency: EUR
accounts: [{id: "E1", tax_status: tax_exempt}]
default_band: 500bp
rebalance_to: target
trade_classes: all
asset_classes:
  us_equity: {target: 40%, vehicle: USQ}
  eu_bonds:  {target: 60%}
"""
BONDS_ONLY = (
    "as_of_date,account_id,security_id,quantity,price,market_value,currency\n"
    "2026-09-30,E1,EUB,2000,100.00,200000.00,EUR\n"
)
USQ_PRICE = "as_of_date,security_id,price,currency\n2026-09-30,USQ,125.00,USD\n"


@pytest.mark.parametrize("engine", ["heuristic", "optimizer"])
def test_buying_a_usd_security_not_held_is_sized_at_its_eur_price(
    empty_ws: Workspace, engine: str
) -> None:
    """EUR 200,000 all in bonds; us_equity (40%) is to hold EUR 80,000 of USQ, which the
    portfolio does not hold. USQ's price is USD 125.00 in the prices file; at USD→EUR 0.92 a
    share costs EUR 115.00, so EUR 80,000 buys 695.65 → 695 whole shares (EUR 79,925.00),
    paid for by selling 800 EUB (EUR 80,000.00). Sized at the unconverted 125 it would be 640
    shares (EUR 73,600 at the true price: 36.8%, not 40%)."""
    ips = VEHICLE_IPS + f"trading: {{engine: {engine}}}\n"
    empty_ws.securities.write_text(SECURITIES, encoding="utf-8")
    (empty_ws.ips / "eur-base.yaml").write_text(ips, encoding="utf-8")
    for name, text in {"pos.csv": BONDS_ONLY, "fx.csv": USD_TO_EUR, "px.csv": USQ_PRICE}.items():
        (empty_ws.inbox / name).write_text(text, encoding="utf-8")
    with db.connect(empty_ws.warehouse) as con:
        inbox.commit(con, empty_ws, inbox.validate(inbox.stage_workspace(con, empty_ws)))
        c = review.review(con, policy_set.load_policies(empty_ws), dt.date(2026, 9, 30))
    assert c.errors.is_empty() and c.proposal is not None
    trades = {
        (t["security_id"], t["side"]): (t["quantity"], t["price"], t["amount"])
        for t in c.proposal.trades.iter_rows(named=True)
    }
    assert trades[("USQ", "buy")] == (D("695"), D("115"), D("79925"))
    assert trades[("EUB", "sell")][0] == D("800")
