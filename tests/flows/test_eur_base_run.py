"""A EUR-base portfolio holding a USD share, end to end (issue 14 item 8): custodian files in
the inbox, the real review flow, results.json, the report, and `ballast orders` (CSV and FIX).

The figures are ``tests/portfolio/test_fx_eur_base.py``'s, worked by hand there: USQ 1,000 at
USD 125.00 (USD→EUR 0.92: EUR 115.00 a share, EUR 115,000), EUB 850 at EUR 100.00 (EUR
85,000); total EUR 200,000.00; sell 305 USQ (EUR 35,075.00), buy 350 EUB (EUR 35,000.00).
A desk deals USQ in dollars: the sale is a USD order at USD 125.00, 305 × 125 = USD 38,125.00;
the EUB purchase is a EUR order, EUR 35,000.00.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
from pathlib import Path

import simplefix

from ballast.workspace import Workspace
from tests.portfolio.test_fx_eur_base import IPS, POSITIONS, SECURITIES, USD_TO_EUR
from tests.support.one_line import BALLAST, TIMEOUT, env_for

AS_OF = "2026-09-30"


def _ballast(ws: Workspace, cwd: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    proc = subprocess.run(
        [BALLAST, *args, "-w", str(ws.root)],
        cwd=cwd,
        env=env_for(cwd),
        capture_output=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert proc.returncode == 0 and proc.stderr == b"", proc.stderr
    return proc


def test_eur_portfolio_from_inbox_to_orders(empty_ws: Workspace, prefect_harness, tmp_path) -> None:
    from ballast.flows.review import quarterly_review

    empty_ws.securities.write_text(SECURITIES, encoding="utf-8")
    (empty_ws.ips / "eur-base.yaml").write_text(IPS, encoding="utf-8")
    (empty_ws.inbox / "pos.csv").write_text(POSITIONS, encoding="utf-8")
    (empty_ws.inbox / "fx.csv").write_text(USD_TO_EUR, encoding="utf-8")
    out = quarterly_review(workspace=str(empty_ws.root), as_of=AS_OF)
    run_id = out["run_id"]
    folder = empty_ws.root / "reports" / AS_OF / run_id

    doc = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    [entry] = doc["portfolios"]
    assert (entry["status"], entry["base_currency"], entry["total_value"]) == (
        "ok",
        "EUR",
        "200000.00",
    )
    trades = {
        t["security_id"]: (t["side"], t["quantity"], t["price"], t["amount"], t["currency"])
        for t in entry["trades"]
    }
    assert trades == {
        "USQ": ("sell", "305", "115.00", "35075.00", "USD"),
        "EUB": ("buy", "350", "100.00", "35000.00", "EUR"),
    }
    assert {t["security_id"]: t["local_price"] for t in entry["trades"]} == {
        "USQ": "125.00",
        "EUB": "100.00",
    }
    page = (folder / "eur-base.html").read_text(encoding="utf-8")
    assert "EUR" in page and "200,000.00" in page and "35,075.00" in page

    rows = list(
        csv.DictReader(io.StringIO(_ballast(empty_ws, tmp_path, "orders", run_id).stdout.decode()))
    )
    got = [
        (
            r["security_id"],
            r["side"],
            r["quantity"],
            r["currency"],
            r["price"],
            r["estimated_value"],
        )
        for r in rows
    ]
    assert got == [
        ("EUB", "BUY", "350", "EUR", "100.00", "35000.00"),
        ("USQ", "SELL", "305", "USD", "125.00", "38125.00"),
    ]
    fix = tmp_path / "orders.fix"
    _ballast(empty_ws, tmp_path, "orders", run_id, "--format", "fix", "--out", str(fix))
    parser = simplefix.FixParser()
    parser.append_buffer(fix.read_bytes())
    currencies = {}
    while (msg := parser.get_message()) is not None:
        currencies[msg.get(55).decode()] = msg.get(15).decode()
    assert currencies == {"EUB": "EUR", "USQ": "USD"}
