"""A local review of many portfolios runs its shards in worker processes
(``ballast.cluster.shard_pool``, issue #15): the run folder and the recorded results are byte
for byte those of the review computed in the flow's process, the IPS files are parsed once (the
workers find them in the workspace's cache), and workers started ahead by the command line are
adopted by the review or stopped."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ballast.cluster import shard_pool
from ballast.config import ExecutionConfig
from ballast.portfolio import policy_cache
from ballast.portfolio.policy_set import PolicyFiles
from ballast.reporting import summary
from ballast.workspace import Workspace
from tests.support import same_run

AS_OF = "2026-09-30"
N = 30


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30 generated portfolios and one refused IPS whose id sorts among theirs."""
    return same_run.generated_with_a_refused_ips(tmp_path_factory.mktemp("pool") / "ws", N, seed=13)


def _files(n: int) -> PolicyFiles:
    return PolicyFiles({f"p{i:05d}": f"p{i:05d}.yaml" for i in range(n)})


@pytest.mark.parametrize(
    ("n", "size", "workers", "sizes"),
    [
        (10_000, 2_500, 2, [2_500] * 4),
        (3_000, 2_500, 2, [1_500, 1_500]),  # not 2,500 and a lone 500
        (1_000, 2_500, 2, [500, 500]),
        (7, 4, 2, [4, 3]),
        (9, 2, 2, [2, 2, 2, 2, 1]),  # 5 shards of 2 would leave one worker alone at the end
        (3, 1, 4, [1, 1, 1]),  # fewer portfolios than workers
        (12, 100, 3, [4, 4, 4]),
    ],
)
def test_shards_are_balanced_over_the_workers(
    n: int, size: int, workers: int, sizes: list[int]
) -> None:

    found = _files(n)
    shards = shard_pool.balanced(found, size, workers)
    assert [len(s.ids) for s in shards] == sizes
    assert [i for s in shards for i in s.ids] == found.ids


def test_how_many_workers() -> None:
    two = ExecutionConfig(local_workers=2)
    assert shard_pool.workers_for(shard_pool.POOL_FROM, two) == 2
    assert shard_pool.workers_for(shard_pool.POOL_FROM - 1, two) == 0  # a small run: in process
    assert shard_pool.workers_for(10**6, ExecutionConfig(local_workers=1)) == 0
    assert shard_pool.workers_for(10**6, ExecutionConfig(local_workers=5)) == 5


def test_workers_started_ahead_are_adopted_once_or_stopped() -> None:
    with shard_pool.ahead(2, 0):
        (started,) = shard_pool._AHEAD
        assert shard_pool.adopt(2, 0) is started and shard_pool._AHEAD == []
        other = shard_pool.adopt(2, 0)  # none left ahead: a new one
        assert other is not started
        other.close()
        started.close()
    with shard_pool.ahead(2, 0):
        (unwanted,) = shard_pool._AHEAD
        fresh = shard_pool.adopt(2, 3)  # another niceness: not the one started ahead
        assert fresh is not unwanted
        assert [unwanted] == shard_pool._AHEAD
        fresh.close()
    assert shard_pool._AHEAD == [] and unwanted._pool is None  # stopped with the block
    with shard_pool.ahead(2, 0, enabled=False):
        assert shard_pool._AHEAD == []


