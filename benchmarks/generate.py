"""Synthetic workspaces for benchmarks and tests: a security master, IPS files, custodian drops.

Everything is drawn from one seeded NumPy generator, so a seed gives byte-identical files.
Rows are built column-wise (NumPy, then Polars): no Python loop per position or lot. Money is
kept in integer cents until it is written, so ``market_value = quantity * price`` exactly.

    uv run python benchmarks/generate.py DIR --portfolios 10000 [--seed 7] [--no-lots]

One file on purpose (about 600 lines): every frame is drawn from the same seeded generator in a
fixed order, so keeping the builders together keeps a seed's files byte-identical and readable.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from ballast.workspace import init

# asset class → (security id prefix, display name, median price in dollars, drift volatility)
ASSET_CLASSES: dict[str, tuple[str, str, float, float]] = {
    "us_equity": ("USE", "US Equity", 120.0, 0.16),
    "intl_equity": ("INE", "International Equity", 60.0, 0.17),
    "em_equity": ("EME", "Emerging Markets Equity", 40.0, 0.22),
    "ig_bonds": ("IGB", "Investment Grade Bond", 95.0, 0.06),
    "treasuries": ("UST", "US Treasury", 100.0, 0.05),
    "tips": ("TIP", "TIPS", 105.0, 0.06),
    "real_estate": ("REI", "Real Estate", 80.0, 0.18),
    "commodities": ("CMD", "Commodity", 25.0, 0.22),
}
CLASSES = list(ASSET_CLASSES)
N_CLASSES = len(CLASSES)
PER_CLASS = 37  # prime, so (start + j * stride) mod 37 gives distinct securities
ROWS_PER_FILE = 25_000
MIN_TARGET = 5  # percent
DRIFT_SCALE = 0.95  # tuned so that about a third of portfolios breach a band
TAX_STATUSES = ("taxable", "tax_deferred", "tax_exempt")
BANDS = ("500bp", "25%rel", "5/25")
CLASS_BANDS = ("300bp", "20%rel", "700bp")
REBALANCE_TO = ("target", "band_edge", "halfway")
TRADE_CLASSES = ("all", "breached")
REVIEWS = ("quarterly", "monthly", "semiannual", "annual")
LOT_METHODS = ("fifo", "hifo", "min_tax")
KINDS = ("Endowment", "Foundation", "Pension Plan", "Hospital Trust", "Family Office")
CASH_TARGETS = (2, 3, 5)


@dataclass(frozen=True)
class GeneratedStats:
    """What ``generate_workspace`` wrote."""

    portfolios: int
    accounts: int
    positions: int
    lots: int
    securities: int
    files: int
    bytes_written: int
    breached_portfolios: int  # by exact weights from the written quantities and prices
    seconds: float
    ips_seconds: float  # of which writing the IPS files (mostly creating small files)

    def as_dict(self) -> dict[str, int | float]:
        return asdict(self)


@dataclass(frozen=True)
class Plan:
    """Per-portfolio draws: rows are portfolios, columns the asset classes in ``CLASSES``."""

    n_accounts: np.ndarray  # (n,)
    tax_status: np.ndarray  # (n, 3) indices into TAX_STATUSES
    targets: np.ndarray  # (n, 8) whole percents, 0 where the class is not held
    cash_target: np.ndarray  # (n,) whole percents, 0 = cash has no target
    default_band: np.ndarray  # (n,) indices into BANDS
    class_band: np.ndarray  # (n, 8) indices into CLASS_BANDS, -1 = default band
    rebalance_to: np.ndarray
    trade_classes: np.ndarray
    review: np.ndarray
    total_value: np.ndarray  # (n,) dollars
    class_weight: np.ndarray  # (n, 8) drifted weights (cash excluded)
    cash_weight: np.ndarray  # (n,)

    @property
    def n(self) -> int:
        return len(self.n_accounts)


# --- helpers -------------------------------------------------------------------------------


def _pick(rng: np.random.Generator, n: int, p: list[float]) -> np.ndarray:
    """``n`` indices drawn with probabilities ``p``."""
    return rng.choice(len(p), size=n, p=p)


def _money(col: str) -> pl.Expr:
    """Integer cents → ``"1234.56"`` (exact, no float formatting)."""
    c = pl.col(col)
    return (c // 100).cast(pl.String) + "." + (c % 100).cast(pl.String).str.zfill(2)


def _ids(prefix: str, idx: np.ndarray, width: int) -> pl.Series:
    """``prefix`` + zero-padded index, e.g. ``pf-00042``."""
    return prefix + pl.Series(idx).cast(pl.String).str.zfill(width)


def _group_offsets(sizes: np.ndarray) -> np.ndarray:
    """Position of each row within its group, for groups of ``sizes`` rows laid end to end."""
    starts = np.repeat(np.cumsum(sizes) - sizes, sizes)
    return np.arange(int(sizes.sum())) - starts


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    """(n, width) matrix of the decimal digits of ``values``."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return (values[:, None] // powers) % 10


