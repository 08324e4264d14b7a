"""Positions in other currencies are valued in the IPS base currency with custodian FX rates."""

from __future__ import annotations

import datetime as dt

from ballast import review
from ballast.ingest import inbox
from ballast.portfolio import policy_set
from ballast.warehouse import db
from ballast.workspace import Workspace

IPS = """id: fx-test
name: FX test
base_currency: USD
accounts: [{id: "A1", tax_status: tax_exempt}]
default_band: 500bp
asset_classes:
  us_equity: {target: 50%}
  ch_equity: {target: 50%}
"""
SECURITIES = (
    "security_id,symbol,name,asset_class,identical_group\n"
    "USQ,USQ,US equity,us_equity,\nCHQ,CHQ,Swiss equity,ch_equity,\n"
)
POSITIONS = (
    "as_of_date,account_id,security_id,quantity,price,market_value,currency\n"
    "2026-09-30,A1,USQ,1000,100.00,100000.00,USD\n"
    "2026-09-30,A1,CHQ,1000,80.00,80000.00,CHF\n"
    "2026-09-30,A1,CASH,5000,1,5000.00,CHF\n"
)
RATES = "as_of_date,currency,quote_currency,rate\n2026-09-30,CHF,USD,1.25\n"


def _review(ws: Workspace, files: dict[str, str]) -> review.Computed:
    ws.securities.write_text(SECURITIES, encoding="utf-8")
    (ws.ips / "fx-test.yaml").write_text(IPS, encoding="utf-8")
    for name, text in files.items():
        (ws.inbox / name).write_text(text, encoding="utf-8")
    with db.connect(ws.warehouse) as con:
        inbox.commit(con, ws, inbox.validate(inbox.stage_workspace(con, ws)))
        return review.review(con, policy_set.load_policies(ws), dt.date(2026, 9, 30))


def test_foreign_positions_converted(empty_ws: Workspace) -> None:
    """CHF 80,000 at 1.25 is USD 100,000; CHF 5,000 cash is USD 6,250; total USD 206,250."""
    c = _review(empty_ws, {"pos.csv": POSITIONS, "fx.csv": RATES})
    assert c.errors.is_empty()
    values = dict(c.allocation.select("asset_class", "market_value").iter_rows())
    assert values == {"us_equity": 100000, "ch_equity": 100000, "cash": 6250}
    assert c.allocation["total_value"][0] == 206250


def test_inverse_rate_is_used(empty_ws: Workspace) -> None:
    """A USD→CHF rate of 0.8 values CHF 80,000 at USD 100,000 too."""
    rates = "as_of_date,currency,quote_currency,rate\n2026-09-30,USD,CHF,0.8\n"
    c = _review(empty_ws, {"pos.csv": POSITIONS, "fx.csv": rates})
    values = dict(c.allocation.select("asset_class", "market_value").iter_rows())
    assert values["ch_equity"] == 100000


def test_missing_rate_is_a_data_error(empty_ws: Workspace) -> None:
    """Without a CHF rate the portfolio is refused, naming the security and the currency."""
    c = _review(empty_ws, {"pos.csv": POSITIONS})
    messages = c.errors["message"].to_list()
    assert any("security CHQ" in m and "is in CHF" in m and "no FX rate" in m for m in messages)
