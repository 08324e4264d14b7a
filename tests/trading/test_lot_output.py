"""Issue 12, defect 5: lot-level instructions in results.json and trade_lots.csv, and the
replacement shares' adjusted basis and holding period, from a review through DuckDB.

The 40-share case of ``test_wash_sale_review`` under ``wash_sale: warn`` (the wash sale is kept
and reported): T sells 5,000 X at $100 with min_tax: L1 3,000 (bought 2024-03-01 at $120: cost
$360,000, gain −$60,000) and 2,000 of L2 (bought 2016-01-04 at $60: cost $120,000, gain
+$80,000), both long-term. The 40 X reinvested 2026-09-18 for $3,920 replace 40 of L1's 3,000
shares: 40 × $20 = $800 disallowed; their basis becomes $3,920 + $800 = $4,720, and their
holding period counts from 2026-09-18 − 943 days (L1 held 2024-03-01 → 2026-09-30) =
2024-02-18. Tax: 23.8% × (+$20,000 + $800) = $4,950.40.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re

from ballast.reporting import results, results_text
from ballast.workspace import Workspace
from tests.trading.test_wash_sale_review import FORTY, _run

RUN = {"run_id": "r1", "as_of": "2026-09-30", "kind": "quarterly_review", "trigger": "manual"}


def _entries(ws: Workspace, lots: str = FORTY["lots.csv"]) -> list[dict]:
    c = _run(
        ws,
        "heuristic",
        {"X": "equity", "B": "bonds"},
        "equity: {target: 20%}, bonds: {target: 80%}",
        FORTY["positions.csv"],
        lots,
        FORTY["transactions.csv"],
        tax="lot_method: min_tax, wash_sale: warn",
    )
    return results.portfolio_entries(c)


def test_results_json_carries_lots_and_replacements(empty_ws: Workspace) -> None:
    entries = _entries(empty_ws)
    doc = json.loads(results_text.results_document(RUN, entries))
    sale, buy = doc["portfolios"][0]["trades"]
    # the keys that were there stay first and in order; the new ones come last
    assert list(sale)[:12] == [
        "account_id",
        "security_id",
        "side",
        "quantity",
        "price",
        "amount",
        "reason",
        "realized_gain_short_term",
        "realized_gain_long_term",
        "estimated_cost",
        "estimated_tax",
        "wash_sale_disallowed",
    ]
    assert list(sale)[12:] == ["lots", "wash_sale_replacements", "currency", "local_price"]
    assert (sale["currency"], sale["local_price"]) == ("USD", sale["price"])  # a USD portfolio
    assert (sale["estimated_tax"], sale["wash_sale_disallowed"]) == ("4950.40", "800.00")
    assert sale["lots"] == [
        {
            "lot_id": "L2",
            "acquired_date": "2016-01-04",
            "quantity": "2000",
            "cost_basis": "120000.00",
            "term": "long",
            "gain": "80000.00",
            "wash_sale_disallowed": "0.00",
        },
        {
            "lot_id": "L1",
            "acquired_date": "2024-03-01",
            "quantity": "3000",
            "cost_basis": "360000.00",
            "term": "long",
            "gain": "-60000.00",
            "wash_sale_disallowed": "800.00",
        },
    ]
    (repl,) = sale["wash_sale_replacements"]
    assert repl == {
        "sold_lot_id": "L1",
        "sold_account_id": "T",
        "sold_security_id": "X",
        "sale_date": "2026-09-30",
        "account_id": "T",
        "security_id": "X",
        "trade_date": "2026-09-18",
        "source": "reinvest",
        "quantity": "40",
        "disallowed": "800.00",
        "basis_adjustment": "800.00",
        "adjusted_basis": "4720.00",
        "adjusted_acquired_date": "2024-02-18",
        "lost_for_good": "0.00",
    }
    assert buy["lots"] == [] and buy["wash_sale_replacements"] == []


def test_trade_lots_csv_parses_back_and_is_formula_safe(empty_ws: Workspace) -> None:
    """A lot id a spreadsheet would run (``@SUM(1+1)``, a valid identifier) is written inert;
    numbers, negative gains included, stay numbers; no lots: the header alone."""
    hostile = FORTY["lots.csv"].replace(",L1,", ",@SUM(1+1),")
    entries = _entries(empty_ws, hostile)
    rows = list(csv.DictReader(io.StringIO(results_text.trade_lots_csv(entries))))
    assert [r["lot_id"] for r in rows] == ["L2", "'@SUM(1+1)"]
    assert rows[1] | {"lot_id": ""} == {
        "portfolio_id": "h",
        "account_id": "T",
        "security_id": "X",
        "side": "sell",
        "trade_quantity": "5000",
        "price": "100.00",
        "lot_id": "",
        "acquired_date": "2024-03-01",
        "quantity": "3000",
        "cost_basis": "360000.00",
        "term": "long",
        "gain": "-60000.00",
        "wash_sale_disallowed": "800.00",
    }
    assert results_text.trade_lots_csv([]) == ",".join(results_text.TRADE_LOT_COLUMNS) + "\n"


def test_the_report_tells_the_desk_which_lots_to_sell(empty_ws: Workspace) -> None:
    """The HTML report carries the same lot instructions under the sale: each lot relieved
    with its purchase date, shares, basis, term, gain and disallowed loss, and the replacement
    shares' adjusted basis ($3,920 + $800) and tacked holding period (from 2024-02-18)."""
    from ballast.reporting.html import make_environment, render_portfolio_report
    from tests.reporting.test_report import seed_context

    ctx = seed_context()
    ctx["portfolio"] = _entries(empty_ws)[0]
    page = render_portfolio_report(ctx, make_environment())
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", "", page)).split())
    assert (
        "Lots to relieve (versus purchase): L2 bought 2016-01-04: 2,000 sh, basis 120,000.00, "
        "long-term gain 80,000.00; L1 bought 2024-03-01: 3,000 sh, basis 360,000.00, "
        "long-term gain -60,000.00, wash-sale loss disallowed 800.00"
    ) in text
    assert (
        "Replacement shares (wash sale): 40 X in •••• (reinvest, 2026-09-18) take 800.00 of "
        "lot L1's loss: adjusted basis 4,720.00, held from 2024-02-18"
    ) in text
    buy_row = page.split('class="trade"')[2]  # the buy: no lot lines
    assert "trade__lots" not in buy_row.split("</tbody>")[0]
