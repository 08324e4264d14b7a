"""Drift history: the SQL over past runs, the chart geometry and the report section."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from ballast.reporting import drift_history
from ballast.reporting.charts import drift_history_chart
from ballast.reporting.html import render_portfolio_report
from ballast.warehouse import db
from tests.reporting.test_report import SCRIPT, seed_context

CURRENT = {"run_id": "R-now", "as_of": "2026-09-30", "kind": "quarterly_review"}


def _run(
    con, run_id: str, as_of: str, started: str, *, kind="quarterly_review", status="completed"
):
    con.execute(
        "insert into runs (run_id, kind, as_of, trigger, who, code_version, started_at, ended_at,"
        " status) values (?, ?, ?, 'manual', 'alice', '0.1', ?, ?, ?)",
        [run_id, kind, as_of, started, started, status],
    )


def _alloc(con, run_id: str, pid: str, cls: str, weight: str, breached: bool = False) -> None:
    w = float(weight)
    con.execute(
        "insert into run_portfolios (run_id, portfolio_id, status, breached, action, total_value,"
        " errors, warnings) select ?, ?, 'ok', ?, 'none', 100, [], [] "
        "where not exists (select 1 from run_portfolios where run_id = ? and portfolio_id = ?)",
        [run_id, pid, breached, run_id, pid],
    )
    con.execute(
        "insert into run_allocations (run_id, portfolio_id, asset_class, market_value, weight,"
        " target, lower_bound, upper_bound, drift_bp, breached) "
        "values (?, ?, ?, 1, ?, 0.6, 0.55, 0.65, ?, ?)",
        [run_id, pid, cls, w, round((w - 0.6) * 10000, 2), breached],
    )


@pytest.fixture
def con(tmp_path: Path):
    with db.connect(tmp_path / "warehouse.duckdb") as c:
        _run(c, "R-q1", "2026-03-31", "2026-04-03 07:00")
        _run(c, "R-q2a", "2026-06-30", "2026-07-03 07:00")
        _run(c, "R-q2b", "2026-06-30", "2026-07-04 07:00")  # the latest for 2026-06-30
        _run(c, "R-fail", "2026-06-30", "2026-07-05 07:00", status="failed")
        _run(c, "R-mon", "2026-05-15", "2026-05-15 21:00", kind="monitor")
        _run(c, "R-later", "2026-12-31", "2027-01-05 07:00")
        for run_id, w in [("R-q1", "0.61"), ("R-q2a", "0.70"), ("R-q2b", "0.66"), ("R-mon", "0.5")]:
            _alloc(c, run_id, "p1", "equity", w, breached=w == "0.66")
            _alloc(c, run_id, "p2", "equity", "0.58")
        _alloc(c, "R-fail", "p1", "equity", "0.99")
        _alloc(c, "R-later", "p1", "equity", "0.99")
        yield c


def test_sql_keeps_the_latest_completed_review_per_as_of_before_the_run(con) -> None:
    """Failed runs, monitors, later reviews and superseded runs of the same as-of are left out."""
    got = drift_history.fetch(con, CURRENT, ["p1", "p2"])
    p1 = [(p["as_of"], p["run_id"], p["drift_bp"], p["breached"]) for p in got["p1"]]
    assert p1 == [("2026-03-31", "R-q1", "100", False), ("2026-06-30", "R-q2b", "600", True)]
    assert [p["as_of"] for p in got["p2"]] == ["2026-03-31", "2026-06-30"]
    assert got["p1"][0]["lower_bp"] == "-500" and got["p1"][0]["upper_bp"] == "500"
    assert drift_history.fetch(con, CURRENT, ["nobody"]) == {}


def test_sql_uses_bound_parameters_only() -> None:
    """The query text binds every value (no string formatting of ids or dates)."""
    text = db.sql_text("marts/drift_history")
    assert "$as_of" in text and "$run_id" in text and "$portfolio_ids" in text
    assert "{" not in text


def _points() -> list[dict]:
    rows = [
        ("2026-03-31", "equity", "100", False),
        ("2026-06-30", "equity", "600", True),
        ("2026-09-30", "equity", "-50", False),
        ("2026-06-30", SCRIPT, "10", False),
        ("2026-09-30", SCRIPT, "20", False),
    ]
    return [
        {
            "as_of": d,
            "asset_class": c,
            "drift_bp": v,
            "lower_bp": "-500",
            "upper_bp": "500",
            "breached": b,
        }
        for d, c, v, b in rows
    ]


def test_chart_geometry_orders_dates_and_places_points() -> None:
    """One panel per class, dates left to right, higher drift higher up, band around zero."""
    chart = drift_history_chart(_points())
    assert [d["label"] for d in chart["dates"]] == ["2026-03-31", "2026-06-30", "2026-09-30"]
    xs = [d["x"] for d in chart["dates"]]
    assert xs == sorted(xs) and xs[0] == chart["plot_x0"] and xs[-1] == chart["plot_x1"]
    equity, other = chart["panels"]
    assert equity["label"] == "equity" and other["top"] > equity["bottom"]
    ys = [p["y"] for p in equity["points"]]
    assert ys[1] < equity["zero_y"] < ys[2] < ys[0] or ys[1] < ys[0] < equity["zero_y"] < ys[2]
    assert all(equity["top"] <= y <= equity["bottom"] for y in ys)
    assert [p["breached"] for p in equity["points"]] == [False, True, False]
    assert equity["points"][1]["label"] == "+600 bp" and equity["limit_label"] == "+1000 bp"
    assert equity["band_path"].startswith("M ") and equity["band_path"].endswith(" Z")
    assert [p["x"] for p in other["points"]] == xs[1:]  # a class missing at a date skips it
    assert chart["height"] > other["bottom"]


def test_chart_needs_two_review_dates() -> None:
    """A first review (one date) has no chart."""
    assert drift_history_chart(_points()[2:3]) is None
    assert drift_history_chart([]) is None


def test_section_renders_two_earlier_runs_escaped() -> None:
    """The report draws the history with the current run last; hostile class names are escaped."""
    ctx = seed_context()
    ctx["drift_history"] = _points()
    html = render_portfolio_report(ctx)
    section = html.split('id="drift-history"')[1].split("</section>")[0]
    assert section.count("<svg") == 1 and "2026-03-31" in section and "+600 bp" in section
    assert "<script>" not in html.split("</style>", 1)[1] and "&lt;script&gt;" in section
    assert "dh-breach" in section and "outside band" in section


def test_section_says_when_there_is_no_history() -> None:
    """First review: the section says there is nothing earlier to chart."""
    ctx = seed_context()
    ctx["drift_history"] = drift_history.current_points(CURRENT, ctx["portfolio"])
    html = render_portfolio_report(ctx)
    assert "this is its first, so there is no history to chart yet" in html
    assert len(ctx["drift_history"]) == 2


def test_current_points_are_bands_in_bp() -> None:
    """The run's own point: drift and band limits in bp, classes without target left out."""
    ctx = seed_context()
    (eq, _bonds) = drift_history.current_points(CURRENT, ctx["portfolio"])[:2]
    assert (eq["lower_bp"], eq["upper_bp"]) == ("-500", "500") and eq["as_of"] == "2026-09-30"
    assert drift_history.current_points({**CURRENT, "kind": "monitor"}, ctx["portfolio"]) == []


