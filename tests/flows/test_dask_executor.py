"""Shards on a real Dask cluster (issue #13): a scheduler and two worker processes started here
on loopback, Prefect's ``DaskTaskRunner`` in front of them. A review there writes the same run
folder and records the same results as a local review of the same workspace; a worker killed
while it runs a shard costs nothing; a scheduler that does not answer is one line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support import dask_cluster, same_run

AS_OF = "2026-09-30"
N = 24
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]


def _copy(generated: Path, folder: Path) -> Path:
    ws = folder / "ws"
    shutil.copytree(generated, ws)
    return ws


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """24 generated portfolios and one refused IPS among them."""
    return same_run.generated_with_a_refused_ips(tmp_path_factory.mktemp("dask") / "ws", N, seed=13)


@pytest.fixture(scope="module")
def local_run(generated: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    """The reference: the same workspace reviewed on this machine, one shard."""
    from ballast.flows.review import quarterly_review

    ws = tmp_path_factory.mktemp("local") / "ws"
    shutil.copytree(generated, ws)
    with pytest.MonkeyPatch.context() as mp:
        same_run.fixed_identity(mp)
        return quarterly_review(workspace=str(ws), as_of=AS_OF, executor="local"), ws


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    with dask_cluster.started(tmp_path_factory.mktemp("cluster"), workers=2) as c:
        yield c


def _same_as_local(local_run: tuple[dict, Path], summary: dict, ws: Path) -> None:
    local, local_ws = local_run
    assert summary["status"] == local["status"] == "completed_with_errors"
    assert summary["rows"] == local["rows"] and len(summary["rows"]) == N + 1
    a, b = same_run.files(Path(local["report_dir"])), same_run.files(Path(summary["report_dir"]))
    assert list(a) == list(b) and len(a) == N + 1 + 4  # reports, index, results, two CSVs
    assert [name for name in a if a[name] != b[name]] == []
    assert b["trades.csv"].count(b"\n") > 1  # the generated portfolios do trade
    assert same_run.recorded(local_ws) == same_run.recorded(ws)


def test_review_on_a_cluster_is_the_local_review(
    generated: Path,
    local_run: tuple[dict, Path],
    cluster: dask_cluster.Cluster,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Five shards on two worker processes: every file of the run folder, trades.csv and
    results.json included, and every recorded row are the local review's."""
    from ballast.flows.review import quarterly_review

    same_run.fixed_identity(monkeypatch)
    ws = _copy(generated, tmp_path)
    summary = quarterly_review(
        workspace=str(ws), as_of=AS_OF, executor="dask", address=cluster.address, shard_size=5
    )
    _same_as_local(local_run, summary, ws)


