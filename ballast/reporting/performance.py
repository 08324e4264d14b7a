"""Performance and risk for the quarterly report: time-weighted return since the last review and
year to date against the IPS's policy benchmark, volatility and maximum drawdown.

Valuation points are the portfolio's quarterly reviews: its earlier completed reviews as
recorded in the warehouse (``sql/marts/performance_history.sql``: total and class values in the
base currency, to the cent, and the targets in force; the latest run per as-of date, the same
points the drift history charts) and this review's own figures (rounded to the cent as they are
recorded). Each pair of consecutive points is one period.

Per period and portfolio, the **Modified Dietz** return::

    r = (EMV - BMV - CF) / (BMV + sum_i w_i * CF_i),  w_i = (D - t_i) / D

with ``D`` the days in the period and ``t_i`` the days from its start to flow ``i``. Flows are
the *external* ones only: transactions of type ``CONTRIBUTION`` and ``WITHDRAWAL`` (their
signed ``amount``) in the portfolio's accounts; trades, dividends, interest and fees stay inside
the portfolio and are part of its return. Planned flows (``cash_flows``) are plans, not flows.
A flow counts at the **end of its trade date**: one dated on a period's start belongs to the
period before; one dated on its end is inside it, with weight 0. A flow in another currency is
converted at the custodian's FX rate the review uses (the latest on or before the review date);
a portfolio with a flow no rate converts has no performance.

Periods chain geometrically: since the last review (the last period), year to date (the periods
ending in the review's calendar year: its start is the last valuation on or before 31 December
of the year before, which is 31 December itself for calendar-quarter reviews).

The **policy benchmark** is the static-weight portfolio: per period, the IPS targets in force at
its start applied to each asset class's own Modified Dietz return (the class's recorded values
and its flows: buys, sells, reinvestments and dividends of its securities move money between
the class and cash; contributions and withdrawals move it in and out of cash). No index returns
are held, so the report says "policy targets applied to the portfolio's own class returns".
Classes whose return is undefined in a period (nothing held at its start and no flow) are left
out and the other targets scaled up to 100%.

**Risk**: volatility is the sample standard deviation of the period returns across the review
history, annualised (times the square root of periods per year) only when every period is a
month, a quarter, a half-year or a year long (28-31, 89-92, 181-184 or 365-366 days), else per
period; maximum drawdown is the largest fall from a peak of the chained value (1 at the first
review, a peak at each period end; falls within a period are not seen). Both need at least two
periods.

Returns are floats (money in decimals up to the division); results.json carries them as
fractions rounded half to even to 6 decimals (0.01 bp), money to the cent; the report shows
percentages to 2 decimals, rounded half to even from that figure.

All of it is Polars over every portfolio of a shard at once; only the results entries are
assembled per portfolio.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import duckdb
import polars as pl

from ballast.kinds import CASH_CLASS, CASH_SECURITY
from ballast.portfolio import policy_frames as pf
from ballast.portfolio.valuation import fx_pairs
from ballast.reporting.performance_view import BENCHMARK_BASIS
from ballast.review import Computed
from ballast.warehouse import db

MONEY = pl.Decimal(18, 2)
EXTERNAL = ("CONTRIBUTION", "WITHDRAWAL")
MOVES_CLASS = ("BUY", "SELL", "REINVEST", "DIVIDEND")  # cash between a class and cash
REGULAR = ((28, 31, 12), (89, 92, 4), (181, 184, 2), (365, 366, 1))
"""(shortest, longest period in days, periods per year) of a regular review schedule."""

HISTORY_SCHEMA: dict[str, pl.DataType] = {
    "portfolio_id": pl.String(),
    "as_of": pl.Date(),
    "total_value": MONEY,
    "asset_class": pl.String(),
    "market_value": MONEY,
    "target": pl.Decimal(38, 6),
}
_PLACES = Decimal("0.000001")
_CENT = Decimal("0.01")


# --- reading ---------------------------------------------------------------------------------


def fetch(
    con: duckdb.DuckDBPyConnection,
    *,
    run_id: str,
    as_of: dt.date,
    started_at: dt.datetime,
    portfolio_ids: Sequence[str],
) -> pl.DataFrame:
    """The earlier review points of the given portfolios (``HISTORY_SCHEMA``, one row per class),
    as the warehouse held them when run ``run_id`` started."""
    frame = db.query(
        con,
        "marts/performance_history",
        {
            "as_of": as_of,
            "run_id": run_id,
            "started_at": started_at,
            "portfolio_ids": list(portfolio_ids),
        },
    )
    if frame.is_empty():
        return pl.DataFrame(schema=HISTORY_SCHEMA)
    return frame.select(pl.col(k).cast(v) for k, v in HISTORY_SCHEMA.items())


def fetch_for(
    con: duckdb.DuckDBPyConnection, run: Mapping[str, Any], ids: Sequence[str]
) -> pl.DataFrame | None:
    """``fetch`` for a run given as its metadata (``RunIdentity.meta()``: ``started_at`` as
    ``2026-10-05T07:00:00Z``); None for a monitor run, which has no performance."""
    if run.get("kind") != "quarterly_review":
        return None
    started = dt.datetime.fromisoformat(str(run["started_at"]).removesuffix("Z"))
    as_of = dt.date.fromisoformat(str(run["as_of"])[:10])
    return fetch(con, run_id=str(run["run_id"]), as_of=as_of, started_at=started, portfolio_ids=ids)


# --- the maths, on plain frames ---------------------------------------------------------------


def period_returns(values: pl.DataFrame, flows: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Modified Dietz return of each period between consecutive valuation dates, per ``keys``.

    ``values``: keys, ``as_of`` (date), ``value`` (decimal money); ``flows``: keys, ``date``,
    ``amount`` (positive into the portfolio or class). A flow counts at the end of its date: in
    the period with ``start < date <= end``, weighted ``(D - t) / D``. Flows outside every
    period are ignored. Returns keys, ``start``, ``end``, ``days``, ``bmv``, ``emv``, ``flow``,
    ``return`` (null when the denominator is not positive)."""
    periods = (
        values.sort([*keys, "as_of"])
        .with_columns(
            pl.col("as_of").shift(1).over(keys).alias("start"),
            pl.col("value").shift(1).over(keys).alias("bmv"),
        )
        .filter(pl.col("start").is_not_null())
        .select(
            *keys,
            "start",
            pl.col("as_of").alias("end"),
            (pl.col("as_of") - pl.col("start")).dt.total_days().alias("days"),
            pl.col("bmv"),
            pl.col("value").alias("emv"),
        )
    )
    placed = (
        flows.select(*keys, "date", "amount")
        .sort("date")
        .join_asof(
            periods.select(*keys, "start", "end").sort("end"),
            left_on="date",
            right_on="end",
            by=keys,
            strategy="forward",
            check_sortedness=False,  # both sorted on the date above, so within every group
        )
        .filter(pl.col("end").is_not_null() & (pl.col("date") > pl.col("start")))
        .group_by([*keys, "end"])
        .agg(
            pl.col("amount").sum().alias("flow"),
            # sum of (D - t_i) * CF_i, divided by D below
            (
                (pl.col("end") - pl.col("date")).dt.total_days().cast(pl.Decimal(38, 0))
                * pl.col("amount")
            )
            .sum()
            .alias("weighted"),
        )
    )
    joined = periods.join(placed, on=[*keys, "end"], how="left").with_columns(
        pl.col("flow").fill_null(0).cast(pl.Decimal(38, 4)),
        pl.col("weighted").fill_null(0),
    )
    gain = (pl.col("emv") - pl.col("bmv") - pl.col("flow")).cast(pl.Float64)
    base = pl.col("bmv").cast(pl.Float64) + pl.col("weighted").cast(pl.Float64) / pl.col(
        "days"
    ).cast(pl.Float64)
    return joined.with_columns(pl.when(base > 0).then(gain / base).alias("return")).sort(
        [*keys, "end"]
    )


