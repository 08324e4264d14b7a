"""`ballast simulate --ips` on the demo's IPS files (issue 14): their classes (``global_equity``,
``us_equity``, ``ig_bonds`` …) are mapped by name to the bundled history's series, and said so;
a class with no obvious series is one line naming it; the table fits 120 columns with every
policy name whole."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from ballast.cli.simulate import register
from tests.support.paths import ROOT

DEMO_IPS = ROOT / "examples" / "demo" / "ips"


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """Test app."""

    register(app)
    return app


def simulate(app: typer.Typer, *args: object, columns: int = 200) -> Result:
    return CliRunner().invoke(
        app, ["simulate", *map(str, args)], env={"COLUMNS": str(columns)}, catch_exceptions=False
    )


def history(out: Path) -> dict[str, dict]:
    doc = json.loads((out / "simulation.json").read_text())
    return {p["name"]: p["history"] for p in doc["policies"]}


@pytest.mark.parametrize(
    ("name", "mapped"),
    [
        ("seed-60-40", "global_equity=market, ig_bonds=bond"),
        ("harbor-foundation", "us_equity=market, intl_equity=market, ig_bonds=bond"),
        ("okafor-household", "us_equity=market, ig_bonds=bond"),
        ("lakeside-pension", "us_equity=market, ig_bonds=bond"),
    ],
)
def test_demo_ips_simulates_with_classes_mapped_by_name(
    app: typer.Typer, tmp_path: Path, name: str, mapped: str
) -> None:
    """Each demo IPS whose classes are equities and bonds simulates without a config, and the
    command says which series stands for which class."""
    res = simulate(app, "--ips", DEMO_IPS / f"{name}.yaml", "--paths", 0, "--out", tmp_path)
    assert res.exit_code == 0, res.output
    assert f"mapped by class name: {mapped} (bundled history;" in res.output
    assert set(history(tmp_path)) == {
        "never",
        "monthly",
        "quarterly",
        "annual",
        "bands:monthly",
        "ips",
    }


def test_assumed_mapping_is_the_explicit_one(app: typer.Typer, tmp_path: Path) -> None:
    """The name-based mapping gives exactly the figures of the same mapping given with --map
    (and then no mapping line is printed)."""
    ips = DEMO_IPS / "seed-60-40.yaml"
    assumed = simulate(app, "--ips", ips, "--paths", 0, "--out", tmp_path / "a")
    given = simulate(
        app,
        "--ips",
        ips,
        "--map",
        "global_equity=market",
        "--map",
        "ig_bonds=bond",
        "--paths",
        0,
        "--out",
        tmp_path / "b",
    )
    assert assumed.exit_code == given.exit_code == 0, assumed.output + given.output
    assert "mapped by class name" not in given.output
    assert history(tmp_path / "a") == history(tmp_path / "b")
    # the seed case's ±500 bp bands checked monthly on 1926-2018: 65 rebalancing events
    assert history(tmp_path / "a")["bands:monthly"]["events"] == 65


def test_cost_bp_applies_to_classes_mapped_by_name(app: typer.Typer, tmp_path: Path) -> None:
    """--cost-bp sets the cost of every class, mapped by name or not."""
    res = simulate(
        app, "--ips", DEMO_IPS / "seed-60-40.yaml", "--paths", 0, "--cost-bp", 25, "--out", tmp_path
    )
    assert res.exit_code == 0, res.output
    runs = history(tmp_path)
    assert runs["never"]["cost_drag"] == 0
    assert runs["monthly"]["cost_drag"] > 0


def test_class_without_an_obvious_series_is_one_line(app: typer.Typer, tmp_path: Path) -> None:
    """ridge-endowment's real_assets has no bundled series: one line, exit 2, what to do."""
    res = simulate(app, "--ips", DEMO_IPS / "ridge-endowment.yaml", "--out", tmp_path)
    assert res.exit_code == 2
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert lines == [
        "error: no return series for asset class 'real_assets' (the bundled history has "
        "market, bond and tbill): map it in the config's 'mapping' or with "
        "--map real_assets=SERIES"
    ]


def test_table_fits_120_columns_with_policy_names_whole(app: typer.Typer, tmp_path: Path) -> None:
    """At 120 columns, with simulated paths (13 columns), no cell or header is cut."""
    res = simulate(
        app,
        "--ips",
        DEMO_IPS / "seed-60-40.yaml",
        "--paths",
        20,
        "--years",
        5,
        "--out",
        tmp_path,
        columns=120,
    )
    assert res.exit_code == 0, res.output
    assert "…" not in res.output
    table = res.output.splitlines()
    assert all(len(line) <= 120 for line in table)
    for name in ("bands:monthly", "quarterly", "ips"):
        assert any(line.lstrip().startswith(f"{name} ") for line in table), name
    for header in ("avg wt", "turn/y", "W p50", "sd ln W"):
        assert header in res.output
