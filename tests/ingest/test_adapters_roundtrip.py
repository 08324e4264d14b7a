"""Round trips through each custodian adapter (hypothesis).

Generated holdings and transactions are written in the custodian's layout (``custodian_writers``)
and, separately, as ballast's canonical files; both are ingested through the inbox into real
DuckDB workspaces, and must leave the same rows, decimal for decimal. Row order does not matter:
a shuffled export leaves the same state, transaction ids included.
"""

from __future__ import annotations

import random
import tempfile
from dataclasses import replace
from datetime import date, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from itertools import pairwise
from pathlib import Path

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ballast import workspace
from ballast.ingest import inbox
from ballast.warehouse import db
from tests.support import custodian_writers as w
from tests.support.custodian_writers import Holding, Security, Txn
from tests.support.flex_writer import FlexLot, FlexPosition, FlexStatement, flex_canonical, flex_xml

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TABLES = ("positions", "lots", "transactions", "fx_rates")
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
ALNUM = LETTERS + "0123456789"
NAMES = [  # real-world words that action rules must not trip over
    "GLOBAL EQUITY INDEX ETF",
    "AGGREGATE BOND FUND",
    "COFFEE HOLDING CO",
    "DIVIDEND APPRECIATION ETF",
    "TAX EXEMPT BOND FD",
    "INTEREST RATE HEDGE ETF",
    "PIMCO INCOME FUND, INSTL",
    "JOHNSON & JOHNSON",
]
DATES = st.dates(date(2001, 1, 1), date(2030, 12, 31))

# --- ingest ------------------------------------------------------------------------------------


def ingest(
    files: dict[str, bytes], master: list[Security], validate: bool = True
) -> dict[str, pl.DataFrame]:
    """Ingest ``files`` through the inbox into a fresh workspace; its canonical tables.

    ``validate=False`` skips the GX stage (a third of the cost) for the sides that hold the same
    data as a validated layout: the canonical files and the shuffled export.
    """
    with tempfile.TemporaryDirectory() as tmp:
        ws = workspace.init(Path(tmp) / "ws")
        ws.securities.write_text(w.securities_csv(master), encoding="utf-8")
        for name, data in files.items():
            (ws.inbox / name).write_bytes(data)
        with db.connect(ws.warehouse) as con:
            staged = inbox.stage_workspace(con, ws)
            report = inbox.commit(con, ws, inbox.validate(staged) if validate else staged)
            assert report.quarantined == [], report.quarantined[0]["reason"]
            assert {e["file"] for e in report.loaded} == {"securities.csv", *files}
            state = {}
            for table in TABLES:
                frame = con.sql(f"select * exclude (file_id, line) from {table}").pl()
                state[table] = frame.sort(frame.columns)
        state["formats"] = pl.DataFrame({"format": sorted({e["kind"] for e in report.loaded})})
        return state


def assert_same(got: dict[str, pl.DataFrame], want: dict[str, pl.DataFrame], ids: bool) -> None:
    """Same rows in every canonical table (transaction ids only when the layout has them)."""
    for table in TABLES:
        a, b = got[table], want[table]
        if not ids and table == "transactions":
            a, b = (f.drop("transaction_id").sort(f.columns[1:]) for f in (a, b))
        only_a = a.join(b, on=a.columns, how="anti", nulls_equal=True)
        only_b = b.join(a, on=a.columns, how="anti", nulls_equal=True)
        assert a.equals(b), (
            f"{table}: only in the layout {only_a.rows()}, only in canonical {only_b.rows()}"
        )


def layout_ids_ok(state: dict[str, pl.DataFrame], prefix: str) -> None:
    ids = state["transactions"]["transaction_id"]
    assert ids.n_unique() == ids.len() and ids.str.starts_with(prefix).all()


# --- values ------------------------------------------------------------------------------------


def decimals(low: str, high: str, places: int) -> st.SearchStrategy[Decimal]:
    """Exact decimals in [low, high] with at most ``places`` decimals, written either way
    (``5.00`` or ``5``)."""
    unit = Decimal(1).scaleb(-places)
    lo = int((Decimal(low) / unit).to_integral_value(ROUND_CEILING))
    hi = int((Decimal(high) / unit).to_integral_value(ROUND_FLOOR))
    value = st.integers(lo, hi).map(lambda n: Decimal(n).scaleb(-places))
    return st.tuples(value, st.booleans()).map(lambda v: v[0].normalize() if v[1] else v[0])


