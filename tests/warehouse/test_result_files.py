"""A run's rows kept on disk until the record stage (``ballast.warehouse.result_files``): written
in order, inserted by name into a real warehouse, removed by recovery when never recorded."""

from __future__ import annotations

from decimal import Decimal

import polars as pl
import pytest

from ballast.audit import records
from ballast.warehouse import db, result_files
from ballast.warehouse.result_files import ResultFiles
from ballast.workspace import Workspace


def _entry(pid: str, trades: int) -> dict:
    return {
        "portfolio_id": pid,
        "status": "ok",
        "breached": bool(trades),
        "action": "rebalance" if trades else "none",
        "total_value": "1000.00",
        "errors": [],
        "warnings": ["w"],
        "asset_classes": [
            {
                "asset_class": "equity",
                "market_value": "1000.00",
                "weight": "1.000000",
                "target": "0.600000",
                "lower": "0.550000",
                "upper": "0.650000",
                "drift_bp": "4000.00",
                "breached": True,
                "post_trade_weight": "0.600000",
            }
        ],
        "trades": [
            {
                "account_id": "A1",
                "security_id": "VTI",
                "side": "sell",
                "quantity": "1.500000",
                "price": "100.000000",
                "amount": "150.00",
                "reason": "rebalance",
            }
        ]
        * trades,
    }


def test_rows_written_shard_by_shard_are_inserted_as_they_were(empty_ws: Workspace) -> None:
    run_id = "20261207T000000Z-abcdef"
    files = ResultFiles.begin(empty_ws, run_id)
    shards = [[_entry("pf-1", 2), _entry("pf-2", 0)], [_entry("pf-3", 0)], [_entry("pf-4", 1)]]
    for i, shard in enumerate(shards):
        files.add(records.result_frames(run_id, shard))  # the second shard has no trades
        files.add_ips({e["portfolio_id"]: f"{i:064x}" for e in shard})
        files.add_outputs({f"{e['portfolio_id']}.html": f"{i + 1:064x}" for e in shard})
    files.add_outputs({})  # nothing written since: no file
    assert [p.name for p in files.files("run_trades")] == [
        "run_trades-000000.parquet",
        "run_trades-000001.parquet",
    ]
    assert files.rows == {
        "run_portfolios": 4,
        "run_allocations": 4,
        "run_trades": 3,
        "run_inputs": 4,
        "run_outputs": 4,
    }
    with pytest.raises(ValueError, match="not a result table"):
        files.add({"positions": pl.DataFrame({"x": [1]})})
    with db.connect(empty_ws.warehouse) as con:
        for table in result_files.TABLES:
            db.append_parquet(con, table, files.files(table))
        trades = con.execute(
            "select portfolio_id, quantity, amount from run_trades order by all"
        ).fetchall()
        inputs = con.execute("select role, name, file_id from run_inputs order by name").fetchall()
        portfolios = con.execute(
            "select portfolio_id, total_value, warnings from run_portfolios order by 1"
        ).fetchall()
        outputs = con.execute("select name, sha256 from run_outputs order by 1").fetchall()
    assert trades == [("pf-1", Decimal("1.500000"), Decimal("150.00"))] * 2 + [
        ("pf-4", Decimal("1.500000"), Decimal("150.00"))
    ]
    assert inputs == [("ips", f"pf-{i}.yaml", None) for i in range(1, 5)]
    assert portfolios == [(f"pf-{i}", Decimal("1000.00"), ["w"]) for i in range(1, 5)]
    assert outputs[2] == ("pf-3.html", f"{2:064x}")


def test_recovery_removes_the_folders_of_runs_not_alive(empty_ws: Workspace) -> None:
    for run_id in ("old-run", "this-run"):
        ResultFiles.begin(empty_ws, run_id).add_outputs({"a.html": "0" * 64})
    assert result_files.tidy(empty_ws, {"this-run"}) == ["old-run"]
    assert [d.name for d in result_files.results_dir(empty_ws).iterdir()] == ["this-run"]
    result_files.remove(empty_ws, "this-run")
    assert not list(result_files.results_dir(empty_ws).iterdir())
