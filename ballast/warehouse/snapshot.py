"""What the warehouse says about a set of portfolios on one date, as Polars frames."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import polars as pl

from ballast.warehouse import db


@dataclass(frozen=True)
class Snapshot:
    """Positions, lots, prices and the security master as of one date."""

    as_of: dt.date
    positions: pl.DataFrame
    lots: pl.DataFrame
    securities: pl.DataFrame
    prices: pl.DataFrame
    quarantined: pl.DataFrame
    fx_rates: pl.DataFrame
    previous_positions: pl.DataFrame
    transactions: pl.DataFrame
    cash_flows: pl.DataFrame
    restatements: pl.DataFrame


LATEST = 2**31 - 1  # a file id above every file: "today's data"


def take(
    con: duckdb.DuckDBPyConnection,
    as_of: dt.date,
    accounts: list[str],
    *,
    max_file_id: int = LATEST,
) -> Snapshot:
    """Read everything a review of these accounts needs: the latest version of each file among
    the files up to ``max_file_id``.

    File ids only grow, so a past run's view of the warehouse is exactly this with the last
    file id loaded before it ended (``ballast.audit.rerun``): no second set of queries is needed.
    """
    bound = {"max_file_id": max_file_id}
    dated = {"as_of": as_of, **bound}
    params = {**dated, "accounts": accounts}
    return Snapshot(
        as_of=as_of,
        positions=db.query(con, "snapshot/positions", params),
        lots=db.query(con, "snapshot/lots", params),
        securities=db.query(con, "snapshot/securities", bound),
        prices=db.query(con, "snapshot/prices", dated),
        quarantined=db.query(con, "snapshot/quarantined", params),
        fx_rates=db.query(con, "snapshot/fx_rates", dated),
        previous_positions=db.query(con, "snapshot/previous_positions", params),
        transactions=db.query(con, "snapshot/transactions", params),
        cash_flows=db.query(con, "snapshot/cash_flows", params),
        restatements=db.query(con, "snapshot/restatements", params),
    )