def signed(magnitude: st.SearchStrategy[Decimal], sign: int) -> st.SearchStrategy[Decimal]:
    """``sign`` 1 or -1 fixes the sign; 0 lets hypothesis choose."""
    if sign:
        return magnitude.map(lambda m: m * sign)
    return st.tuples(magnitude, st.booleans()).map(lambda v: v[0] if v[1] else -v[0])


@st.composite
def masters(draw: st.DrawFn) -> list[Security]:
    """A security master: unique symbols, and unique ISINs and CUSIPs where they exist."""
    n = draw(st.integers(1, 5))
    letters = st.text(LETTERS, min_size=1, max_size=5).filter(lambda s: s != "CASH")
    symbols = draw(st.lists(letters, min_size=n, max_size=n, unique=True))
    codes = draw(st.lists(st.text(ALNUM, min_size=9, max_size=9), min_size=n, max_size=n))
    out = []
    for i, symbol in enumerate(symbols):
        isin = f"US{codes[i]}{i}" if draw(st.booleans()) else None
        cusip = f"{codes[i][:7]}{i}{i}" if draw(st.booleans()) else None
        out.append(Security(f"SEC-{i}", symbol, draw(st.sampled_from(NAMES)), isin, cusip))
    return out


def pick(master: list[Security], min_size: int = 0) -> st.SearchStrategy[list[Security]]:
    """Distinct securities of the master."""
    return st.lists(
        st.sampled_from(master),
        min_size=min_size,
        max_size=len(master),
        unique_by=lambda s: s.symbol,
    )


@st.composite
def retail_holding(draw: st.DrawFn, account: str, security: Security, derive: bool) -> Holding:
    """A holding with cents market value; Schwab's price is derived (market value / quantity)."""
    quantity = draw(decimals("0.000001", "9999999", 6))
    if derive:
        low = max(Decimal("0.01"), (quantity / 100).quantize(Decimal("0.01"), ROUND_CEILING))
        value = draw(decimals(str(low), str(min(Decimal("1e10"), quantity * 10**5)), 2))
        price = w.q(value / quantity, 6)
    else:
        price = draw(decimals("0.01", "99999", 6))
        value = w.q(quantity * price, 2)
    section = draw(st.sampled_from(["Stocks", "ETFs", "Bonds", "Mutual Funds", "Fixed Income"]))
    return Holding(account, security, quantity, price, value, section)


def txn_from(draw: st.DrawFn, row: tuple, account: str, master: list[Security], day: date) -> Txn:
    """One transaction from an action table row (action, type, security?, quantity sign,
    amount sign; None: the cell is empty)."""
    action, kind, with_security, qty_sign, amount_sign = row
    security = draw(st.sampled_from(master)) if with_security else None
    quantity = None
    if qty_sign is not None:
        quantity = draw(signed(decimals("0.0001", "999999", 6), qty_sign))
    amount = None
    if amount_sign is not None:
        amount = draw(signed(decimals("0.01", "99999999", 2), amount_sign))
    if kind == "FLOW":
        kind = "CONTRIBUTION" if amount and amount > 0 else "WITHDRAWAL"
    if security is not None:
        action = action.format(name=security.name, sym=security.symbol)
    price = draw(decimals("0.01", "9999", 4)) if quantity is not None else None
    return Txn(account, day, action, kind, security, quantity, amount, price=price)


# --- Schwab ------------------------------------------------------------------------------------

