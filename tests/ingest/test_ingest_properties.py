"""Property tests of ingest (hypothesis): round trips and row order."""

from __future__ import annotations

import random
from decimal import Decimal

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ballast import workspace
from ballast.ingest import inbox
from ballast.ingest.reader import parse_bytes
from ballast.warehouse import db

HEADER = "as_of_date,account_id,security_id,quantity,price,market_value,currency\n"
ids = st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ0123456789-", min_size=1, max_size=8)


@st.composite
def positions(draw) -> list[tuple[str, str, Decimal, Decimal]]:
    """Distinct (account, security) rows with quantities and prices at their stored scales."""
    keys = draw(st.lists(st.tuples(ids, ids), min_size=1, max_size=30, unique=True))
    rows = []
    for account, security in keys:
        qty = Decimal(draw(st.integers(0, 10**7))) / 10 ** draw(st.integers(0, 6))
        price = Decimal(draw(st.integers(1, 10**6))) / 10 ** draw(st.integers(0, 6))
        rows.append((account, security, qty, price))
    return rows


def to_csv(rows) -> str:
    lines = [
        f"2026-09-30,{a},{s},{q},{p},{(q * p).quantize(Decimal('0.0001'))},USD\n"
        for a, s, q, p in rows
    ]
    return HEADER + "".join(lines)


@settings(max_examples=100, deadline=None)
@given(positions())
def test_round_trip_is_exact(rows) -> None:
    """Every generated value comes back from the reader exactly, as a decimal."""
    frame = parse_bytes(to_csv(rows).encode(), "gen.csv").frame
    got = list(
        zip(
            frame["account_id"],
            frame["security_id"],
            frame["quantity"],
            frame["price"],
            strict=True,
        )
    )
    assert got == [(a, s, q, p) for a, s, q, p in rows]


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(positions(), st.randoms(use_true_random=False))
def test_row_order_does_not_matter(tmp_path_factory, rows, rnd: random.Random) -> None:
    """The same rows in another order leave the same warehouse state (the GX suite passes too)."""
    states = []
    for order in (rows, rnd.sample(rows, len(rows))):
        ws = workspace.init(tmp_path_factory.mktemp("ws"))
        (ws.inbox / "p.csv").write_text(to_csv(order))
        with db.connect(ws.warehouse) as con:
            report = inbox.commit(con, ws, inbox.validate(inbox.stage_workspace(con, ws)))
            assert report.quarantined == [], report.quarantined
            frame = con.sql("select * exclude (file_id, line) from positions").pl()
        states.append(frame.sort(frame.columns))
    assert states[0].equals(states[1])
    assert isinstance(states[0], pl.DataFrame)
