"""The quarterly review end to end: real Prefect flow, DuckDB file, GX suites and reports."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ballast.warehouse import db
from ballast.workspace import Workspace
from tests.conftest import copy_demo
from tests.support.browser import dump_dom, screenshot

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]
AS_OF = "2026-09-30"


def review(ws: Workspace, **kw) -> dict:
    from ballast.flows.review import quarterly_review

    return quarterly_review(workspace=str(ws.root), as_of=AS_OF, **kw)


def results(summary: dict) -> dict:
    return json.loads((Path(summary["report_dir"]) / "results.json").read_text())


def entry(doc: dict, pid: str) -> dict:
    return next(p for p in doc["portfolios"] if p["portfolio_id"] == pid)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, prefect_harness) -> tuple[Workspace, dict]:
    """One review of the bundled demo, shared by the tests that only read its outputs."""
    ws = copy_demo(tmp_path_factory.mktemp("demo") / "ws")
    return ws, review(ws)


def test_seed_case_figures(demo_run) -> None:
    """domain.md's corrected seed case: 66.3717% equities, +637.17 bp, $720,000 each way, 60/40."""
    _, summary = demo_run
    seed = entry(results(summary), "seed-60-40")
    assert seed["status"] == "ok" and seed["breached"] and seed["action"] == "rebalance"
    assert seed["total_value"] == "11300000.00"
    eq = seed["asset_classes"][0]
    assert (eq["asset_class"], eq["market_value"], eq["weight"], eq["drift_bp"]) == (
        "global_equity",
        "7500000.00",
        "0.663717",
        "637.17",
    )
    assert (eq["lower"], eq["upper"], eq["breached"], eq["post_trade_weight"]) == (
        "0.550000",
        "0.650000",
        True,
        "0.600000",
    )
    assert seed["asset_classes"][1]["post_trade_weight"] == "0.400000"
    sell, buy = seed["trades"]
    assert (sell["side"], sell["security_id"], sell["quantity"], sell["price"], sell["amount"]) == (
        "sell",
        "GEQ",
        "7200",
        "100.00",
        "720000.00",
    )
    assert (buy["side"], buy["security_id"], buy["amount"]) == ("buy", "IGB", "720000.00")


def test_faulty_feed_is_isolated(demo_run) -> None:
    """The broken custodian file is quarantined; its portfolio is data_invalid, the rest go on."""
    _, summary = demo_run
    doc = results(summary)
    lake = entry(doc, "lakeside-pension")
    assert lake["status"] == "data_invalid" and lake["trades"] == []
    assert (
        "custodian-b_positions_2026-09-30.csv, row 3, column quantity: '125O0' is not a "
        "number" in lake["errors"][0]
    )
    assert summary["invalid"] == ["lakeside-pension"]
    assert {e["status"] for e in doc["portfolios"] if e["portfolio_id"] != "lakeside-pension"} == {
        "ok"
    }
    (q,) = summary["ingest"]["quarantined"]
    assert Path(q["quarantine_path"]).exists()


def test_inside_bands_and_five_25(demo_run) -> None:
    """The foundation needs no trade; the endowment sells only its breached EM sleeve."""
    _, summary = demo_run
    doc = results(summary)
    harbor = entry(doc, "harbor-foundation")
    assert (harbor["breached"], harbor["action"], harbor["trades"]) == (False, "none", [])
    ridge = entry(doc, "ridge-endowment")
    em = next(a for a in ridge["asset_classes"] if a["asset_class"] == "em_equity")
    assert (em["lower"], em["upper"], em["weight"], em["breached"]) == (
        "0.037500",
        "0.062500",
        "0.070400",
        True,
    )
    sells = [t for t in ridge["trades"] if t["side"] == "sell"]
    # 5% of the $49.9M investable base is $2,495,000: sell $1,025,000 = 23,295.45 → 23,296 sh.
    assert [(t["security_id"], t["quantity"]) for t in sells] == [("EMKT", "23296")]
    for a in ridge["asset_classes"]:
        if a["lower"] is not None:
            assert a["lower"] <= a["post_trade_weight"] <= a["upper"]