SCHWAB_ACTIONS = [
    ("Buy", "BUY", True, 1, -1),
    ("Sell", "SELL", True, 1, 1),
    ("Reinvest Shares", "REINVEST", True, 1, -1),
    ("Reinvest Dividend", "DIVIDEND", True, None, 1),
    ("Qualified Dividend", "DIVIDEND", True, None, 1),
    ("Non-Qualified Div", "DIVIDEND", True, None, 1),
    ("Qual Div Reinvest", "DIVIDEND", True, None, 1),
    ("Pr Yr Cash Div", "DIVIDEND", True, None, 1),
    ("Cash In Lieu", "DIVIDEND", True, None, 1),
    ("Long Term Cap Gain", "DIVIDEND", True, None, 1),
    ("Long Term Cap Gain Reinvest", "DIVIDEND", True, None, 1),
    ("Short Term Cap Gain", "DIVIDEND", True, None, 1),
    ("Foreign Tax Paid", "DIVIDEND", True, None, -1),
    ("NRA Tax Adj", "DIVIDEND", True, None, 0),
    ("NRA Withholding", "DIVIDEND", True, None, -1),
    ("Bank Interest", "INTEREST", False, None, 1),
    ("Credit Interest", "INTEREST", False, None, 1),
    ("Bond Interest", "INTEREST", True, None, 1),
    ("Margin Interest", "INTEREST", False, None, -1),
    ("Service Fee", "FEE", False, None, -1),
    ("ADR Mgmt Fee", "FEE", True, None, -1),
    ("MoneyLink Deposit", "CONTRIBUTION", False, None, 1),
    ("MoneyLink Withdrawal", "WITHDRAWAL", False, None, -1),
    ("MoneyLink Transfer", "FLOW", False, None, 0),
    ("Journal", "FLOW", False, None, 0),
    ("Wire Funds", "FLOW", False, None, 0),
    ("Wire Funds Received", "CONTRIBUTION", False, None, 1),
    ("Wire Sent", "WITHDRAWAL", False, None, -1),
    ("Funds Received", "CONTRIBUTION", False, None, 1),
    ("Stock Split", "BUY", True, 1, None),  # shares only: no amount
    ("Spin-off", "BUY", True, 1, None),
]
SCHWAB_ACCOUNTS = st.builds(
    lambda name, n: f"{name} ...{n:03d}",
    st.sampled_from(["Growth Trust", "Individual", "Roth Contributory IRA", "General Investing"]),
    st.integers(0, 999),
)


@st.composite
def schwab_cases(draw: st.DrawFn) -> tuple[list[Security], list[tuple]]:
    """One or two accounts, each with a Balances export and a Transactions export."""
    master = draw(masters())
    accounts = draw(st.lists(SCHWAB_ACCOUNTS, min_size=1, max_size=2, unique=True))
    out = []
    for account in accounts:
        as_of = draw(DATES)
        holdings = [draw(retail_holding(account, s, True)) for s in draw(pick(master))]
        cash = draw(st.none() | decimals("0", "99999999", 2))
        if not holdings and cash is None:
            cash = Decimal("0.00")
        txns = []
        for _ in range(draw(st.integers(0, 6))):
            row = draw(st.sampled_from(SCHWAB_ACTIONS))
            day = as_of - timedelta(days=draw(st.integers(0, 90)))
            t = txn_from(draw, row, account, master, day)
            if draw(st.integers(0, 4)) == 0:  # "09/22/2026 as of 09/20/2026"
                t = replace(t, as_of=day - timedelta(days=2))
            txns.append(t)
        out.append((account, as_of, holdings, cash, txns))
    return master, out


def schwab_files(case: tuple, rnd: random.Random, shuffle: bool) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for n, (account, as_of, holdings, cash, txns) in enumerate(case[1]):
        if shuffle:
            holdings, txns = rnd.sample(holdings, len(holdings)), rnd.sample(txns, len(txns))
        text = w.schwab_positions(account, as_of, holdings, cash, rnd)
        files[f"Growth_Balances_{n}.csv"] = text.encode()
        if txns:
            text = w.schwab_transactions(account, as_of, txns, rnd)
            files[f"Growth_Transactions_{n}.csv"] = text.encode()
    return files


@SETTINGS
@given(case=schwab_cases(), rnd=st.randoms(use_true_random=False))
def test_schwab_round_trip_and_row_order(case, rnd: random.Random) -> None:
    """Schwab Balances and Transactions exports reach the canonical files' state; shuffled rows
    leave the same state, content-derived transaction ids included."""
    master, accounts = case
    positions: list[dict] = []
    txns: list[Txn] = []
    for account, as_of, holdings, cash, account_txns in accounts:
        positions += [w.position_row(h, as_of) for h in holdings]
        if cash is not None:
            positions.append(w.cash_row(account, as_of, cash))
        txns += account_txns
    got = ingest(schwab_files(case, rnd, shuffle=False), master)
    tables = {"positions": positions, "transactions": w.transaction_rows(txns)}
    want = ingest(w.canonical_files(tables), master, validate=False)
    assert got["formats"]["format"].to_list() == ["schwab", "securities"]
    assert_same(got, want, ids=False)
    layout_ids_ok(got, "SCHWAB-")
    shuffled = ingest(schwab_files(case, rnd, shuffle=True), master, validate=False)
    assert_same(shuffled, got, ids=True)


