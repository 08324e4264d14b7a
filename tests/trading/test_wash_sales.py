"""Wash sales across the household (§ 1091, IRS Pub. 550, Rev. Rul. 2008-5), with hand figures."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import polars as pl
import pytest

from ballast.portfolio import policy_frames as pf
from ballast.trading import lots
from ballast.trading import wash_sales as ws
from tests.support.frames import policy

SOLD = dt.date(2026, 9, 30)
BOUGHT = dt.date(2026, 1, 5)


def _sale(group: str | None = None) -> pl.DataFrame:
    """Pub. 550: 100 shares bought for $1,000, sold for $750: a $250 loss."""
    return pl.DataFrame(
        [("s1", "h", "T", "X", group, SOLD, BOUGHT, D(100), D(250))],
        orient="row",
        schema={
            "sale_id": pl.String,
            "portfolio_id": pl.String,
            "account_id": pl.String,
            "security_id": pl.String,
            "identical_group": pl.String,
            "sale_date": pl.Date,
            "acquired_date": pl.Date,
            "quantity": pl.Decimal(38, 6),
            "loss": pl.Decimal(38, 12),
        },
    )


def _bought(rows: list[tuple]) -> pl.DataFrame:
    """Replacements: (id, account, security, group, date, quantity, cost, tax_status)."""
    return pl.DataFrame(
        [("h", *r[:5], D(r[5]), D(r[6]), r[7]) for r in rows],
        orient="row",
        schema={
            "portfolio_id": pl.String,
            "replacement_id": pl.String,
            "account_id": pl.String,
            "security_id": pl.String,
            "identical_group": pl.String,
            "trade_date": pl.Date,
            "quantity": pl.Decimal(38, 6),
            "cost": pl.Decimal(38, 4),
            "tax_status": pl.String,
        },
    )


def test_publication_550_example() -> None:
    """Rebought 100 for $800 within 30 days: $250 disallowed, new basis $1,050."""
    later = SOLD + dt.timedelta(days=10)
    out = ws.disallowed(_sale(), _bought([("r1", "T", "X", None, later, 100, 800, "taxable")]))
    row = out.row(0, named=True)
    assert (row["disallowed"], row["basis_adjustment"], row["adjusted_basis"]) == (250, 250, 1050)
    assert row["adjusted_acquired_date"] == later - (SOLD - BOUGHT)
    assert row["lost_for_good"] == 0


def test_partial_repurchase_disallows_pro_rata() -> None:
    """75 of 100 shares rebought for $600: 75% of the loss ($187.50) moves to their basis."""
    out = ws.disallowed(_sale(), _bought([("r1", "T", "X", None, SOLD, 75, 600, "taxable")]))
    row = out.row(0, named=True)
    assert row["matched"] == 75 and row["disallowed"] == D("187.5")
    assert row["adjusted_basis"] == D("787.5")


def test_ira_replacement_loses_the_loss_for_good() -> None:
    """Rebought in an IRA (Rev. Rul. 2008-5): $250 disallowed, no basis adjustment."""
    out = ws.disallowed(
        _sale(), _bought([("r1", "IRA", "X", None, SOLD, 100, 800, "tax_deferred")])
    )
    row = out.row(0, named=True)
    assert (row["disallowed"], row["basis_adjustment"], row["lost_for_good"]) == (250, 0, 250)
    assert row["adjusted_basis"] == 800 and row["adjusted_acquired_date"] is None


@pytest.mark.parametrize(("days", "washed"), [(-31, False), (-30, True), (30, True), (31, False)])
def test_sixty_one_day_window(days: int, washed: bool) -> None:
    """A purchase 30 days before or after washes the loss; 31 days does not."""
    when = SOLD + dt.timedelta(days=days)
    out = ws.disallowed(_sale(), _bought([("r1", "T", "X", None, when, 100, 800, "taxable")]))
    assert out.height == (1 if washed else 0)


def test_matching_in_date_order_uses_each_share_once() -> None:
    """60 then 60 shares rebought: the first 60 and 40 of the second cover the 100 sold."""
    rows = [
        ("r2", "T", "X", None, SOLD + dt.timedelta(days=5), 60, 600, "taxable"),
        ("r1", "IRA", "X", None, SOLD - dt.timedelta(days=5), 60, 600, "tax_exempt"),
    ]
    out = ws.disallowed(_sale(), _bought(rows)).sort("replacement_id")
    assert out["matched"].to_list() == [60, 40]
    assert out["lost_for_good"].to_list() == [150, 0]
    assert out["basis_adjustment"].to_list() == [0, 100]


def test_identical_group_counts_other_security_does_not() -> None:
    """A fund of the same identical group washes; an unrelated fund does not."""
    rows = [
        ("r1", "T", "Y", "sp500", SOLD, 40, 400, "taxable"),
        ("r2", "T", "Z", None, SOLD, 100, 1000, "taxable"),
    ]
    out = ws.disallowed(_sale("sp500"), _bought(rows))
    assert out["replacement_id"].to_list() == ["r1"] and out["disallowed"].to_list() == [100]


# --- the proposal check -------------------------------------------------------------------

AS_OF = SOLD
TRADE_SCHEMA = {
    "portfolio_id": pl.String,
    "account_id": pl.String,
    "security_id": pl.String,
    "asset_class": pl.String,
    "side": pl.String,
    "quantity": pl.Decimal(38, 6),
    "price": pl.Decimal(38, 6),
    "amount": pl.Decimal(38, 12),
    "estimated_cost": pl.Decimal(38, 12),
    "reason": pl.String,
}
SECURITIES = pl.DataFrame(
    [
        ("X", "equity", "sp500"),
        ("Y", "equity", "sp500"),
        ("Z", "equity", None),
        ("B", "bonds", None),
    ],
    orient="row",
    schema={"security_id": pl.String, "asset_class": pl.String, "identical_group": pl.String},
)
CANDIDATES = pl.DataFrame(
    [("X", "equity", D(8)), ("Y", "equity", D(10)), ("Z", "equity", D(30)), ("B", "bonds", D(50))],
    orient="row",
    schema={"security_id": pl.String, "asset_class": pl.String, "price": pl.Decimal(18, 6)},
).with_columns(pl.lit("USD").alias("base_currency"))


def _policy(mode: str) -> object:
    return policy(
        "h",
        accounts=[
            {"id": "T", "tax_status": "taxable"},
            {"id": "IRA", "tax_status": "tax_deferred"},
        ],
        tax={"wash_sale": mode},
    )


def _trades(rows: list[tuple]) -> pl.DataFrame:
    """(account, security, class, side, quantity, price)."""
    return pl.DataFrame(
        [
            ("h", a, s, c, side, D(q), D(p), D(q) * D(p), D(0), f"{side} {s}")
            for a, s, c, side, q, p in rows
        ],
        orient="row",
        schema=TRADE_SCHEMA,
    )


def _lots() -> pl.DataFrame:
    """Account T holds 100 X bought for $1,000 on BOUGHT."""
    return pl.DataFrame(
        [("T", "X", "L1", BOUGHT, D(100), D(1000))],
        orient="row",
        schema=lots.LOT_SCHEMA,
    )


def _transactions(rows: list[tuple]) -> pl.DataFrame:
    """(account, security, type, days before the review, quantity, amount)."""
    return pl.DataFrame(
        [
            (f"t{i}", AS_OF - dt.timedelta(days=d), a, s, kind, D(q), D(amt))
            for i, (a, s, kind, d, q, amt) in enumerate(rows)
        ],
        orient="row",
        schema={
            "transaction_id": pl.String,
            "trade_date": pl.Date,
            "account_id": pl.String,
            "security_id": pl.String,
            "type": pl.String,
            "quantity": pl.Decimal(18, 6),
            "amount": pl.Decimal(18, 4),
        },
    )


def _check(
    mode: str, trades: pl.DataFrame, txns: list[tuple] = ()
) -> tuple[pl.DataFrame, pl.DataFrame]:
    p = _policy(mode)
    check = _full_check(p, trades, _lots(), txns)
    return check.trades, check.findings


def _full_check(p: object, trades: pl.DataFrame, lot_frame: pl.DataFrame, txns) -> ws.WashCheck:
    settings, accounts = pf.settings_frame([p]), pf.accounts_frame([p])
    relieved = ws.relieved_lots(trades, lot_frame, settings, accounts, AS_OF)
    return ws.check_proposal(
        trades,
        relieved,
        _transactions(list(txns)),
        accounts,
        SECURITIES,
        AS_OF,
        ws.wash_settings([p]),
        candidates=CANDIDATES,
        lot_frame=lot_frame,
        settings=settings,
        restrictions=pf.restrictions_frame([p]),
    )


SELL_X = ("T", "X", "equity", "sell", 100, "7.5")  # the $250 loss of Pub. 550
BUY_B = ("T", "B", "bonds", "buy", 10, 50)


@pytest.mark.parametrize(("days", "washed"), [(31, False), (30, True)])
def test_past_purchase_window(days: int, washed: bool) -> None:
    """A household purchase 30 days before the review washes the loss; 31 days before does not."""
    txns = [("T", "X", "BUY", days, 100, -800)]
    trades, findings = _check("warn", _trades([SELL_X, BUY_B]), txns)
    assert trades["wash_sale_disallowed"].to_list() == ([250, 0] if washed else [0, 0])
    assert findings.height == (1 if washed else 0)


def test_reinvestment_in_ira_warns_and_is_lost_for_good() -> None:
    """A dividend reinvestment of 5 X in the IRA 10 days ago disallows 5% ($12.50), lost."""
    txns = [("IRA", "X", "REINVEST", 10, 5, "-40")]
    trades, findings = _check("warn", _trades([SELL_X]), txns)
    assert trades["wash_sale_disallowed"].to_list() == [D("12.5")]
    message = findings["message"][0]
    assert "5 X in account IRA on 2026-09-20 (reinvest)" in message
    assert "$12.50 of the loss is disallowed, $12.50 of it lost for good" in message


def test_identical_group_purchase_warns() -> None:
    """Y is in X's identical group: buying 100 Y last week washes the whole $250 loss."""
    txns = [("IRA", "Y", "BUY", 7, 100, -1000)]
    trades, findings = _check("warn", _trades([SELL_X]), txns)
    assert trades["wash_sale_disallowed"].to_list() == [250]
    assert "100 Y in account IRA" in findings["message"][0]


