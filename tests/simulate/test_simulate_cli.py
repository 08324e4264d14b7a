"""Tests of `ballast simulate` (ballast.cli.simulate) through a tiny Typer app."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from ballast.cli.simulate import register
from ballast.portfolio.policy import load_policy
from tests.support.paths import ROOT

IPS = ROOT / "examples" / "simulate" / "sixty-forty.yaml"
CONFIG = ROOT / "examples" / "simulate" / "config" / "sixty-forty.yaml"


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """Test app."""

    register(app)
    return app


def invoke(app, *args):
    return CliRunner().invoke(app, ["simulate", *map(str, args)], env={"COLUMNS": "200"})


def small_run(app, out):
    """The example IPS over 200 paths of 10 years (seed 3), written to ``out``."""
    return invoke(
        app,
        "--ips",
        IPS,
        "--config",
        CONFIG,
        "--paths",
        200,
        "--years",
        10,
        "--seed",
        3,
        "--out",
        out,
    )


def test_example_ips_loads():
    """The example IPS is a valid IPS whose id is its file stem."""
    assert load_policy(IPS).id == "sixty-forty"


def test_simulate_writes_json_and_html(app, tmp_path):
    """A small run writes simulation.json and a self-contained HTML with inline SVG charts."""
    res = small_run(app, tmp_path)
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "simulation.json").read_text())
    assert [p["name"] for p in data["policies"]][:2] == ["never", "monthly"]
    tw = data["policies"][1]["simulated"]["terminal_wealth"]
    assert tw["p5"] < tw["p50"] < tw["p95"]
    html = (tmp_path / "simulation.html").read_text()
    assert (
        html.count("<svg") >= 4 and "<script" not in html and "http" not in html.split("<body>")[0]
    )
    again = tmp_path / "again"
    invoke(
        app,
        "--ips",
        IPS,
        "--config",
        CONFIG,
        "--paths",
        200,
        "--years",
        10,
        "--seed",
        3,
        "--out",
        again,
    )
    assert (again / "simulation.json").read_text() == (tmp_path / "simulation.json").read_text()


def test_vanguard_table_for_1926_2009(app, tmp_path):
    """The Vanguard grid: 1,002 monthly events at 0 %, a handful annually at 10 %, never ≈ 84 %."""
    res = invoke(
        app,
        "--ips",
        IPS,
        "--config",
        CONFIG,
        "--paths",
        0,
        "--end",
        "2009-12",
        "--vanguard",
        "--out",
        tmp_path,
    )
    assert res.exit_code == 0, res.output
    assert "Vanguard" in res.output and "1,008" in res.output
    grid = {
        (r["monitoring"], r["threshold_pct"]): r
        for r in json.loads((tmp_path / "simulation.json").read_text())["vanguard"]
    }
    assert grid[("monthly", 0)]["events"] == 1002
    assert 10 <= grid[("annual", 10)]["events"] <= 20
    assert grid[("never", None)]["equity_weight"] == pytest.approx(0.84, abs=0.01)
    assert grid[("never", None)]["volatility"] > grid[("annual", 5)]["volatility"] + 0.02


def test_user_csv_history_and_map_option(app, tmp_path):
    """--history CSV with --map works without a config file."""
    csv = tmp_path / "r.csv"
    rows = ["month,stocks,cash"] + [
        f"{2000 + i // 12}-{i % 12 + 1:02d},{(-1) ** i * 0.03},0.002" for i in range(48)
    ]
    csv.write_text("\n".join(rows) + "\n")
    res = invoke(
        app,
        "--ips",
        IPS,
        "--history",
        csv,
        "--map",
        "us_equity=stocks",
        "--map",
        "us_bonds=cash",
        "--risk-free",
        "cash",
        "--paths",
        20,
        "--years",
        2,
        "--policy",
        "never",
        "--policy",
        "quarterly",
        "--out",
        tmp_path / "o",
    )
    assert res.exit_code == 0, res.output
    assert (tmp_path / "o" / "simulation.json").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        # a mapping given leaves no class mapped by name (tests/cli/test_simulate_demo_ips.py)
        (["--map", "us_equity=market"], "no return series for asset class 'us_bonds'"),
        (["--config", CONFIG, "--policy", "weekly"], "unknown kind 'weekly'"),
        (["--config", CONFIG, "--map", "us_equity=gold"], "no return series 'gold'"),
        (["--config", CONFIG, "--paths", -1], "option paths"),
        (["--config", CONFIG, "--phase", 12], "a calendar phase is 0..11 or 'all'"),
    ],
)
def test_user_mistakes_are_one_line(app, tmp_path, args, message):
    """A user's mistake exits 2 with one line naming it, no traceback."""
    res = invoke(app, "--ips", IPS, *args, "--out", tmp_path)
    assert res.exit_code == 2
    assert message in res.output and "Traceback" not in res.output
    assert len(res.output.strip().splitlines()) == 1