def test_ips_files_seen_before_are_parsed_on_the_workers_only(
    generated: Path,
    local_run: tuple[dict, Path],
    cluster: dask_cluster.Cluster,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With the accounts of every IPS kept from before (``policy_accounts``), the coordinator
    parses only the refused IPS (never kept): the workers parse the rest, and the run is the
    local review's to the byte."""
    from ballast.flows.review import quarterly_review

    from ballast.cluster.policy_accounts import PolicyAccounts
    from ballast.portfolio.models import read_folder
    from ballast.portfolio.policy_set import find_policies, read_texts
    from ballast.warehouse import db
    from ballast.workspace import Workspace

    same_run.fixed_identity(monkeypatch)
    ws = Workspace(_copy(generated, tmp_path))
    with db.connect(ws.warehouse) as con:
        known = PolicyAccounts(con, read_folder(ws.models), ws.root)
        known.accounts(read_texts(ws, find_policies(ws)))
    parsed: list[str] = []
    real = PolicyAccounts._parse

    def spy(self: PolicyAccounts, read: object, pids: list[str]) -> set[str]:
        parsed.extend(pids)
        return real(self, read, pids)  # type: ignore[arg-type]

    monkeypatch.setattr(PolicyAccounts, "_parse", spy)
    summary = quarterly_review(
        workspace=str(ws.root), as_of=AS_OF, executor="dask", address=cluster.address, shard_size=5
    )
    _same_as_local(local_run, summary, ws.root)
    assert parsed == local_run[0]["invalid"] and len(parsed) == 1


def test_review_on_a_local_cluster_is_the_local_review(
    generated: Path,
    local_run: tuple[dict, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """--executor dask with no address: a LocalCluster of worker processes started for the run,
    whose workers write the reports into the run folder themselves; the same run again."""
    from ballast.flows.review import quarterly_review

    same_run.fixed_identity(monkeypatch)
    ws = _copy(generated, tmp_path)
    summary = quarterly_review(workspace=str(ws), as_of=AS_OF, executor="dask", shard_size=5)
    _same_as_local(local_run, summary, ws)


def test_a_worker_killed_mid_shard_loses_nothing(
    generated: Path,
    local_run: tuple[dict, Path],
    cluster: dask_cluster.Cluster,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first worker to start a shard is killed (SIGKILL) as it starts it: the scheduler
    gives the shard to another worker and the run is still exactly the local review."""
    from ballast.flows.review import quarterly_review
    from distributed import Client
    from distributed.diagnostics.plugin import WorkerPlugin

    marker = tmp_path / "killed"

    class KillFirstShard(WorkerPlugin):
        """Kills its worker the first time any worker starts executing a task."""

        def __init__(self, marker: str) -> None:
            self.marker = marker

        def transition(self, key: object, start: str, finish: str, **kwargs: object) -> None:
            import os
            import signal

            if finish == "executing":
                try:
                    fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
                except FileExistsError:
                    return
                os.close(fd)
                os.kill(os.getpid(), signal.SIGKILL)

    cluster.add_worker("spare")  # two survive the kill
    cluster.wait_for_workers(3)
    with Client(cluster.address) as client:
        client.register_plugin(KillFirstShard(str(marker)), name="kill-first-shard")
    same_run.fixed_identity(monkeypatch)
    ws = _copy(generated, tmp_path)
    try:
        summary = quarterly_review(
            workspace=str(ws), as_of=AS_OF, executor="dask", address=cluster.address, shard_size=5
        )
    finally:
        with Client(cluster.address) as client:
            client.unregister_worker_plugin("kill-first-shard")
    assert marker.exists()  # a worker was killed mid-run
    assert sum(w.poll() is not None for w in cluster.workers) == 1
    _same_as_local(local_run, summary, ws)


def test_a_scheduler_that_does_not_answer_is_one_error(generated: Path, tmp_path: Path) -> None:
    """Nothing listens at the address: a ClusterError (exit 69) naming it, after the wait."""
    from ballast.flows.review import quarterly_review

    from ballast.errors import EXIT_ORCHESTRATOR, ClusterError
    from ballast.ops.local_server import free_port

    ws = _copy(generated, tmp_path)
    (ws / "ballast.yaml").write_text(
        "execution:\n  executor: dask\n  connect_timeout_seconds: 3\n", encoding="utf-8"
    )
    address = f"tcp://127.0.0.1:{free_port()}"
    with pytest.raises(ClusterError) as caught:
        quarterly_review(workspace=str(ws), as_of=AS_OF, address=address)
    assert caught.value.exit_code == EXIT_ORCHESTRATOR
    assert f"the Dask scheduler at {address} did not answer within 3 s" in str(caught.value)


def test_a_worker_with_other_code_is_refused_before_any_work(
    generated: Path, cluster: dask_cluster.Cluster, tmp_path: Path
) -> None:
    """The cluster's workers report another ballast version (a WorkerPlugin sets it in each
    worker process, and puts it back after): one ClusterError naming a worker and the
    difference, exit 69, and no run folder."""
    from ballast.flows.review import quarterly_review
    from distributed import Client
    from distributed.diagnostics.plugin import WorkerPlugin

    from ballast.errors import EXIT_ORCHESTRATOR, ClusterError

    class OtherVersion(WorkerPlugin):
        def setup(self, worker: object) -> None:
            import ballast

            self.real = ballast.__version__
            ballast.__version__ = "0.0.9"

        def teardown(self, worker: object) -> None:
            import ballast

            ballast.__version__ = self.real

    ws = _copy(generated, tmp_path)
    with Client(cluster.address) as client:
        client.register_plugin(OtherVersion(), name="other-version")
    try:
        with pytest.raises(ClusterError) as caught:
            quarterly_review(
                workspace=str(ws), as_of=AS_OF, executor="dask", address=cluster.address
            )
    finally:
        with Client(cluster.address) as client:
            client.unregister_worker_plugin("other-version")
            from ballast.cluster import versions

            assert not versions.mismatches(versions.fingerprint(), client.run(versions.fingerprint))
    message = str(caught.value)
    assert caught.value.exit_code == EXIT_ORCHESTRATOR and "\n" not in message
    assert message.startswith(f"the Dask scheduler at {cluster.address}: worker tcp://127.0.0.1:")
    assert ": ballast 0.0.9, not " in message and "install the same ballast" in message
    assert not (ws / "reports").exists() or not any((ws / "reports").rglob("results.json"))


def test_a_shard_that_fails_on_data_is_reported_and_the_rest_goes_on(
    generated: Path,
    local_run: tuple[dict, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A shard whose review raises (not a transient fault: no retry) is reported portfolio by
    portfolio as invalid, with the reason; every other shard is the local review's. Workers are
    threads of this process here, so the fault can be planted in the review itself."""
    import json

    from ballast.flows.review import quarterly_review

    from ballast import review

    ids = [r["portfolio_id"] for r in local_run[0]["rows"]]
    shard = ids[5:10]  # the second of five-portfolio shards
    real = review.compute

    def compute(snap, pset, **kwargs):  # type: ignore[no-untyped-def]
        if shard[2] in [p.id for p in pset.policies]:
            raise ValueError("a value no review can take")
        return real(snap, pset, **kwargs)

    monkeypatch.setattr(review, "compute", compute)
    same_run.fixed_identity(monkeypatch)
    ws = _copy(generated, tmp_path)
    with dask_cluster.in_process() as address:
        summary = quarterly_review(
            workspace=str(ws),
            as_of=AS_OF,
            executor="dask",
            address=address,
            shard_size=5,
        )
    assert summary["status"] == "completed_with_errors"
    assert summary["invalid"] == sorted(set(shard) | set(local_run[0]["invalid"]))
    local_rows = {r["portfolio_id"]: r for r in local_run[0]["rows"]}
    for row in summary["rows"]:
        if row["portfolio_id"] not in shard:
            assert row == local_rows[row["portfolio_id"]]
    doc = json.loads((Path(summary["report_dir"]) / "results.json").read_text())
    reasons = {
        e["portfolio_id"]: e["errors"] for e in doc["portfolios"] if e["portfolio_id"] in shard
    }
    why = "not reviewed: its shard failed on the cluster (ValueError: a value no review can take)"
    assert reasons == {pid: [why] for pid in shard}


def test_a_transient_fault_in_a_shard_is_retried_on_the_cluster(
    generated: Path,
    local_run: tuple[dict, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A shard's review meets a transient fault once (``FileInFlux``, as an inbox file replaced
    while read): Prefect retries the task on the cluster (``retries:`` in ballast.yaml) and the
    run is exactly the local review, each shard counted once. Workers are threads of this
    process, so the fault can be planted in the review itself."""
    from ballast.flows.review import quarterly_review

    from ballast import review
    from ballast.ops.transient import FileInFlux

    ids = [r["portfolio_id"] for r in local_run[0]["rows"]]
    target, calls = ids[12], []
    real = review.compute

    def compute(snap, pset, **kwargs):  # type: ignore[no-untyped-def]
        if target in [p.id for p in pset.policies]:
            calls.append(target)
            if len(calls) == 1:
                raise FileInFlux("a file changed while it was read")
        return real(snap, pset, **kwargs)

    monkeypatch.setattr(review, "compute", compute)
    same_run.fixed_identity(monkeypatch)
    ws = _copy(generated, tmp_path)
    (ws / "ballast.yaml").write_text(
        "retries:\n  attempts: 2\n  delay_seconds: 0\n", encoding="utf-8"
    )
    with dask_cluster.in_process() as address:
        summary = quarterly_review(
            workspace=str(ws),
            as_of=AS_OF,
            executor="dask",
            address=address,
            shard_size=5,
        )
    assert calls == [target, target]  # failed once, retried once
    (ws / "ballast.yaml").unlink()  # recorded inputs: the same workspace as the local review's
    _same_as_local(local_run, summary, ws)