# --- securities ----------------------------------------------------------------------------


def _check_digits(body: np.ndarray, *, cusip: bool) -> np.ndarray:
    """CUSIP (double odd positions) or Luhn (double from the right) check digit of each row."""
    width = body.shape[1]
    pos = np.arange(width) if cusip else width - 1 - np.arange(width)
    double = pos % 2 == (1 if cusip else 0)
    v = np.where(double, body * 2, body)
    total = (v // 10 + v % 10).sum(axis=1)
    return (10 - total % 10) % 10


def _identifiers(n: int) -> tuple[pl.Series, pl.Series]:
    """Valid-looking private-use CUSIPs (``99…``) and their US ISINs."""
    k = np.arange(n, dtype=np.int64)
    body = 99_000_000 + k * 100 + 10  # 8 digits
    cusip = body * 10 + _check_digits(_digits(body, 8), cusip=True)
    isin_digits = np.hstack([np.tile([3, 0, 2, 8], (n, 1)), _digits(cusip, 9)])  # "US" = 30 28
    isin_check = _check_digits(isin_digits, cusip=False)
    cusip_s = pl.Series(cusip).cast(pl.String)
    return cusip_s, "US" + cusip_s + pl.Series(isin_check).cast(pl.String)


def _symbols(rng: np.random.Generator, n: int) -> pl.Series:
    """``n`` distinct random four-letter tickers."""
    codes = rng.choice(26**4, size=n, replace=False)
    letters = (codes[:, None] // 26 ** np.arange(3, -1, -1)) % 26
    chars = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))[letters]
    return pl.Series(np.ascontiguousarray(chars).view("<U4").ravel())