# --- Fidelity ----------------------------------------------------------------------------------

FIDELITY_ACTIONS = [
    ("YOU BOUGHT {name} ({sym}) (Cash)", "BUY", True, 1, -1),
    ("YOU SOLD {name} ({sym}) (Margin)", "SELL", True, -1, 1),
    ("REINVESTMENT {name} ({sym}) (Cash)", "REINVEST", True, 1, -1),
    ("DIVIDEND RECEIVED {name} ({sym}) (Cash)", "DIVIDEND", True, None, 1),
    ("LONG-TERM CAP GAIN {name} ({sym}) (Cash)", "DIVIDEND", True, None, 1),
    ("SHORT-TERM CAP GAIN {name} ({sym}) (Cash)", "DIVIDEND", True, None, 1),
    ("NON-RESIDENT TAX {name} ({sym}) (Cash)", "DIVIDEND", True, None, -1),
    ("FOREIGN TAX PAID {name} ({sym}) (Cash)", "DIVIDEND", True, None, -1),
    ("INTEREST EARNED as of Aug-31-2026 (Cash)", "INTEREST", False, None, 1),
    ("MUNI EXEMPT INT {name} (Cash)", "INTEREST", True, None, 1),
    ("REDEMPTION PAYOUT {name} (Cash)", "SELL", True, -1, 1),
    ("DIRECT DEPOSIT ACME INC PAYROLL (Cash)", "CONTRIBUTION", False, None, 1),
    ("DIRECT DEBIT ACME UTILITY BILLPAY (Cash)", "WITHDRAWAL", False, None, -1),
    ("TRANSFERRED FROM Z70067890 (Cash)", "CONTRIBUTION", False, None, 1),
    ("TRANSFERRED TO Z70067890 (Cash)", "WITHDRAWAL", False, None, -1),
    ("CHECK RECEIVED (Cash)", "CONTRIBUTION", False, None, 1),
    ("Check Paid # 1234 (Cash)", "WITHDRAWAL", False, None, -1),
    ("Electronic Funds Transfer Received (Cash)", "CONTRIBUTION", False, None, 1),
    ("MERGER MER FROM 12345X678#REOR M0000000000001 {name} ({sym}) (Margin)", "BUY", True, 1, 1),
]
FIDELITY_ACCOUNTS = st.from_regex(r"[XZ][0-9]{8}|[0-9]{9}", fullmatch=True)


@st.composite
def fidelity_cases(draw: st.DrawFn) -> tuple:
    """A statement (positions of one or more accounts) and an account history export."""
    master = draw(masters())
    accounts = draw(st.lists(FIDELITY_ACCOUNTS, min_size=1, max_size=3, unique=True))
    as_of = draw(DATES)
    books: dict[str, tuple[list[Holding], list[tuple[str, Decimal]]]] = {}
    for account in accounts:
        holdings = [draw(retail_holding(account, s, False)) for s in draw(pick(master))]
        funds = draw(st.lists(st.sampled_from(["SPAXX", "FDRXX", "FZFXX"]), unique=True))
        core = [(f, draw(decimals("0", "9999999", 2))) for f in funds]
        if not holdings and not core:
            core = [("SPAXX", Decimal("0.00"))]
        books[account] = (holdings, core)
    variant = draw(st.sampled_from(["accounts", "single", "currency"]))
    history_accounts = accounts[:1] if variant == "single" else accounts
    txns = []
    for _ in range(draw(st.integers(1, 8))):
        row = draw(st.sampled_from(FIDELITY_ACTIONS))
        account = draw(st.sampled_from(history_accounts))
        day = as_of - timedelta(days=draw(st.integers(0, 90)))
        txns.append(txn_from(draw, row, account, master, day))
    if draw(st.booleans()):  # the same transaction twice (e.g. two identical buys)
        txns.append(txns[0])
    downloaded = draw(st.none() | st.just(as_of + timedelta(days=3)))
    return master, as_of, books, variant, txns, downloaded


