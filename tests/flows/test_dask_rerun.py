"""``ballast rerun`` on a real Dask cluster (issue #13): the past run rebuilt shard by shard on a
scheduler and two worker processes started here on loopback is the rerun computed in this
process, byte for byte, and it proves the run as a local rerun does; a shard that fails makes
the rerun fail in one line, recorded in the audit trail."""

from __future__ import annotations

import functools
import json
import shutil
from pathlib import Path

import pytest

from ballast.audit import chain as audit
from ballast.audit import rerun
from ballast.config import ExecutionConfig
from ballast.errors import BallastError
from ballast.warehouse import db
from ballast.workspace import Workspace
from tests.support import dask_cluster, same_run
from tests.support.audit_cli import cli

AS_OF = "2026-09-30"
N = 24
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """24 generated portfolios and a refused IPS, reviewed here once: the run to re-create."""
    from ballast.flows.review import quarterly_review

    ws = same_run.generated_with_a_refused_ips(tmp_path_factory.mktemp("rerun") / "ws", N, seed=17)
    summary = quarterly_review(workspace=str(ws), as_of=AS_OF, executor="local")
    assert summary["status"] == "completed_with_errors" and len(summary["rows"]) == N + 1
    return ws, summary["run_id"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    with dask_cluster.started(tmp_path_factory.mktemp("cluster"), workers=2) as c:
        yield c


def _copy(reviewed: tuple[Path, str], folder: Path) -> Workspace:
    shutil.copytree(reviewed[0], folder / "ws")
    return Workspace(folder / "ws")


def _rerun(ws: Workspace, run_id: str, execution: ExecutionConfig | None) -> rerun.RerunOutcome:
    """The rerun here (no ``execution``), or on the cluster ``execution`` names, as the
    command line asks for it."""
    from ballast.flows import rerun_cluster

    sharded = None
    if execution is not None:
        run_on = functools.partial(rerun_cluster.on_cluster, execution)
        sharded = rerun.Sharded(execution.shard_size, run_on)
    with db.connect(ws.warehouse) as con:
        return rerun.rerun(con, ws, run_id, sharded=sharded)


def test_rerun_on_a_cluster_is_the_local_rerun(
    reviewed: tuple[Path, str], cluster: dask_cluster.Cluster, tmp_path: Path
) -> None:
    """Five shards on two worker processes: the rebuilt results.json, trades.csv and
    trade_lots.csv are those of the rerun computed here, and both prove the run."""
    ws, run_id = _copy(reviewed, tmp_path), reviewed[1]
    here = _rerun(ws, run_id, None)
    there = _rerun(
        ws, run_id, ExecutionConfig(executor="dask", address=cluster.address, shard_size=5)
    )
    assert here.identical and here.tampered == []
    assert there.identical and there.tampered == []
    assert there.entries == here.entries and len(there.entries) == N + 1
    assert [(f.name, f.rebuilt) for f in there.files] == [(f.name, f.rebuilt) for f in here.files]
    assert sum(len(e["trades"]) for e in there.entries) > 0  # the generated portfolios trade


def test_cli_rerun_takes_the_executor_flags(
    reviewed: tuple[Path, str], cluster: dask_cluster.Cluster, tmp_path: Path
) -> None:
    """`ballast rerun RUN --executor dask --address …` re-creates the run on the cluster,
    says it is identical and records it as a local rerun is recorded."""
    ws, run_id = _copy(reviewed, tmp_path), reviewed[1]
    res = cli(
        "rerun", run_id, "--executor", "dask", "--address", cluster.address, "-w", str(ws.root)
    )
    assert res.exit_code == 0, res.output
    assert "results.json: identical" in res.output and "trades.csv: identical" in res.output
    with db.connect(ws.warehouse) as con:
        log = audit.rows(con)
        assert audit.verify(con, ws) == []
    finished = json.loads(log[-1]["payload"])
    assert (log[-1]["event"], finished["status"], finished["identical"]) == (
        "run_finished",
        "completed",
        True,
    )


def test_a_bad_address_is_refused_before_anything_is_recorded(
    reviewed: tuple[Path, str], tmp_path: Path
) -> None:
    """An address that is not tcp://HOST:PORT is one line, and no rerun is recorded."""
    ws, run_id = _copy(reviewed, tmp_path), reviewed[1]
    with db.connect(ws.warehouse) as con:
        before = len(audit.rows(con))
    res = cli("rerun", run_id, "--address", "nowhere", "-w", str(ws.root))
    assert isinstance(res.exception, BallastError)
    assert str(res.exception).startswith("execution address:")
    with db.connect(ws.warehouse) as con:
        assert len(audit.rows(con)) == before


def test_a_shard_that_fails_fails_the_rerun_in_one_line(
    reviewed: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A shard whose computation raises (no transient fault: no retry) fails the rerun: a rerun
    missing portfolios would prove nothing. The error names the shard's size, the cluster and
    the reason; the rerun's end is recorded as failed. Workers are threads of this process
    here, so the fault can be planted in the computation itself."""
    from ballast import review

    ws, run_id = _copy(reviewed, tmp_path), reviewed[1]
    real = review.compute
    target = sorted(p.stem for p in ws.ips.glob("*.yaml"))[7]

    def compute(snap, pset, **kwargs):  # type: ignore[no-untyped-def]
        if target in [p.id for p in pset.policies]:
            raise ValueError("a value no review can take")
        return real(snap, pset, **kwargs)

    monkeypatch.setattr(review, "compute", compute)
    with dask_cluster.in_process() as address:
        (ws.root / "ballast.yaml").write_text("execution:\n  shard_size: 5\n", encoding="utf-8")
        res = cli("rerun", run_id, "--address", address, "-w", str(ws.root))
    assert isinstance(res.exception, BallastError)
    message = str(res.exception)
    assert "\n" not in message
    assert message == (
        f"a shard of 5 portfolios failed on the Dask scheduler at {address} "
        "(ValueError: a value no review can take): the run was not re-created"
    )
    with db.connect(ws.warehouse) as con:
        last = audit.rows(con)[-1]
    payload = json.loads(last["payload"])
    assert (last["event"], payload["status"], payload["error"]) == (
        "run_finished",
        "failed",
        message,
    )
