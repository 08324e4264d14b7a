"""A review is written shard by shard (issue #15, bounded memory): however it is cut, the run
folder and the recorded results are byte for byte those of one shard."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ballast.portfolio.policy_set import PolicyFiles, find_policies, read_policies
from ballast.reporting import outputs, summary
from ballast.workspace import Workspace
from tests.support import same_run

AS_OF = "2026-09-30"
N = 30


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30 generated portfolios and one refused IPS whose id sorts among theirs."""
    return same_run.generated_with_a_refused_ips(
        tmp_path_factory.mktemp("shards") / "ws", N, seed=11
    )


def test_split_keeps_portfolio_id_order(generated: Path) -> None:
    """Shards are runs of consecutive ids, refused IPS files with their neighbours, and the
    shards read one by one are the policies read at once."""
    ws = Workspace(generated)
    found = find_policies(ws)
    shards = found.split(4)
    assert [len(s.ids) for s in shards] == [4] * 7 + [3]
    assert [i for s in shards for i in s.ids] == found.ids
    whole = read_policies(ws, found)
    parts = [read_policies(ws, s) for s in shards]
    assert [p.id for part in parts for p in part.policies] == [p.id for p in whole.policies]
    assert [p for part in parts for p in part.policies] == whole.policies
    (refused,) = whole.errors  # not YAML: refused when read
    assert next(p for p in parts if refused in p.ids).errors == {refused: whole.errors[refused]}
    assert {k: v for p in parts for k, v in p.hashes.items()} == whole.hashes
    assert PolicyFiles().split(4)[0].ids == []
    assert shards[-1].ids == shards[7].ids and shards[1:3] == [shards[1], shards[2]]
    with pytest.raises(IndexError):
        shards[8]


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_shards_write_the_same_run_as_one(
    generated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ballast.flows.review import quarterly_review

    same_run.fixed_identity(monkeypatch)
    whole, sharded = tmp_path / "whole", tmp_path / "sharded"
    shutil.copytree(generated, whole)
    shutil.copytree(generated, sharded)
    one = quarterly_review(workspace=str(whole), as_of=AS_OF)  # one shard, rendered in-process
    monkeypatch.setattr(outputs, "PARALLEL_FROM", 2)  # 8 shards through the report pool
    monkeypatch.setattr(summary, "FULL_TABLE_MAX", 5)  # a large run: the exceptions only
    many = quarterly_review(workspace=str(sharded), as_of=AS_OF, shard_size=4)

    assert len(one["rows"]) == N + 1 and 0 < len(many["rows"]) <= summary.EXCEPTIONS_SHOWN
    same_run.assert_same_review(one, many, whole, sharded, N)


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_a_shard_is_released_once_rendered(
    generated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No shard's computed review (snapshot, frames, policies) outlives the flow waiting for
    Python's cycle collector: Prefect's futures are cycles, so a result kept in a future's state
    would be (``ballast.tasks.handoff``)."""
    import gc

    from ballast.flows.review import quarterly_review

    from ballast.review import Computed

    same_run.fixed_identity(monkeypatch)
    ws = tmp_path / "ws"
    shutil.copytree(generated, ws)
    gc.collect()
    gc.disable()  # garbage cycles stay in the heap, where get_objects finds them
    try:
        monkeypatch.setattr(summary, "FULL_TABLE_MAX", 5)
        done = quarterly_review(workspace=str(ws), as_of=AS_OF, shard_size=4, all_rows=True)
        alive = [o for o in gc.get_objects() if isinstance(o, Computed)]
    finally:
        gc.enable()
    assert done["status"] == "completed_with_errors" and len(done["rows"]) == N + 1
    assert alive == []
