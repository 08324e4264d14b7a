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


def test_workers_ahead_parse_the_shards_the_review_will_cut(
    demo_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """They parse each shard's IPS files into the workspace's cache while the command starts,
    cut as the review will cut them (``shard_pool.balanced``)."""
    from ballast.portfolio import policy_cache
    from ballast.portfolio.policy_set import find_policies, load_policies

    (demo_ws.root / "ballast.yaml").write_text(
        "execution:\n  local_workers: 2\n  shard_size: 2\n", encoding="utf-8"
    )
    monkeypatch.setattr(shard_pool, "POOL_FROM", 5)
    with app._workers_ahead(demo_ws, None, {}):
        (pool,) = shard_pool._AHEAD
        asked = list(pool._parsing)
        rows = [row for ids in asked for row in pool._parsing[ids].result()]
    shards = shard_pool.balanced(find_policies(demo_ws), 2, 2)
    assert asked == [tuple(s.ids) for s in shards] and len(asked) > 1
    assert len(list(policy_cache.folder(demo_ws.root).glob("*.pickle"))) == len(asked)
    valid = load_policies(demo_ws).policies  # each account of each valid IPS, sent back
    assert sorted(r[1:4:2] for r in rows) == sorted((p.id, a.id) for p in valid for a in p.accounts)