def _reviewed_in_one_process(
    generated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[dict, Path, Path]:
    """Two copies of the generated workspace, ``here`` reviewed in this process (30 <
    ``POOL_FROM``) and ``pooled`` set for two workers; then any run of 2 or more portfolios
    is pooled and shows only its exceptions. Returns (the review of here, here, pooled)."""
    from ballast.flows.review import quarterly_review

    same_run.fixed_identity(monkeypatch)
    here, pooled = tmp_path / "here", tmp_path / "pooled"
    shutil.copytree(generated, here)
    shutil.copytree(generated, pooled)
    (pooled / "ballast.yaml").write_text("execution:\n  local_workers: 2\n", encoding="utf-8")
    one = quarterly_review(workspace=str(here), as_of=AS_OF)
    monkeypatch.setattr(shard_pool, "POOL_FROM", 2)
    monkeypatch.setattr(summary, "FULL_TABLE_MAX", 5)  # a large run: the exceptions only
    return one, here, pooled


def _counting_parses(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sizes of the IPS sets parsed in this process from now on (a worker's are not seen)."""
    from ballast.cluster import policy_accounts
    from ballast.portfolio import policy_set

    parses: list[int] = []
    real = policy_set.parse_texts

    def counted(read: policy_set.PolicyTexts, *args: object) -> policy_set.PolicySet:
        parses.append(len(read.found.names))
        return real(read, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(policy_set, "parse_texts", counted)
    monkeypatch.setattr(policy_accounts, "parse_texts", counted)
    return parses


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_a_review_in_the_shard_pool_writes_the_same_run(
    generated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ballast.flows.review import quarterly_review

    one, here, pooled = _reviewed_in_one_process(generated, tmp_path, monkeypatch)
    parses = _counting_parses(monkeypatch)
    with shard_pool.ahead(2, ExecutionConfig().report_nice):
        (ahead,) = shard_pool._AHEAD
        many = quarterly_review(workspace=str(pooled), as_of=AS_OF, shard_size=4)
        assert shard_pool._AHEAD == [] and ahead._pool is None  # adopted, then stopped

    same_run.assert_same_review(one, many, here, pooled, N)
    # 8 shards of 4 (31 IPS files), each parsed once here to find its accounts and kept in
    # the cache, where its worker found it
    assert sum(parses) == N + 1 and len(parses) == 8
    kept = list(policy_cache.folder(Workspace(pooled).root).glob("*.pickle"))
    assert len(kept) == 8

    parses.clear()  # again: the accounts are known and the workers find every shard kept
    again = quarterly_review(workspace=str(pooled), as_of=AS_OF, shard_size=4)
    assert again["breached"] == one["breached"] and again["trades"] == one["trades"]
    assert parses == [1]  # only the refused file, which is never kept (policy_accounts)


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_shards_parsed_ahead_by_the_workers_are_not_parsed_by_the_review(
    generated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers started ahead parse each shard's IPS files into the cache (as the command
    line has them do while it starts): the review's own process then parses none, and the
    run is byte for byte the one of a review in one process."""
    from ballast.flows.review import quarterly_review

    from ballast.portfolio.policy_set import find_policies

    one, here, pooled = _reviewed_in_one_process(generated, tmp_path, monkeypatch)
    parses = _counting_parses(monkeypatch)
    ws = Workspace(pooled)
    shards = shard_pool.balanced(find_policies(ws), 4, 2)
    assert len(shards) == 8
    with shard_pool.ahead(2, ExecutionConfig().report_nice, root=ws.root, shards=shards):
        many = quarterly_review(workspace=str(pooled), as_of=AS_OF, shard_size=4)
    same_run.assert_same_review(one, many, here, pooled, N)
    # the workers sent the accounts of the valid files and kept every shard parsed in the
    # cache; only the refused file is parsed here, as in a review of files seen before
    assert parses == [1]
    assert len(list(policy_cache.folder(ws.root).glob("*.pickle"))) == 8


def test_a_shard_parsed_ahead_is_kept_once(
    generated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``parse_ahead`` parses a shard not in the cache and leaves one that is; what it keeps
    is what ``parse_cached`` of the same files would parse, refusal included."""
    from ballast.portfolio import models, policy_set

    shutil.copytree(generated, tmp_path / "ws")
    ws = Workspace(tmp_path / "ws")
    found, catalog = policy_set.find_policies(ws), models.read_folder(ws.models)
    ahead = policy_set.parse_ahead(ws, found, catalog)
    assert ahead is not None and len(ahead.policies) == N
    assert policy_set.parse_ahead(ws, found, catalog) is None  # kept: not parsed again
    parses = _counting_parses(monkeypatch)
    read = policy_set.read_texts(ws, found)
    cached = policy_set.parse_cached(read, catalog, ws.root)
    assert parses == []
    parsed = policy_set.parse_texts(read, catalog, ws.root)
    assert [p.id for p in cached.policies] == [p.id for p in parsed.policies]
    assert cached.errors == parsed.errors and len(cached.errors) == 1
    assert cached.policies == parsed.policies


def _polars_threads() -> int:
    import polars

    return polars.thread_pool_size()


def test_workers_share_the_cores() -> None:
    """Each worker's Polars has its share of the cores, not all of them each."""
    import os

    with shard_pool.ShardPool(2) as pool:
        assert pool._pool is not None
        threads = pool._pool.submit(_polars_threads).result()
    assert threads == max(1, (os.cpu_count() or 1) // 2)


def _forever() -> None:
    import time

    time.sleep(3600)


def test_an_aborted_pool_stops_its_running_jobs() -> None:
    """A run that fails or is interrupted stops the workers at once (``abort``): a job in
    progress ends with ``BrokenProcessPool`` instead of being waited for."""
    from concurrent.futures.process import BrokenProcessPool

    pool = shard_pool.ShardPool(2)
    assert pool._pool is not None
    running = pool._pool.submit(_forever)
    pool._pool.submit(_polars_threads).result()  # the workers are up
    pool.abort()
    with pytest.raises(BrokenProcessPool):
        running.result()
    assert pool._pool is None
    with pytest.raises(RuntimeError, match="closed"):
        pool.submit(None)  # type: ignore[arg-type]
