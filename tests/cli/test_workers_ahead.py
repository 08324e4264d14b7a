"""The command line starts a local review's shard workers before it imports Prefect
(``ballast.cli.app._workers_ahead``): only for a local review of at least
``shard_pool.POOL_FROM`` IPS files (or portfolios asked for), with the configured workers and
niceness, and they are stopped when the command ends if the review did not adopt them."""

from __future__ import annotations

import pytest

from ballast.cli import app
from ballast.cluster import shard_pool
from ballast.workspace import Workspace


def _started(ws: Workspace, portfolios: list[str] | None = None, **options: object) -> list:
    with app._workers_ahead(ws, portfolios, dict(options)):
        started = list(shard_pool._AHEAD)
    assert shard_pool._AHEAD == [] and all(p._pool is None for p in started)  # stopped
    return started


def test_workers_start_ahead_of_a_large_local_review(
    demo_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    (demo_ws.root / "ballast.yaml").write_text(
        "execution:\n  local_workers: 2\n  report_nice: 3\n", encoding="utf-8"
    )
    assert _started(demo_ws) == []  # 5 IPS files: below POOL_FROM
    monkeypatch.setattr(shard_pool, "POOL_FROM", 5)
    (pool,) = _started(demo_ws)
    assert (pool.workers, pool.nice) == (2, 3)
    ids = sorted(p.stem for p in demo_ws.ips.glob("*.yaml"))
    assert _started(demo_ws, ids[:2]) == []  # only two portfolios asked for
    assert _started(demo_ws, executor="dask") == []  # the shards run on a cluster


def test_no_workers_ahead_for_settings_the_flow_refuses(
    demo_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shard_pool, "POOL_FROM", 1)
    (demo_ws.root / "ballast.yaml").write_text("execution:\n  shard_size: 0\n", encoding="utf-8")
    assert _started(demo_ws) == []