def test_run_is_recorded(demo_run) -> None:
    """The run, its inputs (files and IPS hashes) and its output hashes are in the db."""
    ws, summary = demo_run
    with db.connect(ws.warehouse) as con:
        status = con.execute(
            "select status from runs where run_id = ?", [summary["run_id"]]
        ).fetchone()[0]
        inputs = con.execute(
            "select role, name from run_inputs where run_id = ? order by all", [summary["run_id"]]
        ).fetchall()
        outputs = dict(
            con.execute(
                "select name, sha256 from run_outputs where run_id = ?", [summary["run_id"]]
            ).fetchall()
        )
    assert status == "completed_with_errors"
    assert ("ips", "seed-60-40.yaml") in inputs
    assert ("positions", "custodian-a_positions_2026-09-30.csv") in inputs
    assert ("securities", "securities.csv") in inputs
    import hashlib

    trades = (Path(summary["report_dir"]) / "trades.csv").read_bytes()
    assert outputs["trades.csv"] == hashlib.sha256(trades).hexdigest()


def _without_run_id(text: str) -> str:
    return re.sub(r'"run_id": "[^"]+"', '"run_id": ""', text)


def test_same_inputs_same_outputs(tmp_path, demo_run) -> None:
    """A second workspace with the same inputs gives byte-identical results.json and trades.csv,
    apart from the run id; so does a second review of the same workspace."""
    _, first = demo_run
    other = review(copy_demo(tmp_path / "again"))
    again = review(demo_run[0])
    for summary in (other, again):
        for name in ("results.json", "trades.csv"):
            a = (Path(first["report_dir"]) / name).read_text()
            b = (Path(summary["report_dir"]) / name).read_text()
            assert _without_run_id(a) == _without_run_id(b), name


def test_monitor_flags_without_trades(tmp_path) -> None:
    """The daily monitor reports breaches and proposes nothing."""
    from ballast.flows.review import monitor

    ws = copy_demo(tmp_path / "ws")
    summary = monitor(workspace=str(ws.root), as_of=AS_OF)
    doc = results(summary)
    assert doc["kind"] == "monitor"
    assert entry(doc, "seed-60-40")["breached"]
    assert all(e["trades"] == [] for e in doc["portfolios"])
    assert not (Path(summary["report_dir"]) / "trades.csv").exists()


def test_report_in_chromium(tmp_path, demo_run) -> None:
    """The real seed report renders in headless Chromium, chart and figures present, escaped."""
    from PIL import Image

    _, summary = demo_run
    html = Path(summary["report_dir"]) / "seed-60-40.html"
    png = screenshot(html, tmp_path / "seed.png")
    img = Image.open(png).convert("RGB")
    assert len(img.getcolors(maxcolors=1 << 20) or []) > 50, "screenshot looks blank"
    dom = dump_dom(html, tmp_path)
    assert '<svg class="band-chart"' in dom
    assert "66.37%" in dom and "720,000.00" in dom
    assert "INST-001" not in dom  # account ids are masked in reports


def test_hostile_text_is_escaped(tmp_path) -> None:
    """A portfolio named with markup shows as text in the report, never as markup."""
    ws = copy_demo(tmp_path / "ws")
    ips = ws.ips / "seed-60-40.yaml"
    ips.write_text(
        ips.read_text().replace(
            "name: Balanced Institutional Portfolio", 'name: "<script>alert(1)</script>"'
        )
    )
    summary = review(ws, portfolios=["seed-60-40"])
    html = (Path(summary["report_dir"]) / "seed-60-40.html").read_text()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_household_sells_in_the_ira(demo_run) -> None:
    """Taxable account with large gains plus an IRA: the sale is in the IRA, no gain realised.

    By hand: $1,655,000 at 77.14% equities; 65% is $1,075,750, so sell $200,850 = 818.1 shares
    of USEQ at $245.50, rounded up to 819 ($201,064.50), all in the IRA. Bonds need $205,330;
    the IRA's $202,744.50 and the taxable account's $2,800 of cash buy 2,058 and 28 AGGB.
    """
    _, summary = demo_run
    hh = entry(results(summary), "okafor-household")
    trades = [(t["account_id"], t["side"], t["security_id"], t["quantity"]) for t in hh["trades"]]
    assert trades == [
        ("HH-IRA", "sell", "USEQ", "819"),
        ("HH-IRA", "buy", "AGGB", "2058"),
        ("HH-TAX", "buy", "AGGB", "28"),
    ]
    assert all(
        t["realized_gain_short_term"] == t["realized_gain_long_term"] == "0.00"
        for t in hh["trades"]
    )
