"""Drift history: each portfolio's drift per asset class at its earlier quarterly reviews.

One query for all portfolios of a run (``sql/marts/drift_history.sql``); the run's own point
comes from its results entries, since a run is recorded only after its reports are written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from functools import lru_cache
from typing import Any

import duckdb

from ballast.warehouse import db

_BP = Decimal(10000)


def _text(value: Any) -> str | None:
    return None if value is None else _normal(str(value))


@lru_cache(maxsize=4096)
def _normal(text: str) -> str:
    """A decimal's text without trailing zeros (``"637.170"`` → ``637.17``), kept per text:
    drifts and band edges recur across a run's portfolios."""
    return f"{Decimal(text).normalize():f}"


@lru_cache(maxsize=1024)
def _band_bp(lower: str, upper: str, target: str) -> tuple[str | None, str | None]:
    """A band's edges as basis points from its target, kept: a run's bands are few."""
    t = Decimal(target)
    return _text((Decimal(lower) - t) * _BP), _text((Decimal(upper) - t) * _BP)


def fetch(
    con: duckdb.DuckDBPyConnection, run: Mapping[str, Any], portfolio_ids: list[str]
) -> dict[str, list[dict[str, Any]]]:
    """Earlier review points of every given portfolio, keyed by portfolio id (decimal strings)."""
    frame = db.query(
        con,
        "marts/drift_history",
        {
            "as_of": dt.date.fromisoformat(str(run["as_of"])[:10]),
            "run_id": run["run_id"],
            "portfolio_ids": list(portfolio_ids),
        },
    )
    out: dict[str, list[dict[str, Any]]] = {}
    for r in frame.iter_rows(named=True):
        out.setdefault(r["portfolio_id"], []).append(
            {
                "as_of": r["as_of"].isoformat(),
                "run_id": r["run_id"],
                "asset_class": r["asset_class"],
                "drift_bp": _text(r["drift_bp"]),
                "lower_bp": _text(r["lower_bp"]),
                "upper_bp": _text(r["upper_bp"]),
                "breached": bool(r["breached"]),
            }
        )
    return out


def current_points(run: Mapping[str, Any], entry: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The run's own point of one portfolio, from its results entry (classes with a target)."""
    if entry.get("status") != "ok" or run.get("kind") != "quarterly_review":
        return []
    out = []
    for ac in entry.get("asset_classes") or []:
        if ac.get("target") is None or ac.get("lower") is None:
            continue
        lower_bp, upper_bp = _band_bp(str(ac["lower"]), str(ac["upper"]), str(ac["target"]))
        out.append(
            {
                "as_of": str(run["as_of"])[:10],
                "run_id": run["run_id"],
                "asset_class": ac["asset_class"],
                "drift_bp": _text(ac.get("drift_bp")),
                "lower_bp": lower_bp,
                "upper_bp": upper_bp,
                "breached": bool(ac.get("breached")),
            }
        )
    return out


def series(
    history: Mapping[str, list[dict[str, Any]]] | None,
    run: Mapping[str, Any],
    entry: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """One portfolio's points for its report: earlier reviews, then this run."""
    earlier = list((history or {}).get(entry["portfolio_id"], []))
    return earlier + current_points(run, entry)