def fidelity_files(case: tuple, rnd: random.Random, shuffle: bool) -> dict[str, bytes]:
    _, as_of, books, variant, txns, downloaded = case
    if shuffle:
        books = {k: books[k] for k in rnd.sample(list(books), len(books))}
        books = {k: (rnd.sample(h, len(h)), c) for k, (h, c) in books.items()}
        txns = rnd.sample(txns, len(txns))
    history = w.fidelity_history(txns, variant, as_of + timedelta(days=1), rnd)
    name = f"History_for_Account_{txns[0].account}.csv" if variant == "single" else "History.csv"
    return {
        f"Statement{as_of:%m%d%Y}.csv": w.fidelity_positions(books, downloaded, rnd).encode(),
        name: history.encode(),
    }


@SETTINGS
@given(case=fidelity_cases(), rnd=st.randoms(use_true_random=False))
def test_fidelity_round_trip_and_row_order(case, rnd: random.Random) -> None:
    """A Fidelity statement and history reach the canonical files' state; shuffled rows (and
    accounts) leave the same state, content-derived transaction ids included."""
    master, as_of, books, _, txns, _ = case
    positions: list[dict] = []
    for account, (holdings, core) in books.items():
        positions += [w.position_row(h, as_of) for h in holdings]
        if core:
            positions.append(w.cash_row(account, as_of, sum((a for _, a in core), Decimal(0))))
    got = ingest(fidelity_files(case, rnd, shuffle=False), master)
    tables = {"positions": positions, "transactions": w.transaction_rows(txns)}
    want = ingest(w.canonical_files(tables), master, validate=False)
    assert got["formats"]["format"].to_list() == ["fidelity", "securities"]
    assert_same(got, want, ids=False)
    layout_ids_ok(got, "FIDELITY-")
    shuffled = ingest(fidelity_files(case, rnd, shuffle=True), master, validate=False)
    assert_same(shuffled, got, ids=True)


# --- Interactive Brokers -----------------------------------------------------------------------

CURRENCIES = ["USD", "EUR", "CHF", "GBP"]
IB_CASH = [  # type, canonical type, with a security, amount sign
    ("Dividends", "DIVIDEND", True, 1),
    ("Payment In Lieu Of Dividends", "DIVIDEND", True, 1),
    ("Withholding Tax", "DIVIDEND", True, 0),
    ("Broker Interest Received", "INTEREST", False, 1),
    ("Broker Interest Paid", "INTEREST", False, -1),
    ("Bond Interest Received", "INTEREST", True, 1),
    ("Other Fees", "FEE", False, -1),
    ("Commission Adjustments", "FEE", False, 0),
    ("Advisor Fees", "FEE", False, -1),
    ("Deposits/Withdrawals", "FLOW", False, 0),
    ("Deposits & Withdrawals", "FLOW", False, 0),
]


@st.composite
def flex_position(draw: st.DrawFn, security: Security, to_date: date) -> FlexPosition:
    """A SUMMARY position (long or short) and the LOT rows that make it up."""
    short = draw(st.integers(0, 4)) == 0
    quantity = draw(decimals("0.0001", "999999", 6)) * (-1 if short else 1)
    mark = draw(decimals("0.01", "9999", 8))
    multiplier = Decimal(draw(st.sampled_from([1, 1, 10, 100])))
    value = w.q(quantity * mark * multiplier, draw(st.sampled_from([2, 4, 6])))
    report_date = draw(st.sampled_from([to_date, None]))
    units = int(abs(quantity) * 10**6)
    k = min(draw(st.integers(0, 3)), units)
    cuts = (
        sorted(
            draw(st.lists(st.integers(1, units - 1), min_size=k - 1, max_size=k - 1, unique=True))
        )
        if k > 1
        else []
    )
    bounds = [0, *cuts, units] if k else []
    lots = []
    for lo, hi in pairwise(bounds):
        cost = draw(decimals("0", "999999999", 6)) * (-1 if short else 1)
        opened = to_date - timedelta(days=draw(st.integers(0, 3000)))
        raw = lots[-1].raw_id if lots and draw(st.booleans()) else str(draw(st.integers(1, 10**11)))
        lot_qty = Decimal(hi - lo).scaleb(-6) * (-1 if short else 1)
        lots.append(FlexLot(lot_qty, cost, opened, raw))
    return FlexPosition(
        security,
        draw(st.sampled_from(CURRENCIES)),
        quantity,
        mark,
        multiplier,
        value,
        report_date,
        tuple(lots),
    )


