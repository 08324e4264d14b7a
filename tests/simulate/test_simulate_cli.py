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
    ],
)
def test_user_mistakes_are_one_line(app, tmp_path, args, message):
    """A user's mistake exits 2 with one line naming it, no traceback."""
    res = invoke(app, "--ips", IPS, *args, "--out", tmp_path)
    assert res.exit_code == 2
    assert message in res.output and "Traceback" not in res.output
    assert len(res.output.strip().splitlines()) == 1


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