def test_warn_flags_the_proposals_own_buy() -> None:
    """warn keeps a proposed buy of Y in the IRA and flags the sale of X."""
    trades = _trades([SELL_X, ("IRA", "Y", "equity", "buy", 50, 10)])
    out, findings = _check("warn", trades)
    assert out.drop("wash_sale_disallowed").equals(trades)
    assert out["wash_sale_disallowed"].to_list() == [125, 0]
    assert (
        "(proposed buy)" in findings["message"][0] and "wash_sale: warn" in findings["message"][0]
    )


def test_block_swaps_conflicting_buy_to_substitute() -> None:
    """block: the IRA's buy of Y (X's group) becomes Z for the same money: 500 / 30 → 16."""
    trades = _trades([SELL_X, ("IRA", "Y", "equity", "buy", 50, 10)])
    out, findings = _check("block", trades)
    buy = out.row(1, named=True)
    assert (buy["security_id"], buy["quantity"], buy["price"]) == ("Z", 16, 30)
    assert buy["amount"] == 480 and "Z bought instead of Y" in buy["reason"]
    assert out["wash_sale_disallowed"].to_list() == [0, 0]
    assert findings.height == 1 and "replaced by Z" in findings["message"][0]


def test_block_drops_sale_washed_by_past_purchase() -> None:
    """block: a purchase of X 20 days ago cannot be undone, so the sale goes and its buy shrinks."""
    trades = _trades([SELL_X, ("T", "B", "bonds", "buy", 14, 50)])
    out, findings = _check("block", trades, [("T", "X", "BUY", 20, 10, -90)])
    assert out.height == 0  # $750 of sale paid for $700 of B: nothing is left to pay for it
    messages = findings["message"].to_list()
    assert "could not be brought back without a wash sale" in messages[0]
    assert "cut to 0 shares" in messages[1]


def test_block_keeps_sales_that_do_not_wash() -> None:
    """block changes nothing when no purchase of the group falls in the window."""
    trades = _trades([SELL_X, BUY_B])
    out, findings = _check("block", trades, [("T", "X", "BUY", 45, 10, -90)])
    assert out.drop("wash_sale_disallowed").equals(trades) and findings.is_empty()