@st.composite
def flex_statements(draw: st.DrawFn) -> tuple[list[Security], list[FlexStatement]]:
    """One or two accounts' statements: positions, lots, cash, trades, cash transactions and
    FX rates, in several currencies; the base currency named or only implied."""
    master = draw(masters())
    accounts = draw(
        st.lists(st.from_regex(r"U[0-9]{7}", fullmatch=True), min_size=1, max_size=2, unique=True)
    )
    ident = iter(range(10**9, 2 * 10**9))
    statements = []
    drawn: dict[tuple[date, str, str], Decimal] = {}
    for account in accounts:
        to_date = draw(DATES)
        days = st.integers(0, 30).map(lambda n, d=to_date: d - timedelta(days=n))
        securities = draw(pick(master, min_size=1))
        positions = tuple(draw(flex_position(s, to_date)) for s in securities)
        trades = []
        for _ in range(draw(st.integers(0, 4))):
            sell = draw(st.booleans())
            qty = draw(decimals("0.0001", "99999", 4)) * (-1 if sell else 1)
            cash = draw(decimals("0.01", "999999999", 6)) * (1 if sell else -1)
            trades.append(
                Txn(
                    account,
                    draw(days),
                    "SELL" if sell else "BUY",
                    "SELL" if sell else "BUY",
                    draw(st.sampled_from(master)),
                    qty,
                    cash,
                    draw(st.sampled_from(CURRENCIES)),
                    price=Decimal("1.5"),
                    ident=str(next(ident)),
                )
            )
        cash_txns = []
        for _ in range(draw(st.integers(0, 4))):
            kind_name, kind, with_security, sign = draw(st.sampled_from(IB_CASH))
            amount = draw(signed(decimals("0.01", "9999999", 6), sign))
            if kind == "FLOW":
                kind = "CONTRIBUTION" if amount > 0 else "WITHDRAWAL"
            security = draw(st.sampled_from(master)) if with_security else None
            number = str(next(ident)) if draw(st.integers(0, 5)) else None
            cash_txns.append(
                Txn(
                    account,
                    draw(days),
                    kind_name,
                    kind,
                    security,
                    None,
                    amount,
                    draw(st.sampled_from(CURRENCIES)),
                    ident=number,
                )
            )
        base = draw(st.sampled_from(CURRENCIES))
        fx_trades = tuple(draw(st.lists(st.tuples(days, st.sampled_from(CURRENCIES)), max_size=2)))
        conversions = tuple(
            draw(st.lists(st.tuples(days, st.sampled_from(CURRENCIES)), max_size=2, unique=True))
        )
        needed = {(p.report_date or to_date, p.currency) for p in positions}
        needed |= {(t.trade_date, t.currency) for t in (*trades, *cash_txns)}
        needed |= set(fx_trades) | set(conversions)
        rate = decimals("0.0001", "200", 6).filter(lambda r: r != 1)
        # one rate per day, currency and base, whichever account reports it (as IBKR does)
        for day, currency in sorted(needed):
            if currency != base and (day, currency, base) not in drawn:
                drawn[(day, currency, base)] = draw(rate)
        rates = {(d, c): drawn[(d, c, base)] for d, c in sorted(needed) if c != base}
        statements.append(
            FlexStatement(
                account,
                base,
                draw(st.booleans()),
                to_date,
                positions,
                draw(st.none() | decimals("0", "999999999", 8)),
                tuple(trades),
                tuple(cash_txns),
                fx_trades,
                conversions,
                rates,
            )
        )
    return master, statements


@SETTINGS
@given(case=flex_statements(), rnd=st.randoms(use_true_random=False))
def test_ibkr_round_trip_and_row_order(case, rnd: random.Random) -> None:
    """A Flex statement (SUMMARY and LOT positions, cash, trades, cash transactions, FX rates in
    several currencies) reaches the canonical files' state; shuffled rows leave the same state."""
    master, statements = case
    got = ingest({"flex.xml": flex_xml(statements, rnd)}, master)
    want = ingest(w.canonical_files(flex_canonical(statements)), master, validate=False)
    assert got["formats"]["format"].to_list() == ["ibkr_flex", "securities"]
    all_ids = all(t.ident for st_ in statements for t in (*st_.trades, *st_.cash_txns))
    assert_same(got, want, ids=all_ids)
    layout_ids_ok(got, "IB-")
    shuffled = ingest({"flex.xml": flex_xml(statements, rnd, shuffle=True)}, master, False)
    assert_same(shuffled, got, ids=True)