def test_phase_shifts_the_calendar(app, tmp_path):
    """--phase 1: quarterly trades at Jan/Apr/Jul/Oct month-ends, so its first trade on the
    1926-07.. history is July 1926 (phase 0: September); never and monthly are unchanged."""
    runs = {}
    for phase in (0, 1):
        out = tmp_path / str(phase)
        res = invoke(
            app, "--ips", IPS, "--config", CONFIG, "--paths", 0, "--phase", phase, "--out", out
        )
        assert res.exit_code == 0, res.output
        doc = json.loads((out / "simulation.json").read_text())
        assert doc["config"]["phase"] == phase and doc["phases"] is None
        runs[phase] = {p["name"]: p for p in doc["policies"]}
    assert runs[0]["quarterly"]["history_events"][:2] == ["1926-09", "1926-12"]
    assert runs[1]["quarterly"]["history_events"][:2] == ["1926-07", "1926-10"]
    assert runs[1]["quarterly"]["description"].endswith("phase 1 (Jan/Apr/Jul/Oct)")
    for name in ("never", "monthly", "bands:monthly"):
        assert runs[0][name]["history"] == runs[1][name]["history"]
    assert runs[0]["quarterly"]["history"]["cagr"] != runs[1]["quarterly"]["history"]["cagr"]


def test_phase_all_reports_the_spread(app, tmp_path):
    """--phase all: a timing-luck table (within 120 columns) and, in the JSON and the HTML, each
    policy's figures at every phase with their min / median / max / spread; the main tables
    stay at phase 0."""
    args = ["--ips", IPS, "--config", CONFIG, "--paths", 0, "--phase", "all", "--out", tmp_path]
    res = CliRunner().invoke(app, ["simulate", *map(str, args)], env={"COLUMNS": "120"})
    assert res.exit_code == 0, res.output
    assert "Timing luck" in res.output and "…" not in res.output
    assert all(len(line) <= 120 for line in res.output.splitlines())
    doc = json.loads((tmp_path / "simulation.json").read_text())
    phases = {p["policy"]: p for p in doc["phases"]}
    assert {k: v["phases"] for k, v in phases.items()} == {
        "never": 1,
        "monthly": 1,
        "quarterly": 3,
        "annual": 12,
        "bands:monthly": 1,
        "ips": 3,
    }
    q = phases["quarterly"]
    main = {p["name"]: p["history"] for p in doc["policies"]}
    assert q["runs"][0]["cagr"] == main["quarterly"]["cagr"]  # phase 0 is the main run
    d = q["dispersion"]["cagr"]
    assert d["min"] <= d["median"] <= d["max"] and d["spread"] > 0.001  # > 10 bp on 1926-2018
    html = (tmp_path / "simulation.html").read_text()
    assert "Timing luck" in html and 'aria-label="CAGR by calendar phase"' in html


def test_taxable_run_prices_liquidation(app, tmp_path):
    """A taxable run (issue 14: buy and hold was never taxed on liquidation) reports, for every
    policy, the extra tax of selling everything at the end and the CAGR after it; buy and hold,
    which defers every gain, owes the most."""
    cfg = tmp_path / "taxable.yaml"
    cfg.write_text(CONFIG.read_text() + "\ntaxable: true\n")
    res = invoke(
        app, "--ips", IPS, "--config", cfg, "--paths", 0, "--phase", "all", "--out", tmp_path
    )
    assert res.exit_code == 0, res.output
    assert "Tax (estimate)" in res.output and "Timing luck after tax" in res.output
    doc = json.loads((tmp_path / "simulation.json").read_text())
    hist = {p["name"]: p["history"] for p in doc["policies"]}
    share = {k: h["liquidation_tax"] / h["terminal_wealth"] for k, h in hist.items()}
    assert max(share, key=share.__getitem__) == "never" and hist["never"]["tax_paid"] == 0
    assert all(h["after_tax_cagr"] < h["cagr"] for h in hist.values())
    assert "after_tax_cagr" in {p["policy"]: p for p in doc["phases"]}["annual"]["dispersion"]
    assert "CAGR after liquidation" in (tmp_path / "simulation.html").read_text()


@pytest.mark.slow
def test_simulation_report_in_chromium(app, tmp_path):
    """The simulation report renders in headless Chromium with its charts, not blank."""
    from PIL import Image

    from tests.support.browser import dump_dom, screenshot

    res = small_run(app, tmp_path)
    assert res.exit_code == 0, res.output
    html = tmp_path / "simulation.html"
    png = screenshot(html, tmp_path / "sim.png", size=(1200, 2400))
    assert len(Image.open(png).convert("RGB").getcolors(maxcolors=1 << 20) or []) > 50
    dom = dump_dom(html, tmp_path)
    assert dom.count("<svg") >= 4 and "Wealth fan per policy" in dom
