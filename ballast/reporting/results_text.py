"""The text of a review's machine outputs, from its results entries: results.json (its
document and each entry), trades.csv and trade_lots.csv (``ballast.reporting.results`` makes the
entries). Plain Python and orjson, no dataframe library: a report worker encodes its share of a
run's entries with these while the review's own process computes the next shard.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import orjson

LOT_KEYS = (
    "lot_id",
    "acquired_date",
    "quantity",
    "cost_basis",
    "term",
    "gain",
    "wash_sale_disallowed",
)
"""The keys of each ``lots`` entry of a trade (``trading.tax_detail.LOT_FIELDS``)."""


def results_document(run: dict[str, Any], entries: list[dict[str, Any]]) -> str:
    """The text of results.json (stable key order, two-space indent, trailing newline)."""
    doc = {
        "run_id": run["run_id"],
        "as_of": run["as_of"],
        "kind": run["kind"],
        "trigger": run["trigger"],
        "portfolios": entries,
    }
    return json_text(doc) + "\n"


# --- results.json text -----------------------------------------------------------------------
# Written with orjson (Rust): two-space indent, keys in insertion order, UTF-8 text unescaped,
# as ``json.dumps(doc, indent=2, ensure_ascii=False)`` writes the same document, about ten
# times faster on real entries. Entries hold strings (every number is a decimal string, rounded
# once), booleans, null, lists and mappings; orjson would write a float in its own shortest
# form (1e-05 as 0.00001) where json.dumps differs, which no entry has. What orjson refuses
# (keys that are not strings, integers beyond 64 bits, unknown types) goes to ``json.dumps``,
# which decides.

_INDENT_2 = orjson.OPT_INDENT_2


def json_text(doc: Any, newline: str = "\n") -> str:
    """``doc`` as indented JSON text, each line break followed by ``newline``'s indent."""
    try:
        text = orjson.dumps(doc, option=_INDENT_2).decode("utf-8")
    except TypeError:
        text = json.dumps(doc, indent=2, ensure_ascii=False)
    return text if newline == "\n" else text.replace("\n", newline)


TRADE_COLUMNS = (
    "portfolio_id",
    "account_id",
    "security_id",
    "side",
    "quantity",
    "price",
    "amount",
    "estimated_cost",
    "realized_gain_short_term",
    "realized_gain_long_term",
    "estimated_tax",
    "wash_sale_disallowed",
    "reason",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: Any) -> str:
    """A cell that no spreadsheet will run as a formula; numbers stay numbers."""
    if value is None:
        return ""
    text = str(value)
    if text.startswith(_FORMULA_START):
        try:
            float(text)
            return text
        except ValueError:
            return "'" + text
    return text


TRADE_LOT_COLUMNS = (
    "portfolio_id",
    "account_id",
    "security_id",
    "side",
    "trade_quantity",
    "price",
    *LOT_KEYS,
)


def trade_lots_csv(entries: list[dict[str, Any]]) -> str:
    """trade_lots.csv: one line per lot a proposed sale relieves (the trade's ``lots`` in
    results.json), in the order of results.json; the same formula guard as trades.csv. The
    header only when no sale relieves a lot. Like ``trades_csv``, a shard's lines are this text
    less its first line, so a run folder can write it shard by shard."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(TRADE_LOT_COLUMNS)
    for e in entries:
        for t in e["trades"]:
            trade = {
                "portfolio_id": e["portfolio_id"],
                "account_id": t.get("account_id"),
                "security_id": t.get("security_id"),
                "side": t.get("side"),
                "trade_quantity": t.get("quantity"),
                "price": t.get("price"),
            }
            for lot in t.get("lots") or ():
                row = {**trade, **lot}
                w.writerow(csv_safe(row.get(c)) for c in TRADE_LOT_COLUMNS)
    return buf.getvalue()


def trades_csv(entries: list[dict[str, Any]]) -> str:
    """trades.csv for all portfolios, in the order of results.json."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(TRADE_COLUMNS)
    for e in entries:
        for t in e["trades"]:
            row = {**t, "portfolio_id": e["portfolio_id"]}
            w.writerow(csv_safe(row.get(c)) for c in TRADE_COLUMNS)
    return buf.getvalue()
