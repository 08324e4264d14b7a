"""One sparse linear programme per portfolio, built from the variable frames in one pass."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy import sparse

# class rows per class: dev+, dev-, band up, band low, sell cap, buy cap
_SELL_COEF = np.array([-1.0, 1.0, -1.0, 1.0, 1.0, 0.0])


_BUY_COEF = np.array([1.0, -1.0, 1.0, -1.0, 0.0, 1.0])


_N_CLASS_ROWS = 6


@dataclass(frozen=True)
class LP:
    """One portfolio's programme: minimise c·x subject to A x ≤ b on the first ``n_ineq`` rows,
    A x = b on the others, 0 ≤ x ≤ ub, x integer where ``integrality`` is 1."""

    c: np.ndarray
    a: sparse.csr_matrix
    b: np.ndarray
    ub: np.ndarray
    n_ineq: int = -1
    integrality: np.ndarray | None = None


def programmes(
    variables: pl.DataFrame,
    classes: pl.DataFrame,
    cash: pl.DataFrame,
    pids: list[str],
    caps: pl.DataFrame | None = None,
) -> list[LP]:
    """Sparse matrices for every portfolio, built from flat triplets in one vectorised pass.

    ``caps`` (portfolio_id, cap_f): the gains budget, one more inequality row per portfolio
    listed, Σ gain_rate × y ≤ cap_f (the net gain realised, a fraction of the total)."""
    p_index = {p: i for i, p in enumerate(pids)}
    n_acc = cash.group_by("portfolio_id").agg(pl.len().alias("n_acc"))
    n_cls = classes.group_by("portfolio_id").agg(pl.len().alias("n_cls"))
    v = (
        variables.join(n_acc, on="portfolio_id")
        .join(n_cls, on="portfolio_id", how="left")
        .with_columns(
            pl.col("portfolio_id").replace_strict(p_index, return_dtype=pl.Int64).alias("p"),
            pl.col("n_cls").fill_null(0),
        )
    )
    for name, dtype in (
        ("gidx", pl.Int64),
        ("unit", pl.Float64),
        ("min_f", pl.Float64),
        ("cap", pl.Float64),
        ("g_whole", pl.Boolean),
        ("g_min", pl.Boolean),
        ("gain_rate", pl.Float64),
    ):
        if name not in v.columns:
            v = v.with_columns(pl.lit(None, dtype).alias(name))
    p, kind = v["p"].to_numpy(), v["kind"].to_numpy()
    col, na = v["col"].to_numpy(), v["n_acc"].to_numpy()
    aidx = v["aidx"].fill_null(-1).to_numpy()
    cidx = v["cidx"].fill_null(-1).to_numpy()
    cash_coef = v["cash_coef"].fill_null(0.0).to_numpy()
    trade = (kind == "sell") | (kind == "buy")
    rows, cols, vals, ps = [], [], [], []

    def add(mask: np.ndarray, row: np.ndarray, val: np.ndarray) -> None:
        keep = mask & (val != 0)
        rows.append(row[keep])
        cols.append(col[keep])
        vals.append(val[keep])
        ps.append(p[keep])

    add(aidx >= 0, aidx, cash_coef)  # cash rows (trades and shortfall)
    class_row0 = na + _N_CLASS_ROWS * cidx
    for k in range(_N_CLASS_ROWS):
        coef = np.where(kind == "sell", _SELL_COEF[k], _BUY_COEF[k])
        add(trade, class_row0 + k, coef)
    for k in (0, 1):
        add(kind == "dev", class_row0 + k, np.full(len(v), -1.0))
    for k in (2, 3):
        add(kind == "band", class_row0 + k, np.full(len(v), -1.0))
    # minimum trade: min × z − Σ x ≤ 0 and Σ x − cap × z ≤ 0, two rows per trade (z binary)
    per_p = v.group_by("p").agg(
        (pl.col("kind") == "bin").sum().alias("n_bin"),
        (pl.col("kind") == "int").sum().alias("n_int"),
    )
    n_bin = dict(per_p.select("p", "n_bin").iter_rows())
    n_eq = dict(per_p.select("p", "n_int").iter_rows())
    v = v.join(per_p.select("p", "n_bin"), on="p", how="left", maintain_order="left")
    min_row0 = na + _N_CLASS_ROWS * v["n_cls"].to_numpy()
    gidx = v["gidx"].fill_null(-1).to_numpy()
    g_min = v["g_min"].fill_null(False).to_numpy()
    g_whole = v["g_whole"].fill_null(False).to_numpy()
    ones = np.ones(len(v))
    add(trade & g_min, min_row0 + 2 * gidx, -ones)
    add(trade & g_min, min_row0 + 2 * gidx + 1, ones)
    add(kind == "bin", min_row0 + 2 * gidx, v["min_f"].fill_null(0.0).to_numpy())
    add(kind == "bin", min_row0 + 2 * gidx + 1, -v["cap"].fill_null(0.0).to_numpy())
    # wash-sale switches (one binary w per key whose recent purchases are still held as lots):
    # a purchased lot sells whole when w is on (−y + ub·w ≤ 0), a loss lot only then
    # (y − ub·w ≤ 0); one row per (lot, rule), after the minimum-trade rows
    cp0 = min_row0 + 2 * v["n_bin"].fill_null(0).to_numpy()
    couple, n_cp = _wash_rows(v)
    if couple.height:
        c_p = couple["p"].to_numpy()
        c_row0 = cp0[couple["first"].to_numpy()] + couple["r"].to_numpy()
        c_sign = couple["sign"].to_numpy()
        for c_col, c_val in (
            (couple["col"].to_numpy(), c_sign),
            (couple["wcol"].to_numpy(), -c_sign * couple["ub"].to_numpy()),
        ):
            rows.append(c_row0)
            cols.append(c_col)
            vals.append(c_val)
            ps.append(c_p)
    n_cp_v = v["p"].replace_strict(n_cp, default=0, return_dtype=pl.Int64).to_numpy()
    # gains budget: Σ gain_rate × y ≤ cap_f, one row after the wash-sale rows
    cap_of = _caps(caps, p_index)
    n_cap_v = v["p"].replace_strict(cap_of, default=None, return_dtype=pl.Float64)
    has_cap = n_cap_v.is_not_null().to_numpy()
    add(has_cap & (kind == "sell"), cp0 + n_cp_v, v["gain_rate"].fill_null(0.0).to_numpy())
    # whole shares: Σ trade variables − unit × count = 0, one equality row per count
    n_ineq = cp0 + n_cp_v + has_cap.astype(np.int64)
    add(trade & g_whole, n_ineq + gidx, ones)
    add(kind == "int", n_ineq + gidx, -v["unit"].fill_null(0.0).to_numpy())
    r, cc, vv, pp = (np.concatenate(x) for x in (rows, cols, vals, ps))
    order = np.argsort(pp, kind="stable")
    r, cc, vv, pp = r[order], cc[order], vv[order], pp[order]
    rhs = _rhs(classes, cash, p_index)
    n = len(pids)
    v_cuts = np.searchsorted(p, np.arange(n + 1))
    e_cuts = np.searchsorted(pp, np.arange(n + 1))
    obj, ub = v["obj"].to_numpy(), v["ub"].to_numpy()
    integer = ((kind == "int") | (kind == "bin") | (kind == "wash")).astype(np.int8)
    out = []
    for i in range(n):
        lo, hi = v_cuts[i], v_cuts[i + 1]
        e0, e1 = e_cuts[i], e_cuts[i + 1]
        budget_rhs = [cap_of[i]] if i in cap_of else []
        ineq = np.concatenate(
            [rhs[i], np.zeros(2 * n_bin.get(i, 0) + n_cp.get(i, 0)), np.array(budget_rhs)]
        )
        b = np.concatenate([ineq, np.zeros(n_eq.get(i, 0))])
        a = sparse.csr_matrix((vv[e0:e1], (r[e0:e1], cc[e0:e1])), shape=(len(b), hi - lo))
        ints = integer[lo:hi]
        out.append(LP(obj[lo:hi], a, b, ub[lo:hi], len(ineq), ints if ints.any() else None))
    return out


def _caps(caps: pl.DataFrame | None, p_index: dict[str, int]) -> dict[int, float]:
    """The gains budget's right-hand side per portfolio index (``programmes``' ``caps``)."""
    if caps is None or caps.is_empty():
        return {}
    return {p_index[pid]: float(c) for pid, c in caps.iter_rows() if pid in p_index}


def _wash_rows(v: pl.DataFrame) -> tuple[pl.DataFrame, dict[int, int]]:
    """The wash-sale switch rows: p, r (row within the portfolio's block), col (the lot's sell
    variable), wcol (its key's switch), ub (the lot's bound), sign (−1: sold whole when on;
    +1: sold only when on), first (the index of a row of ``v`` of the same portfolio); and
    the number of such rows per portfolio."""
    if "wash_role" not in v.columns or "widx" not in v.columns:
        return pl.DataFrame(), {}
    v = v.with_row_index("_i")
    lots = v.filter(pl.col("wash_role").is_not_null() & (pl.col("kind") == "sell"))
    if lots.is_empty():
        return pl.DataFrame(), {}
    switch = v.filter(pl.col("kind") == "wash").select("p", "widx", pl.col("col").alias("wcol"))
    base = lots.select("p", "col", "ub", "widx", "wash_role", "_i")
    whole = base.filter(pl.col("wash_role").is_in(["recent", "recent_loss"])).with_columns(
        pl.lit(-1.0).alias("sign")
    )
    only = base.filter(pl.col("wash_role").is_in(["loss", "recent_loss"])).with_columns(
        pl.lit(1.0).alias("sign")
    )
    rows = (
        pl.concat([whole, only])
        .join(switch, on=["p", "widx"])
        .sort("p", "col", "sign")
        .with_columns(
            pl.int_range(pl.len()).over("p").alias("r"),
            pl.col("_i").first().over("p").alias("first"),
        )
    )
    counts = dict(rows.group_by("p").agg(pl.len()).iter_rows())
    return rows, {int(k): int(n) for k, n in counts.items()}


def _rhs(classes: pl.DataFrame, cash: pl.DataFrame, p_index: dict[str, int]) -> list[np.ndarray]:
    """Right-hand sides per portfolio: idle cash per account, then six rows per class."""
    out: list[list[np.ndarray]] = [[] for _ in p_index]
    for (pid,), g in cash.sort("aidx").group_by("portfolio_id"):
        out[p_index[pid]].append((g["idle_cash"].cast(pl.Float64) / g["T"]).to_numpy())
    cls_rhs = classes.sort("cidx").select(
        "portfolio_id",
        pl.concat_list(
            pl.col("d") - pl.col("v"),
            pl.col("v") - pl.col("d"),
            pl.col("upper") - pl.col("v"),
            pl.col("v") - pl.col("lower"),
            pl.col("max_sell_f"),
            pl.col("max_buy_f"),
        ).alias("rhs"),
    )
    for (pid,), g in cls_rhs.group_by("portfolio_id"):
        if pid in p_index:
            out[p_index[pid]].append(np.asarray(g["rhs"].explode().to_numpy(), dtype=float))
    return [np.concatenate(parts) if parts else np.zeros(0) for parts in out]


# --- solve ----------------------------------------------------------------------------------