def benchmark_returns(classes: pl.DataFrame, targets: pl.DataFrame) -> pl.DataFrame:
    """Per portfolio and period, the static-weight return: targets at the period's start times
    the classes' own returns, over the classes whose return is defined (targets scaled up to
    100% when some are not). ``classes``: period returns by ``portfolio_id, asset_class``;
    ``targets``: ``portfolio_id, as_of, asset_class, target``."""
    weighted = (
        classes.join(
            targets.rename({"as_of": "start"}), on=["portfolio_id", "start", "asset_class"]
        )
        .filter(pl.col("target").is_not_null() & pl.col("return").is_not_null())
        .with_columns(pl.col("target").cast(pl.Float64))
    )
    return (
        weighted.group_by("portfolio_id", "end")
        .agg(
            (pl.col("target") * pl.col("return")).sum().alias("weighted"),
            pl.col("target").sum().alias("covered"),
        )
        .select(
            "portfolio_id",
            "end",
            pl.when(pl.col("covered") > 0)
            .then(pl.col("weighted") / pl.col("covered"))
            .alias("benchmark"),
        )
    )


def _chained(r: pl.Expr) -> pl.Expr:
    """Geometric chain of period returns; null when any is null."""
    return pl.when(r.null_count() == 0).then((r + 1).product() - 1)