def make_securities(rng: np.random.Generator) -> pl.DataFrame:
    """The security master: ``PER_CLASS`` securities per asset class, with a price in cents."""
    n = N_CLASSES * PER_CLASS
    cls = np.repeat(np.arange(N_CLASSES), PER_CLASS)
    j = np.tile(np.arange(PER_CLASS), N_CLASSES)
    prefix = np.array([ASSET_CLASSES[c][0] for c in CLASSES])[cls]
    median = np.array([ASSET_CLASSES[c][2] for c in CLASSES])[cls]
    price = np.clip(median * np.exp(rng.normal(0, 0.5, n)), 5, 1000)
    cusip, isin = _identifiers(n)
    title = pl.Series(np.array([ASSET_CLASSES[c][1] for c in CLASSES])[cls])
    num = pl.Series(j + 1).cast(pl.String).str.zfill(3)
    prefix_s = pl.Series(prefix)
    return pl.DataFrame(
        {
            "security_id": prefix_s + num,
            "symbol": _symbols(rng, n),
            "name": "Synthetic " + title + " Fund " + num,
            "asset_class": pl.Series(np.array(CLASSES)[cls]),
            # the first six of each class form three pairs of identical funds (wash sales)
            "identical_group": pl.Series(
                np.where(j < 6, prefix + "-G" + ((j // 2) + 1).astype(str), "")
            ),
            "isin": isin,
            "cusip": cusip,
            "price_cents": np.rint(price * 100).astype(np.int64),
            "class_idx": cls,
        }
    )


# --- portfolio plan ------------------------------------------------------------------------


def _targets(rng: np.random.Generator, n: int, room: np.ndarray) -> np.ndarray:
    """(n, 8) whole-percent targets on 3-6 classes, each ≥ MIN_TARGET, rows adding to ``room``."""
    k = rng.integers(3, 7, size=n)
    rank = rng.random((n, N_CLASSES)).argsort(axis=1).argsort(axis=1)
    held = rank < k[:, None]
    w = rng.gamma(2.0, size=(n, N_CLASSES)) * held
    free = room - MIN_TARGET * k
    raw = w / w.sum(axis=1, keepdims=True) * free[:, None]
    base = np.floor(raw).astype(np.int64)
    short = free - base.sum(axis=1)  # < k: hand out by largest remainder
    frac = np.where(held, raw - base, -1.0)
    order = (-frac).argsort(axis=1, kind="stable").argsort(axis=1, kind="stable")
    base += order < short[:, None]
    return np.where(held, base + MIN_TARGET, 0)


def _drift(rng: np.random.Generator, targets: np.ndarray, cash_weight: np.ndarray) -> np.ndarray:
    """Target weights moved by a random market shock per class, scaled to leave room for cash."""
    vol = np.array([ASSET_CLASSES[c][3] for c in CLASSES]) * DRIFT_SCALE
    moved = targets * np.exp(rng.normal(0, 1, targets.shape) * vol)
    return moved / moved.sum(axis=1, keepdims=True) * (1 - cash_weight)[:, None]


def make_plan(rng: np.random.Generator, n: int) -> Plan:
    """Draw every portfolio's accounts, policy settings, size and drifted weights."""
    has_cash_target = rng.random(n) < 0.15
    cash_target = np.where(
        has_cash_target, np.array(CASH_TARGETS)[_pick(rng, n, [0.4, 0.4, 0.2])], 0
    )
    targets = _targets(rng, n, 100 - cash_target)
    cash_weight = np.where(
        has_cash_target,
        cash_target / 100 * np.exp(rng.normal(0, 0.15, n)),
        rng.uniform(0.002, 0.03, n),
    )
    class_band = np.where(
        rng.random((n, N_CLASSES)) < 0.15, rng.integers(0, len(CLASS_BANDS), (n, N_CLASSES)), -1
    )
    return Plan(
        n_accounts=_pick(rng, n, [0.45, 0.35, 0.20]) + 1,
        tax_status=rng.choice(3, size=(n, 3), p=[0.4, 0.3, 0.3]),
        targets=targets,
        cash_target=cash_target,
        default_band=_pick(rng, n, [0.4, 0.3, 0.3]),
        class_band=np.where(targets > 0, class_band, -1),
        rebalance_to=_pick(rng, n, [0.6, 0.2, 0.2]),
        trade_classes=_pick(rng, n, [0.7, 0.3]),
        review=_pick(rng, n, [0.85, 0.05, 0.05, 0.05]),
        total_value=np.clip(np.exp(rng.normal(np.log(25e6), 1.0, n)), 1e6, 2e9),
        class_weight=_drift(rng, targets, cash_weight),
        cash_weight=cash_weight,
    )


# --- positions and lots --------------------------------------------------------------------


def make_holdings(rng: np.random.Generator, plan: Plan, secs: pl.DataFrame) -> pl.DataFrame:
    """Non-cash positions: 1-3 distinct securities per held class, whole shares, exact cents."""
    p_cell, c_cell = np.nonzero(plan.targets)  # row-major: by portfolio, then class
    n_cells = len(p_cell)
    size = 1 + rng.binomial(2, 0.4, n_cells)
    start = rng.integers(0, PER_CLASS, n_cells)
    stride = rng.integers(1, PER_CLASS, n_cells)
    cell = np.repeat(np.arange(n_cells), size)
    j = _group_offsets(size)
    p = p_cell[cell]
    sec = c_cell[cell] * PER_CLASS + (start[cell] + j * stride[cell]) % PER_CLASS
    share = rng.gamma(2.0, size=len(cell))
    share /= np.bincount(cell, weights=share)[cell]
    value = plan.total_value[p] * plan.class_weight[p_cell[cell], c_cell[cell]] * share
    price = secs["price_cents"].to_numpy()[sec]
    qty = np.maximum(1, np.rint(value * 100 / price)).astype(np.int64)
    return pl.DataFrame(
        {
            "portfolio": p,
            "account": (rng.random(len(cell)) * plan.n_accounts[p]).astype(np.int64),
            "sec": sec,
            "class_idx": c_cell[cell],
            "qty": qty,
            "price_cents": price,
            "mv_cents": qty * price,
        }
    )


def make_cash(rng: np.random.Generator, plan: Plan) -> pl.DataFrame:
    """One CASH position per account, splitting the portfolio's cash at random."""
    p = np.repeat(np.arange(plan.n), plan.n_accounts)
    share = rng.gamma(2.0, size=len(p))
    share /= np.bincount(p, weights=share)[p]
    cents = np.maximum(100, np.rint(plan.total_value[p] * plan.cash_weight[p] * share * 100))
    return pl.DataFrame(
        {
            "portfolio": p,
            "account": _group_offsets(plan.n_accounts),
            "cents": cents.astype(np.int64),
        }
    )


def positions_frame(
    holdings: pl.DataFrame, cash: pl.DataFrame, secs: pl.DataFrame, as_of: date, width: int
) -> pl.DataFrame:
    """Canonical positions rows (strings, as written), with the portfolio index for splitting."""
    sec_ids = secs["security_id"]
    held = holdings.select(
        "portfolio",
        "account",
        pl.lit(0).alias("is_cash"),
        sec_ids.gather(holdings["sec"]).alias("security_id"),
        pl.col("qty").cast(pl.String).alias("quantity"),
        _money("price_cents").alias("price"),
        _money("mv_cents").alias("market_value"),
    )
    cash_rows = cash.select(
        "portfolio",
        "account",
        pl.lit(1).alias("is_cash"),
        pl.lit("CASH").alias("security_id"),
        _money("cents").alias("quantity"),
        pl.lit("1.00").alias("price"),
        _money("cents").alias("market_value"),
    )
    rows = pl.concat([held, cash_rows]).sort("portfolio", "account", "is_cash", "security_id")
    return rows.select(
        "portfolio",
        pl.lit(as_of.isoformat()).alias("as_of_date"),
        _account_ids(rows, width),
        "security_id",
        "quantity",
        "price",
        "market_value",
        pl.lit("USD").alias("currency"),
    )


def _account_ids(rows: pl.DataFrame, width: int) -> pl.Series:
    """``A00042-1``: portfolio index and account number."""
    acct = (rows["account"] + 1).cast(pl.String)
    return (_ids("A", rows["portfolio"].to_numpy(), width) + "-" + acct).alias("account_id")


def lots_frame(
    rng: np.random.Generator, holdings: pl.DataFrame, secs: pl.DataFrame, as_of: date, width: int
) -> pl.DataFrame:
    """1-5 lots per holding: quantities add up exactly, acquired in the last five years."""
    qty = holdings["qty"].to_numpy()
    size = np.minimum(rng.integers(1, 6, len(qty)), qty)
    pos = np.repeat(np.arange(len(qty)), size)
    n = len(pos)
    lot_qty = _split_quantity(rng.integers(1, 1000, n), pos, size, qty)
    age = rng.integers(1, 5 * 365 + 1, n)
    acquired = np.datetime64(as_of.isoformat()) - age.astype("timedelta64[D]")
    price = holdings["price_cents"].to_numpy()[pos]
    per_share = np.maximum(1, price * np.exp(-(0.06 * age / 365.25 + rng.normal(0, 0.2, n))))
    frame = pl.DataFrame(
        {
            "portfolio": holdings["portfolio"].to_numpy()[pos],
            "account": holdings["account"].to_numpy()[pos],
            "security_id": secs["security_id"].gather(holdings["sec"].to_numpy()[pos]),
            "acquired_date": pl.Series(acquired).cast(pl.String),
            "qty": lot_qty,
            "cost_cents": np.rint(lot_qty * per_share).astype(np.int64),
        }
    ).sort("portfolio", "account", "security_id", "acquired_date", maintain_order=True)
    return frame.select(
        "portfolio",
        pl.lit(as_of.isoformat()).alias("as_of_date"),
        _account_ids(frame, width),
        "security_id",
        _ids("L", np.arange(n), 8).alias("lot_id"),
        "acquired_date",
        pl.col("qty").cast(pl.String).alias("quantity"),
        _money("cost_cents").alias("cost_basis"),
    )


def _split_quantity(
    weight: np.ndarray, group: np.ndarray, size: np.ndarray, qty: np.ndarray
) -> np.ndarray:
    """Split each ``qty`` into ``size`` positive whole parts by integer weights, summing exactly."""
    cum = np.cumsum(weight)
    group_total = np.bincount(group, weights=weight).astype(np.int64)
    group_cum = cum - np.repeat(np.cumsum(group_total) - group_total, size)
    alloc = (qty - size)[group] * group_cum // group_total[group]  # last part of a group: all
    prev = np.where(_group_offsets(size) == 0, 0, np.roll(alloc, 1))
    return 1 + alloc - prev


# --- breaches (for the stats: the pipeline should find the same count) ----------------------

NONE = 1e9  # a half-width that never binds
# band text → (absolute half-width, relative half-width); a band is the narrower of the two
BAND_WIDTHS: dict[str, tuple[float, float]] = {
    "500bp": (0.05, NONE),
    "25%rel": (NONE, 0.25),
    "5/25": (0.05, 0.25),
    "300bp": (0.03, NONE),
    "20%rel": (NONE, 0.20),
    "700bp": (0.07, NONE),
}


def _half_widths(band_idx: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Half-widths for band indices into ``BANDS + CLASS_BANDS`` around fractional targets."""
    widths = np.array([BAND_WIDTHS[b] for b in (*BANDS, *CLASS_BANDS)])
    return np.minimum(widths[band_idx, 0], widths[band_idx, 1] * target)


def count_breaches(plan: Plan, holdings: pl.DataFrame, cash: pl.DataFrame) -> int:
    """Portfolios with a class (or targeted cash) outside its band, from the written cents."""
    n = plan.n
    key = holdings["portfolio"].to_numpy() * N_CLASSES + holdings["class_idx"].to_numpy()
    class_mv = np.bincount(key, weights=holdings["mv_cents"].to_numpy(), minlength=n * N_CLASSES)
    class_mv = class_mv.reshape(n, N_CLASSES)
    cash_mv = np.bincount(
        cash["portfolio"].to_numpy(), weights=cash["cents"].to_numpy(), minlength=n
    )
    total = class_mv.sum(axis=1) + cash_mv
    target = plan.targets / 100
    band = np.where(plan.class_band >= 0, len(BANDS) + plan.class_band, plan.default_band[:, None])
    out = np.abs(class_mv / total[:, None] - target) > _half_widths(band, target)
    cash_t = plan.cash_target / 100
    cash_out = np.abs(cash_mv / total - cash_t) > _half_widths(plan.default_band, cash_t)
    return int(((out & (plan.targets > 0)).any(axis=1) | (cash_out & (plan.cash_target > 0))).sum())


# --- IPS files -----------------------------------------------------------------------------

IPS_TEMPLATE = """\
id: {id}
name: {name}
base_currency: USD
accounts:
{accounts}review: {review}
rebalance_to: {rebalance_to}
trade_classes: {trade_classes}
default_band: {default_band}
asset_classes:
{classes}{extra}"""


@dataclass(frozen=True)
class Extras:
    """Optional IPS sections, drawn per portfolio."""

    reserve: np.ndarray  # dollars per account, 0 = no cash section
    min_trade: np.ndarray  # dollars, 0 = no trading section
    lot_method: np.ndarray  # indices into LOT_METHODS
    avoid_short: np.ndarray  # bool
    do_not_sell: list[str | None]


def make_extras(rng: np.random.Generator, plan: Plan, first_holding: list[str]) -> Extras:
    """Draw the optional sections: cash reserve, minimum trade, tax settings, restrictions."""
    n = plan.n
    restricted = rng.random(n) < 0.05
    return Extras(
        reserve=np.where(rng.random(n) < 0.1, np.array([10_000, 25_000])[rng.integers(0, 2, n)], 0),
        min_trade=np.where(rng.random(n) < 0.3, np.array([1_000, 5_000])[rng.integers(0, 2, n)], 0),
        lot_method=_pick(rng, n, [0.3, 0.4, 0.3]),
        avoid_short=rng.random(n) < 0.8,
        do_not_sell=[
            s if r else None for s, r in zip(first_holding, restricted.tolist(), strict=True)
        ],
    )


def _extra_sections(i: int, ex: Extras, taxable: bool) -> str:
    """The optional YAML sections for portfolio ``i``."""
    out = []
    if ex.reserve[i]:
        out.append(f"cash: {{reserve: {ex.reserve[i]}}}\n")
    if ex.min_trade[i]:
        out.append(f"trading: {{min_trade: {ex.min_trade[i]}, whole_shares: true}}\n")
    if taxable:
        avoid = "true" if ex.avoid_short[i] else "false"
        out.append(
            f"tax: {{lot_method: {LOT_METHODS[ex.lot_method[i]]}, "
            f"avoid_short_term_gains: {avoid}}}\n"
        )
    if ex.do_not_sell[i]:
        out.append(f"restrictions: {{do_not_sell: [{ex.do_not_sell[i]}]}}\n")
    return "".join(out)


def ips_texts(plan: Plan, extras: Extras, width: int) -> dict[str, str]:
    """portfolio id → IPS YAML text (a template per portfolio; no YAML library)."""
    targets, bands = plan.targets.tolist(), plan.class_band.tolist()
    taxes, n_acc = plan.tax_status.tolist(), plan.n_accounts.tolist()
    texts: dict[str, str] = {}
    for i in range(plan.n):
        num = str(i).zfill(width)
        statuses = [TAX_STATUSES[t] for t in taxes[i][: n_acc[i]]]
        accounts = "".join(
            f'  - {{id: "A{num}-{k + 1}", tax_status: {s}}}\n' for k, s in enumerate(statuses)
        )
        classes = "".join(
            f"  {c}: {{target: {t}%" + (f", band: {CLASS_BANDS[b]}" if b >= 0 else "") + "}\n"
            for c, t, b in zip(CLASSES, targets[i], bands[i], strict=True)
            if t
        )
        if plan.cash_target[i]:
            classes += f"  cash: {{target: {plan.cash_target[i]}%}}\n"
        texts[f"pf-{num}"] = IPS_TEMPLATE.format(
            id=f"pf-{num}",
            name=f"Synthetic {KINDS[i % len(KINDS)]} {num}",
            accounts=accounts,
            review=REVIEWS[plan.review[i]],
            rebalance_to=REBALANCE_TO[plan.rebalance_to[i]],
            trade_classes=TRADE_CLASSES[plan.trade_classes[i]],
            default_band=BANDS[plan.default_band[i]],
            classes=classes,
            extra=_extra_sections(i, extras, "taxable" in statuses),
        )
    return texts


# --- writing -------------------------------------------------------------------------------


def write_drops(frame: pl.DataFrame, inbox: Path, stem: str, n_files: int, n: int) -> list[Path]:
    """Split rows (sorted by portfolio) into ``n_files`` custodian drops by portfolio range."""
    part = frame["portfolio"].to_numpy() * n_files // n
    bounds = np.searchsorted(part, np.arange(n_files + 1))
    paths = []
    for k in range(n_files):
        path = inbox / f"{stem}_{k + 1:02d}.csv"
        frame.slice(int(bounds[k]), int(bounds[k + 1] - bounds[k])).drop("portfolio").write_csv(
            path
        )
        paths.append(path)
    return paths


def write_securities(secs: pl.DataFrame, path: Path) -> Path:
    """The security master, with empty identical groups left blank."""
    cols = ["security_id", "symbol", "name", "asset_class", "identical_group", "isin", "cusip"]
    secs.select(cols).with_columns(
        pl.when(pl.col("identical_group") != "").then(pl.col("identical_group"))
    ).write_csv(path)
    return path


def generate_workspace(
    root: Path,
    n_portfolios: int,
    *,
    seed: int = 7,
    as_of: date = date(2026, 9, 30),
    lots: bool = True,
) -> GeneratedStats:
    """Create a synthetic workspace at ``root`` (which must be new or empty)."""
    t0 = time.perf_counter()
    root = Path(root)
    if n_portfolios < 1:
        raise ValueError("n_portfolios must be at least 1")
    if root.exists() and any(root.iterdir()):
        raise FileExistsError(f"{root}: not empty; generate into a new folder")
    ws = init(root)
    r_sec, r_plan, r_hold, r_cash, r_lots, r_extra = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(6)
    )
    width = max(5, len(str(n_portfolios - 1)))
    secs = make_securities(r_sec)
    plan = make_plan(r_plan, n_portfolios)
    holdings = make_holdings(r_hold, plan, secs)
    cash = make_cash(r_cash, plan)
    positions = positions_frame(holdings, cash, secs, as_of, width)
    n_files = max(1, round(positions.height / ROWS_PER_FILE))
    stamp = as_of.isoformat()
    written = [write_securities(secs, ws.securities)]
    written += write_drops(positions, ws.inbox, f"custodian_positions_{stamp}", n_files, plan.n)
    n_lots = 0
    if lots:
        lot_rows = lots_frame(r_lots, holdings, secs, as_of, width)
        n_lots = lot_rows.height
        written += write_drops(lot_rows, ws.inbox, f"custodian_lots_{stamp}", n_files, plan.n)
    _, first = np.unique(holdings["portfolio"].to_numpy(), return_index=True)
    first_holding = secs["security_id"].gather(holdings["sec"].to_numpy()[first]).to_list()
    t_ips = time.perf_counter()
    for pid, text in ips_texts(plan, make_extras(r_extra, plan, first_holding), width).items():
        path = ws.ips / f"{pid}.yaml"
        path.write_text(text, encoding="utf-8")
        written.append(path)
    t_ips = time.perf_counter() - t_ips
    return GeneratedStats(
        portfolios=plan.n,
        accounts=int(plan.n_accounts.sum()),
        positions=positions.height,
        lots=n_lots,
        securities=secs.height,
        files=len(written),
        bytes_written=sum(p.stat().st_size for p in written),
        breached_portfolios=count_breaches(plan, holdings, cash),
        seconds=round(time.perf_counter() - t0, 3),
        ips_seconds=round(t_ips, 3),
    )


def main(argv: list[str] | None = None) -> int:
    """CLI: generate one workspace and print its stats as JSON."""
    ap = argparse.ArgumentParser(description="Generate a synthetic ballast workspace.")
    ap.add_argument("dir", type=Path, help="workspace folder to create (new or empty)")
    ap.add_argument("--portfolios", type=int, default=1000, help="number of portfolios")
    ap.add_argument("--seed", type=int, default=7, help="random seed (same seed, same bytes)")
    ap.add_argument("--as-of", type=date.fromisoformat, default=date(2026, 9, 30))
    ap.add_argument("--no-lots", action="store_true", help="write positions only")
    args = ap.parse_args(argv)
    try:
        stats = generate_workspace(
            args.dir, args.portfolios, seed=args.seed, as_of=args.as_of, lots=not args.no_lots
        )
    except (FileExistsError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(stats.as_dict(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
