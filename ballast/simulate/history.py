"""Monthly return series: the bundled US history or a user's CSV, as one aligned float matrix.

Bundled series (all monthly, simple returns as fractions):

- ``market``: Ken French's US market, ``Mkt-RF + RF`` (the files hold percent);
- ``tbill``: the one-month T-bill, ``RF``;
- ``bond``: a bond leg derived from Moody's AAA yield ``y`` (a fraction) with a stated modified
  duration ``D`` in years: ``r_t ≈ y_{t-1}/12 − D·(y_t − y_{t-1})`` (carry plus the first-order
  price change; convexity and the yields being monthly averages are ignored).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np
import polars as pl

from ballast.errors import BallastError

BUNDLED = "bundled"
DEFAULT_DURATION = 7.0


@dataclass(frozen=True)
class History:
    """Aligned monthly returns: ``returns[t, j]`` is series ``names[j]`` in month ``months[t]``."""

    names: tuple[str, ...]
    months: np.ndarray  # (T,) int YYYYMM
    returns: np.ndarray  # (T, M) float64 simple returns

    def column(self, name: str) -> np.ndarray:
        return self.returns[:, self.index(name)]

    def index(self, name: str) -> int:
        if name not in self.names:
            raise BallastError(f"no return series {name!r}; available: {', '.join(self.names)}")
        return self.names.index(name)

    @property
    def calendar_months(self) -> np.ndarray:
        """Month of the year (1..12) of each row."""
        return self.months % 100

    def label(self, t: int | np.integer) -> str:
        m = int(self.months[t])
        return f"{m // 100:04d}-{m % 100:02d}"

    def window(self, start: str | None = None, end: str | None = None) -> History:
        """Rows from ``start`` to ``end`` inclusive (``YYYY-MM``)."""
        lo = parse_month(start) if start else int(self.months[0])
        hi = parse_month(end) if end else int(self.months[-1])
        keep = (self.months >= lo) & (self.months <= hi)
        if keep.sum() < 2:
            raise BallastError(f"the history has fewer than two months between {start} and {end}")
        return History(self.names, self.months[keep], self.returns[keep])


def parse_month(text: str) -> int:
    """``"1926-07"`` or ``"192607"`` → 192607."""
    digits = str(text).strip().replace("-", "").replace("/", "")[:6]
    if len(digits) != 6 or not digits.isdigit() or not 1 <= int(digits[4:]) <= 12:
        raise BallastError(f"{text!r} is not a month (write YYYY-MM)")
    return int(digits)


def bundled_dir() -> Path:
    """``examples/history`` in a checkout, else the copy packaged with the wheel."""
    here = Path(__file__).resolve()
    for candidate in (
        here.parents[2] / "examples" / "history",
        here.parents[1] / "_resources" / "examples" / "history",
    ):
        if (candidate / "frenchdata.csv.gz").exists():
            return candidate
    raise BallastError("the bundled history (examples/history) is missing from this install")


def bond_returns(yields: np.ndarray, duration: float) -> np.ndarray:
    """Monthly bond returns from yields (fractions): ``y_{t-1}/12 − D·Δy``; one shorter."""
    if duration < 0:
        raise BallastError(f"bond duration must not be negative, got {duration}")
    return yields[:-1] / 12.0 - duration * np.diff(yields)


def load_bundled(duration: float = DEFAULT_DURATION, root: Path | None = None) -> History:
    """French market and T-bill returns with the AAA bond leg, 1926-07..2018-11."""
    root = root or bundled_dir()
    french = pl.read_csv(io.BytesIO(_gunzip(root / "frenchdata.csv.gz")))
    months = french["Date"].cast(pl.Int64).to_numpy()
    rf = french["RF"].cast(pl.Float64).to_numpy() / 100.0
    market = french["Mkt-RF"].cast(pl.Float64).to_numpy() / 100.0 + rf

    moody = pl.read_csv(io.BytesIO(_gunzip(root / "default.csv.gz")))
    parts = moody["Date"].str.split("/")
    ymonths = (parts.list.get(2).cast(pl.Int64) * 100 + parts.list.get(0).cast(pl.Int64)).to_numpy()
    aaa = moody["AAA"].cast(pl.Float64).to_numpy() / 100.0
    bond = bond_returns(aaa, duration)  # bond[i] belongs to ymonths[i + 1]
    by_month = dict(zip(ymonths[1:].tolist(), bond.tolist(), strict=True))
    missing = [int(m) for m in months if int(m) not in by_month]
    if missing:
        raise BallastError(f"Moody's AAA yields do not cover month {missing[0]}")
    bonds = np.array([by_month[int(m)] for m in months])
    return History(("market", "tbill", "bond"), months, np.column_stack([market, rf, bonds]))


def load_csv(path: Path, percent: bool = False) -> History:
    """A user's CSV: a ``month`` column (``YYYY-MM``) and one column of returns per series."""
    try:
        frame = pl.read_csv(path, infer_schema_length=None)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise BallastError(f"{path}: cannot read returns CSV ({exc.__class__.__name__})") from None
    cols = [c.strip() for c in frame.columns]
    frame.columns = cols
    if "month" not in cols:
        raise BallastError(f"{path}: no 'month' column (write YYYY-MM months)")
    names = tuple(c for c in cols if c != "month")
    if not names:
        raise BallastError(f"{path}: no return columns besides 'month'")
    months = np.array([parse_month(str(m)) for m in frame["month"].to_list()], dtype=np.int64)
    if np.any(np.diff(months) <= 0):
        raise BallastError(f"{path}: months must be increasing without repeats")
    data = np.empty((len(months), len(names)))
    for j, name in enumerate(names):
        try:
            col = frame[name].cast(pl.Float64, strict=True)
        except pl.exceptions.PolarsError:
            raise BallastError(f"{path}, column {name}: not a number in every row") from None
        if col.null_count():
            row = cast(int, col.is_null().arg_max()) + 2  # not None: a null exists
            raise BallastError(f"{path}, row {row}, column {name}: missing return")
        data[:, j] = col.to_numpy()
    if percent:
        data /= 100.0
    if np.any(data <= -1.0):
        raise BallastError(
            f"{path}: a return of -100% or less (are they in percent? use --percent)"
        )
    return History(names, months, data)


def _gunzip(path: Path) -> bytes:
    import gzip

    return gzip.decompress(path.read_bytes())