def summarise(periods: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    """One row per portfolio from its periods (``portfolio_id, start, end, days, return,
    benchmark``): the last period, year to date, volatility and maximum drawdown."""
    year_start = dt.date(as_of.year - 1, 12, 31)
    p = periods.sort("portfolio_id", "end").with_columns(
        ((pl.col("return") + 1).cum_prod().over("portfolio_id")).alias("wealth")
    )
    p = p.with_columns(
        (
            pl.col("wealth")
            / pl.max_horizontal(pl.col("wealth").cum_max().over("portfolio_id"), 1.0)
            - 1
        ).alias("drawdown")
    )
    ytd = pl.col("end") > year_start
    days = pl.col("days")
    ppy = pl.lit(None, pl.Int64)
    for low, high, per_year in REGULAR:
        ppy = pl.when((days.min() >= low) & (days.max() <= high)).then(per_year).otherwise(ppy)
    n = pl.col("return").count()
    return (
        p.group_by("portfolio_id")
        .agg(
            pl.len().alias("n"),
            pl.col("start").last().alias("last_start"),
            pl.col("end").last().alias("last_end"),
            pl.col("return").last().alias("last_return"),
            pl.col("benchmark").last().alias("last_benchmark"),
            pl.col("start").filter(ytd).first().alias("ytd_start"),
            _chained(pl.col("return").filter(ytd)).alias("ytd_return"),
            _chained(pl.col("benchmark").filter(ytd)).alias("ytd_benchmark"),
            pl.when(n >= 2).then(pl.col("return").std(ddof=1)).alias("std"),
            ppy.alias("periods_per_year"),
            pl.when((n >= 2) & (pl.col("return").null_count() == 0))
            .then(-pl.col("drawdown").min().clip(upper_bound=0.0))
            .alias("max_drawdown"),
        )
        .with_columns(
            pl.when(pl.col("periods_per_year").is_not_null())
            .then(pl.col("std") * pl.col("periods_per_year").cast(pl.Float64).sqrt())
            .otherwise(pl.col("std"))
            .alias("volatility")
        )
    )


# --- from a review --------------------------------------------------------------------------


def _points(c: Computed, history: pl.DataFrame) -> pl.DataFrame:
    """Valuation points (``HISTORY_SCHEMA``) of the portfolios reviewed ``ok`` now: the earlier
    reviews, then this one to the cent."""
    ok = pl.DataFrame({"portfolio_id": c.policies.ids}, schema={"portfolio_id": pl.String}).join(
        c.errors.select("portfolio_id").unique(), on="portfolio_id", how="anti"
    )
    now = c.allocation.join(ok, on="portfolio_id", how="semi").select(
        "portfolio_id",
        pl.lit(c.as_of).alias("as_of"),
        pl.col("total_value").cast(MONEY),
        "asset_class",
        pl.col("market_value").cast(MONEY),
        pl.col("target").cast(pl.Decimal(38, 6)),
    )
    earlier = history.join(ok, on="portfolio_id", how="semi").filter(pl.col("as_of") < c.as_of)
    return pl.concat([earlier.select(now.columns), now])


def _flows(c: Computed, pids: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(flows by class, portfolios with a flow no FX rate converts), in base currency."""
    policies = [p for p in c.policies.policies if p.id in set(pids["portfolio_id"].to_list())]
    accounts = pf.accounts_frame(policies).select("portfolio_id", "account_id")
    settings = pf.settings_frame(policies).select("portfolio_id", "base_currency")
    tx = c.snapshot.transactions
    classes = c.snapshot.securities.select("security_id", pl.col("asset_class").alias("sec_class"))
    frame = (
        tx.filter(pl.col("type").is_in([*EXTERNAL, *MOVES_CLASS]))
        .join(accounts, on="account_id")
        .join(settings, on="portfolio_id")
        .join(classes, on="security_id", how="left")
        .join(
            fx_pairs(c.snapshot.fx_rates),
            left_on=["currency", "base_currency"],
            right_on=["currency", "quote_currency"],
            how="left",
        )
        .with_columns(
            pl.when(pl.col("currency") == pl.col("base_currency"))
            .then(pl.col("amount").cast(pl.Decimal(38, 4)))
            .otherwise((pl.col("amount") * pl.col("rate")).cast(pl.Decimal(38, 4)))
            .alias("base_amount")
        )
    )
    unpriced = frame.filter(pl.col("base_amount").is_null()).select("portfolio_id").unique()
    frame = frame.filter(pl.col("base_amount").is_not_null())
    security = pl.col("security_id").is_not_null() & (pl.col("security_id") != CASH_SECURITY)
    external = pl.col("type").is_in(EXTERNAL)
    moves = pl.col("type").is_in(MOVES_CLASS) & security
    cash_leg = frame.filter(external | moves).select(
        "portfolio_id",
        pl.lit(CASH_CLASS).alias("asset_class"),
        pl.col("trade_date").alias("date"),
        pl.col("base_amount").alias("amount"),
        external.alias("external"),
    )
    class_leg = frame.filter(moves).select(
        "portfolio_id",
        pl.col("sec_class").fill_null("(unknown)").alias("asset_class"),
        pl.col("trade_date").alias("date"),
        (-pl.col("base_amount")).alias("amount"),
        pl.lit(False).alias("external"),
    )
    return pl.concat([cash_leg, class_leg]), unpriced


def compute(c: Computed, history: pl.DataFrame | None, *, kind: str) -> dict[str, Any]:
    """Each ``ok`` portfolio's performance entry for results.json (portfolios with no complete
    period, or a flow no rate converts, are absent: their entry is null)."""
    if kind != "quarterly_review" or history is None:
        return {}
    points = _points(c, history)
    totals = points.select("portfolio_id", "as_of", pl.col("total_value").alias("value")).unique()
    if totals.group_by("portfolio_id").len().filter(pl.col("len") >= 2).is_empty():
        return {}
    flows, unpriced = _flows(c, totals.select("portfolio_id").unique())
    external = flows.filter(pl.col("external") & (pl.col("asset_class") == CASH_CLASS))
    whole = period_returns(totals, external, ["portfolio_id"])
    # class values on every valuation date of the portfolio (0 where a class is absent)
    grid = (
        points.select("portfolio_id", "as_of")
        .unique()
        .join(points.select("portfolio_id", "asset_class").unique(), on="portfolio_id")
        .join(points, on=["portfolio_id", "as_of", "asset_class"], how="left")
        .select(
            "portfolio_id",
            "asset_class",
            "as_of",
            pl.col("market_value").fill_null(0).cast(MONEY).alias("value"),
        )
    )
    by_class = period_returns(grid, flows, ["portfolio_id", "asset_class"])
    bench = benchmark_returns(
        by_class, points.select("portfolio_id", "as_of", "asset_class", "target")
    )
    periods = (
        whole.join(bench, on=["portfolio_id", "end"], how="left")
        .join(unpriced, on="portfolio_id", how="anti")
        .sort("portfolio_id", "end")
    )
    if periods.is_empty():
        return {}
    return _entries(periods, summarise(periods, c.as_of))


# --- results.json text ------------------------------------------------------------------------


def fraction(value: float | None) -> str | None:
    """A return as results.json text: a fraction, half to even, 6 decimals (0.01 bp)."""
    if value is None or not math.isfinite(value):
        return None
    q = Decimal(repr(value)).quantize(_PLACES, rounding=ROUND_HALF_EVEN)
    return f"{q if q != 0 else abs(q):f}"


def _money(value: Any) -> str:
    return f"{Decimal(str(value)).quantize(_CENT, rounding=ROUND_HALF_EVEN):f}"


def _entries(periods: pl.DataFrame, summary: pl.DataFrame) -> dict[str, Any]:
    """results.json's ``performance`` per portfolio id."""
    listed: dict[str, list[dict[str, Any]]] = {}
    for r in periods.iter_rows(named=True):
        listed.setdefault(r["portfolio_id"], []).append(
            {
                "start": r["start"].isoformat(),
                "end": r["end"].isoformat(),
                "days": r["days"],
                "begin_value": _money(r["bmv"]),
                "end_value": _money(r["emv"]),
                "net_flows": _money(r["flow"]),
                "return": fraction(r["return"]),
                "benchmark": fraction(r["benchmark"]),
            }
        )
    out: dict[str, Any] = {}
    for s in summary.sort("portfolio_id").iter_rows(named=True):
        ppy = s["periods_per_year"]
        enough = s["std"] is not None
        out[s["portfolio_id"]] = {
            "since_last_review": {
                "start": s["last_start"].isoformat(),
                "end": s["last_end"].isoformat(),
                "return": fraction(s["last_return"]),
                "benchmark": fraction(s["last_benchmark"]),
            },
            "year_to_date": {
                "start": s["ytd_start"].isoformat(),
                "end": s["last_end"].isoformat(),
                "return": fraction(s["ytd_return"]),
                "benchmark": fraction(s["ytd_benchmark"]),
            },
            "benchmark_basis": BENCHMARK_BASIS,
            "volatility": fraction(s["volatility"]) if enough else None,
            "volatility_basis": ("annualised" if ppy else "per_period") if enough else None,
            "periods_per_year": ppy if enough else None,
            "max_drawdown": fraction(s["max_drawdown"]),
            "periods": listed[s["portfolio_id"]],
        }
    return out