def test_duckdb_date_param_roundtrip(con: duckdb.DuckDBPyConnection) -> None:
    """An as-of given with a time part still compares as a date."""
    got = drift_history.fetch(con, {**CURRENT, "as_of": "2026-06-30"}, ["p1"])
    assert [p["run_id"] for p in got["p1"]] == ["R-q1"]
    assert dt.date.fromisoformat(got["p1"][0]["as_of"])


@pytest.mark.slow
def test_real_review_draws_two_earlier_reviews(tmp_path: Path, prefect_harness) -> None:
    """A real review after two recorded earlier ones: the seed report charts all three dates."""
    from ballast.flows.review import quarterly_review

    from tests.conftest import copy_demo

    ws = copy_demo(tmp_path / "ws")
    with db.connect(ws.warehouse) as c:
        for run_id, as_of, eq in [("R-1", "2026-03-31", "0.62"), ("R-2", "2026-06-30", "0.67")]:
            _run(c, run_id, as_of, f"{as_of} 23:00")
            _alloc(c, run_id, "seed-60-40", "global_equity", eq, breached=eq == "0.67")
    summary = quarterly_review(workspace=str(ws.root), as_of="2026-09-30")
    html = (Path(summary["report_dir"]) / "seed-60-40.html").read_text(encoding="utf-8")
    section = html.split('id="drift-history"')[1].split("</section>")[0]
    assert section.count("<svg") == 1
    for label in ("2026-03-31", "2026-06-30", "2026-09-30", "+700 bp", "+637.17 bp"):
        assert label in section
    assert "ig_bonds" in section  # the run's own classes appear even without earlier points
