"""Performance and risk (``ballast.reporting.performance``): Modified Dietz per period, chaining,
the policy benchmark, volatility and drawdown, worked by hand; the warehouse's review history
read from a real DuckDB file with ingested custodian files; the report's section."""

from __future__ import annotations

import datetime as dt
import json
import math
import shutil
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from ballast import review
from ballast.audit import records
from ballast.ingest import inbox
from ballast.portfolio import policy_set
from ballast.reporting import performance, performance_view, results
from ballast.reporting.html import render_portfolio_report
from ballast.resources import examples_dir
from ballast.warehouse import db
from ballast.workspace import Workspace
from tests.reporting.test_report import seed_context

d = dt.date
MONEY = pl.Decimal(18, 2)
FLOW = pl.Decimal(38, 4)


def _values(rows: list[tuple[str, dt.date, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        [{"portfolio_id": p, "as_of": a, "value": Decimal(v)} for p, a, v in rows],
        schema={"portfolio_id": pl.String, "as_of": pl.Date, "value": MONEY},
    )


def _flows(rows: list[tuple[str, dt.date, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        [{"portfolio_id": p, "date": a, "amount": Decimal(v)} for p, a, v in rows],
        schema={"portfolio_id": pl.String, "date": pl.Date, "amount": FLOW},
    )


def test_modified_dietz_deposit_on_day_ten_of_thirty() -> None:
    """BMV 100,000 on 2026-01-01, a deposit of 10,000 on 2026-01-11 (day 10 of a 30-day period
    ending 2026-01-31), EMV 112,000:

        r = (112,000 - 100,000 - 10,000) / (100,000 + 10,000 * (30 - 10) / 30)
          = 2,000 / 106,666.67 = 1.875 %

    A flow dated on a period's start belongs to the period before (it is not in this one); a
    flow dated on its end is inside it with weight 0: a withdrawal of 5,000 on 2026-01-31 is
    netted out of the gain but not out of the base."""
    values = _values([("p", d(2026, 1, 1), "100000"), ("p", d(2026, 1, 31), "112000")])
    got = performance.period_returns(
        values,
        _flows([("p", d(2026, 1, 11), "10000"), ("p", d(2026, 1, 1), "999")]),
        ["portfolio_id"],
    ).to_dicts()
    (r,) = got
    assert (r["start"], r["end"], r["days"]) == (d(2026, 1, 1), d(2026, 1, 31), 30)
    assert r["flow"] == Decimal("10000")
    assert r["return"] == pytest.approx(0.01875, abs=1e-15)
    assert performance.fraction(r["return"]) == "0.018750"
    # withdrawal on the last day: r = (107,000 - 100,000 - 10,000 + 5,000) / 106,666.67 = 1.875 %
    values = _values([("p", d(2026, 1, 1), "100000"), ("p", d(2026, 1, 31), "107000")])
    (r,) = performance.period_returns(
        values,
        _flows([("p", d(2026, 1, 11), "10000"), ("p", d(2026, 1, 31), "-5000")]),
        ["portfolio_id"],
    ).to_dicts()
    assert r["flow"] == Decimal("5000") and r["return"] == pytest.approx(0.01875, abs=1e-15)


def test_two_periods_chain_geometrically_and_portfolios_stay_apart() -> None:
    """p: the period above (+1.875 %), then 112,000 -> 100,800 over 30 days with no flow
    (-10 %): since the last review -10 %, year to date 1.01875 * 0.90 - 1 = -8.3125 %.
    Volatility: sample standard deviation of (0.01875, -0.10) = 0.11875 / sqrt(2) = 8.3969 %
    per month; both periods are 30 days, a monthly schedule, annualised x sqrt(12) = 29.0877 %.
    Maximum drawdown: the value went 1 -> 1.01875 -> 0.916875, a fall of 10 % from the peak.
    q, one period of +5 % in the same frame, has not enough history for risk figures."""
    values = _values(
        [
            ("p", d(2026, 1, 1), "100000"),
            ("p", d(2026, 1, 31), "112000"),
            ("p", d(2026, 3, 2), "100800"),
            ("q", d(2026, 1, 1), "200"),
            ("q", d(2026, 3, 2), "210"),
        ]
    )
    periods = performance.period_returns(
        values, _flows([("p", d(2026, 1, 11), "10000")]), ["portfolio_id"]
    ).with_columns(pl.lit(None, pl.Float64).alias("benchmark"))
    s = {r["portfolio_id"]: r for r in performance.summarise(periods, d(2026, 3, 2)).to_dicts()}
    p, q = s["p"], s["q"]
    assert p["last_return"] == pytest.approx(-0.10)
    assert (p["last_start"], p["ytd_start"]) == (d(2026, 1, 31), d(2026, 1, 1))
    assert p["ytd_return"] == pytest.approx(1.01875 * 0.9 - 1)
    assert performance.fraction(p["ytd_return"]) == "-0.083125"
    assert p["std"] == pytest.approx(0.11875 / math.sqrt(2))
    assert p["periods_per_year"] == 12
    assert p["volatility"] == pytest.approx(0.11875 / math.sqrt(2) * math.sqrt(12))
    assert p["max_drawdown"] == pytest.approx(0.10)
    assert q["last_return"] == pytest.approx(0.05) and q["ytd_return"] == pytest.approx(0.05)
    assert q["volatility"] is None and q["max_drawdown"] is None


def test_drawdown_and_irregular_periods_are_per_period() -> None:
    """Returns +10 %, -20 %, +5 % over 40, 91 and 120 days: value 1.10, 0.88, 0.924. The peak
    is 1.10; the deepest point 0.88 is 20 % below it; 0.924 is still 16 % below. Periods of
    different lengths: volatility is per period, the sample standard deviation of the three
    returns (mean -1.6667 %: sqrt((11.6667² + 18.3333² + 6.6667²) / 2) = 16.0728 %), not
    annualised. Year to date at 2026-06-14, with no review on 2025-12-31: the periods ending in
    2026, from the last review before the year (2025-11-15): 0.80 * 1.05 - 1 = -16 %."""
    values = _values(
        [
            ("p", d(2025, 10, 6), "100"),
            ("p", d(2025, 11, 15), "110"),
            ("p", d(2026, 2, 14), "88"),
            ("p", d(2026, 6, 14), "92.40"),
        ]
    )
    periods = performance.period_returns(values, _flows([]), ["portfolio_id"])
    assert periods["days"].to_list() == [40, 91, 120]
    (s,) = performance.summarise(
        periods.with_columns(pl.lit(0.0).alias("benchmark")), d(2026, 6, 14)
    ).to_dicts()
    assert s["max_drawdown"] == pytest.approx(0.20)
    assert s["periods_per_year"] is None
    mean = (0.10 - 0.20 + 0.05) / 3
    sd = math.sqrt(sum((x - mean) ** 2 for x in (0.10, -0.20, 0.05)) / 2)
    assert s["volatility"] == pytest.approx(sd) and performance.fraction(sd) == "0.160728"
    assert (s["ytd_start"], s["ytd_return"]) == (d(2025, 11, 15), pytest.approx(0.8 * 1.05 - 1))
    assert s["ytd_benchmark"] == pytest.approx(0.0)


def test_benchmark_applies_start_targets_to_class_returns() -> None:
    """Targets at the period's start 60 % equity / 40 % bonds; equity returned +10 %, bonds
    -2.2222 %: benchmark 0.6 * 0.10 + 0.4 * -0.022222 = 5.1111 %. A target class with no
    return (nothing held, no flow) is left out and the others scaled up: with only equity
    known, the benchmark is equity's own +10 %."""
    classes = pl.DataFrame(
        {
            "portfolio_id": ["p", "p", "p", "r", "r"],
            "asset_class": ["eq", "fi", "cash", "eq", "fi"],
            "start": [d(2026, 6, 30)] * 5,
            "end": [d(2026, 9, 30)] * 5,
            "return": [0.10, -0.1 / 4.5, None, 0.10, None],
        }
    )
    targets = pl.DataFrame(
        {
            "portfolio_id": ["p", "p", "p", "r", "r"],
            "as_of": [d(2026, 6, 30)] * 5,
            "asset_class": ["eq", "fi", "cash", "eq", "fi"],
            "target": [Decimal("0.6"), Decimal("0.4"), None, Decimal("0.6"), Decimal("0.4")],
        },
        schema_overrides={"target": pl.Decimal(38, 6)},
    )
    got = dict(
        performance.benchmark_returns(classes, targets)
        .select("portfolio_id", "benchmark")
        .iter_rows()
    )
    assert got["p"] == pytest.approx(0.06 - 0.4 * 0.1 / 4.5)
    assert performance.fraction(got["p"]) == "0.051111"
    assert got["r"] == pytest.approx(0.10)


def test_rounding_and_display() -> None:
    """results.json: fractions half to even at 6 decimals; the report: % to 2 decimals, half to
    even, from that figure (0.018750 -> +1.88 %, 0.018650 -> +1.86 %), a minus sign for a loss,
    differences in percentage points."""
    assert performance.fraction(0.0000005) == "0.000000"
    assert performance.fraction(-0.0000004) == "0.000000"
    assert performance.fraction(float("nan")) is None
    pct = performance_view._percent
    assert (pct("0.018750"), pct("0.018650"), pct("-0.083125")) == ("+1.88%", "+1.86%", "−8.31%")
    assert pct("0.160728", sign=False) == "16.07%" and pct(None) == "—"
    assert pct(Decimal("0.0068"), unit=" pp") == "+0.68 pp"
    assert performance_view.view(None) is None
    assert performance_view.view({"periods": []}) is None


# --- from the warehouse: ingested files, reviews recorded -------------------------------------

SECURITIES = (
    "security_id,symbol,name,asset_class,identical_group\n"
    "GEQ,GEQ,Global Equity Index Fund,global_equity,\n"
    "IGB,IGB,Investment Grade Bond Fund,ig_bonds,\n"
)
POSITIONS = "as_of_date,account_id,security_id,quantity,price,market_value,currency\n"
TRANSACTIONS = "transaction_id,trade_date,account_id,security_id,type,quantity,amount,currency\n"


def _workspace(root: Path, *, ingest: bool = True) -> Workspace:
    """seed-60-40 (one account, INST-001) over three quarter ends:

    | date       | GEQ                  | IGB                  | total      |
    |------------|----------------------|----------------------|------------|
    | 2026-03-31 | 60,000 @ 95 = 5.7M   | 40,000 @ 102.50 = 4.1M | 9,800,000  |
    | 2026-06-30 | 60,000 @ 100 = 6.0M  | 40,000 @ 100 = 4.0M  | 10,000,000 |
    | 2026-09-30 | 60,000 @ 110 = 6.6M  | 50,000 @ 98 = 4.9M   | 11,500,000 |

    and on 2026-08-15 a contribution of 1,000,000 spent the same day on 10,000 IGB at 100 (a
    BUY, and a dividend of 5 paid in cash on GEQ on 2026-09-30 that stays in the portfolio:
    no flow for the portfolio; cash 5 on 2026-09-30)."""
    ws = Workspace(root)
    from ballast import workspace

    workspace.init(root)
    shutil.copyfile(examples_dir() / "demo" / "ips" / "seed-60-40.yaml", ws.ips / "seed-60-40.yaml")
    ws.securities.write_text(SECURITIES, encoding="utf-8")
    rows = {
        "2026-03-31": [
            ("GEQ", 60000, "95.00", "5700000.00"),
            ("IGB", 40000, "102.50", "4100000.00"),
        ],
        "2026-06-30": [
            ("GEQ", 60000, "100.00", "6000000.00"),
            ("IGB", 40000, "100.00", "4000000.00"),
        ],
        "2026-09-30": [
            ("GEQ", 60000, "110.00", "6600000.00"),
            ("IGB", 50000, "98.00", "4900000.00"),
            ("CASH", 5, "1", "5.00"),
        ],
    }
    for day, held in rows.items():
        text = POSITIONS + "".join(f"{day},INST-001,{s},{q},{p},{v},USD\n" for s, q, p, v in held)
        (ws.inbox / f"positions_{day}.csv").write_text(text, encoding="utf-8")
    (ws.inbox / "transactions.csv").write_text(
        TRANSACTIONS
        + "T1,2026-08-15,INST-001,CASH,CONTRIBUTION,,1000000.00,USD\n"
        + "T2,2026-08-15,INST-001,IGB,BUY,10000,-1000000.00,USD\n"
        + "T3,2026-09-30,INST-001,GEQ,DIVIDEND,,5.00,USD\n",
        encoding="utf-8",
    )
    if not ingest:  # left in the inbox for a review to ingest
        return ws
    with db.connect(ws.warehouse) as con:
        report = inbox.commit(con, ws, inbox.validate(inbox.stage_workspace(con, ws)))
    assert not report.quarantined, report.quarantined
    return ws


def _record(con, run_id: str, as_of: dt.date, started: str, pset) -> None:
    """Review ``as_of`` from the warehouse and record it as a completed quarterly review."""
    c = review.review(con, pset, as_of)
    (entry,) = results.portfolio_entries(c)
    assert entry["status"] == "ok", entry["errors"]
    con.execute(
        "insert into runs (run_id, kind, as_of, trigger, who, code_version, started_at, ended_at,"
        " status) values (?, 'quarterly_review', ?, 'manual', 'alice', '0.1', ?, ?, 'completed')",
        [run_id, as_of, started, started],
    )
    for table, frame in records.result_frames(run_id, [entry]).items():
        db.append(con, table, frame)


@pytest.fixture
def history_ws(tmp_path: Path) -> Workspace:
    ws = _workspace(tmp_path / "ws")
    pset = policy_set.load_policies(ws)
    with db.connect(ws.warehouse) as con:
        _record(con, "R-q1", d(2026, 3, 31), "2026-04-02 07:00", pset)
        _record(con, "R-q2", d(2026, 6, 30), "2026-07-02 07:00", pset)
    return ws


def _current(ws: Workspace, started: dt.datetime = dt.datetime(2026, 10, 2, 7)):
    pset = policy_set.load_policies(ws)
    with db.connect(ws.warehouse) as con:
        c = review.review(con, pset, d(2026, 9, 30))
        earlier = performance.fetch(
            con, run_id="R-q3", as_of=d(2026, 9, 30), started_at=started, portfolio_ids=pset.ids
        )
    perf = performance.compute(c, earlier, kind="quarterly_review")
    (entry,) = results.portfolio_entries(c, performance=perf)
    return entry, earlier


def test_warehouse_history_gives_the_hand_worked_figures(history_ws: Workspace) -> None:
    """Q2 (91 days, no flow): 10,000,000 / 9,800,000 - 1 = 2.0408 %; benchmark 0.6 * (6.0/5.7 -
    1) + 0.4 * (4.0/4.1 - 1) = 0.6 * 5.2632 % - 0.4 * 2.4390 % = 2.1823 %.

    Q3 (92 days): the contribution of 1,000,000 on 2026-08-15 is day 46, weight (92 - 46) / 92
    = 1/2: r = (11,500,005 - 10,000,000 - 1,000,000) / (10,000,000 + 500,000) = 4.7620 %. The
    BUY and the dividend are not flows of the portfolio. By class: equity 6.0M -> 6.6M and its
    dividend of 5 paid out to cash (a flow out of the class at weight 0) = +10.0001 %; bonds
    4.0M + 1.0M bought at weight 1/2 -> 4.9M: (4.9 - 4.0 - 1.0) / 4.5 = -2.2222 %; benchmark
    0.6 * 10.0001 % + 0.4 * -2.2222 % = 5.1112 %.

    Year to date (from 2026-03-31, no review at 2025-12-31): 1.020408 * 1.047620 - 1 = 6.8999 %.
    Volatility: periods of 91 and 92 days are quarters: |4.7620 % - 2.0408 %| / sqrt(2) * 2 =
    3.8483 % annualised. No fall: maximum drawdown 0."""
    entry, earlier = _current(history_ws)
    assert sorted(set(earlier["as_of"].to_list())) == [d(2026, 3, 31), d(2026, 6, 30)]
    perf = entry["performance"]
    q2 = 10_000_000 / 9_800_000 - 1
    q3 = 1_500_005 / 10_500_000 - 1_000_000 / 10_500_000
    assert (
        [p["return"] for p in perf["periods"]]
        == [
            performance.fraction(q2),
            performance.fraction(q3),
        ]
        == ["0.020408", "0.047620"]
    )
    b2 = 0.6 * (6.0 / 5.7 - 1) + 0.4 * (4.0 / 4.1 - 1)
    b3 = 0.6 * (600_005 / 6_000_000) + 0.4 * (-100_000 / 4_500_000)
    assert (
        [p["benchmark"] for p in perf["periods"]]
        == [
            performance.fraction(b2),
            performance.fraction(b3),
        ]
        == ["0.021823", "0.051112"]
    )
    assert perf["periods"][1]["net_flows"] == "1000000.00"
    assert perf["periods"][1]["days"] == 92 and perf["periods"][0]["days"] == 91
    assert perf["since_last_review"] == {
        "start": "2026-06-30",
        "end": "2026-09-30",
        "return": "0.047620",
        "benchmark": "0.051112",
    }
    assert perf["year_to_date"]["start"] == "2026-03-31"
    assert perf["year_to_date"]["return"] == performance.fraction((1 + q2) * (1 + q3) - 1)
    assert perf["volatility"] == performance.fraction(abs(q3 - q2) / math.sqrt(2) * 2)
    assert (perf["volatility_basis"], perf["periods_per_year"]) == ("annualised", 4)
    assert perf["max_drawdown"] == "0.000000"
    assert perf["benchmark_basis"] == performance_view.BENCHMARK_BASIS
    # results.json: the key comes last and the entry is plain JSON
    assert list(entry)[-1] == "performance"
    assert json.loads(json.dumps(perf)) == perf


def test_history_as_the_run_saw_it(history_ws: Workspace) -> None:
    """A review started before the Q2 run was recorded sees only Q1 (a rerun reads what the run
    read); a monitor has no performance; a first review has none either (null)."""
    entry, _ = _current(history_ws, started=dt.datetime(2026, 7, 1))
    assert [p["end"] for p in entry["performance"]["periods"]] == ["2026-09-30"]
    assert entry["performance"]["since_last_review"]["start"] == "2026-03-31"
    assert entry["performance"]["volatility"] is None
    assert entry["performance"]["max_drawdown"] is None
    entry, _ = _current(history_ws, started=dt.datetime(2026, 3, 1))
    assert entry["performance"] is None
    pset = policy_set.load_policies(history_ws)
    with db.connect(history_ws.warehouse) as con:
        c = review.review(con, pset, d(2026, 9, 30), with_trades=False)
        assert performance.fetch_for(con, {"kind": "monitor"}, pset.ids) is None
    assert performance.compute(c, None, kind="monitor") == {}


def test_report_section_before_the_drift_history(history_ws: Workspace) -> None:
    """The report shows the two rows, the benchmark sentence and the risk figures, right before
    the drift history; with one period it says there is not enough history for risk; without
    performance the section is not in the page at all."""
    entry, _ = _current(history_ws)
    ctx = seed_context()
    ctx["portfolio"]["performance"] = entry["performance"]
    html = render_portfolio_report(ctx)
    assert html.index('id="performance"') < html.index('id="drift-history"')
    section = html.split('id="performance"')[1].split("</section>")[0]
    for text in (
        "Since the last review",
        "Year to date",
        "+4.76%",
        "+5.11%",
        "−0.35 pp",
        "+6.90%",
        "3.85%",
        "annualised from quarterly returns",
        "policy targets applied to the portfolio&#39;s own class returns",
        "1,000,000.00",
        "2026-03-31",
    ):
        assert text in section, text
    one = dict(entry["performance"], volatility=None, max_drawdown=None, volatility_basis=None)
    one["periods"] = one["periods"][-1:]
    ctx["portfolio"]["performance"] = one
    section = render_portfolio_report(ctx).split('id="performance"')[1].split("</section>")[0]
    assert section.count("not enough history (needs two periods between reviews; 1 so far)") == 2
    ctx["portfolio"]["performance"] = None
    assert 'id="performance"' not in render_portfolio_report(ctx)
    assert 'id="performance"' not in render_portfolio_report(seed_context())


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_real_reviews_write_it_and_a_rerun_proves_it(tmp_path: Path) -> None:
    """Two real quarterly reviews (2026-06-30, then 2026-09-30): the first has no performance
    (null, no section); the second's results.json and report carry the Q3 period worked above
    (+4.7620 % against +5.1112 %), and ``ballast rerun`` re-creates its results.json byte for
    byte."""
    from ballast.flows.review import quarterly_review

    from ballast.audit import rerun

    ws = _workspace(tmp_path / "ws", ingest=False)
    first = quarterly_review(workspace=str(ws.root), as_of="2026-06-30")
    second = quarterly_review(workspace=str(ws.root), as_of="2026-09-30")
    (before,) = json.loads((Path(first["report_dir"]) / "results.json").read_text())["portfolios"]
    assert before["status"] == "ok" and before["performance"] is None
    html = (Path(first["report_dir"]) / "seed-60-40.html").read_text(encoding="utf-8")
    assert 'id="performance"' not in html
    folder = Path(second["report_dir"])
    (entry,) = json.loads((folder / "results.json").read_text())["portfolios"]
    assert entry["performance"]["since_last_review"] == {
        "start": "2026-06-30",
        "end": "2026-09-30",
        "return": "0.047620",
        "benchmark": "0.051112",
    }
    assert entry["performance"]["volatility"] is None
    html = (folder / "seed-60-40.html").read_text(encoding="utf-8")
    section = html.split('id="performance"')[1].split("</section>")[0]
    assert "+4.76%" in section and "not enough history" in section
    with db.connect(ws.warehouse) as con:
        got = rerun.rerun(con, ws, second["run_id"])
    assert got.identical, [f.differences for f in got.files]
