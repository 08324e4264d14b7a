"""A real Dask cluster on loopback for tests: ``dask scheduler`` and worker processes started as
the operators' commands, stopped (and their processes killed) when the block ends."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

START_TIMEOUT = 300.0  # a loaded host starts Python processes slowly; never a measure of speed


@dataclass
class Cluster:
    address: str
    folder: Path
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def add_worker(self, name: str) -> subprocess.Popen[bytes]:
        """One more single-threaded worker process (no nanny: killed means gone)."""
        log = (self.folder / f"{name}.log").open("wb")
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "distributed.cli.dask_worker",
                self.address,
                "--name",
                name,
                "--nthreads",
                "1",
                "--no-nanny",
                "--no-dashboard",
                "--host",
                "127.0.0.1",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=os.environ.copy(),
        )
        self.workers.append(proc)
        return proc

    def wait_for_workers(self, n: int) -> None:
        from distributed import Client

        with Client(self.address, timeout=f"{START_TIMEOUT}s") as client:
            client.wait_for_workers(n, timeout=START_TIMEOUT)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def started(folder: Path, workers: int = 2) -> Iterator[Cluster]:
    """A scheduler on a free loopback port and ``workers`` worker processes."""
    folder.mkdir(parents=True, exist_ok=True)
    info = folder / "scheduler.json"
    log = (folder / "scheduler.log").open("wb")
    scheduler = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "distributed.cli.dask_scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--no-dashboard",
            "--scheduler-file",
            str(info),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    cluster = None
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not info.exists() or not info.read_text():
            if scheduler.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((folder / "scheduler.log").read_text())
            time.sleep(0.1)
        cluster = Cluster(json.loads(info.read_text())["address"], folder)
        for i in range(workers):
            cluster.add_worker(f"w{i}")
        cluster.wait_for_workers(workers)
        yield cluster
    finally:
        for proc in cluster.workers if cluster else []:
            _stop(proc)
        _stop(scheduler)


@contextlib.contextmanager
def in_process(workers: int = 2) -> Iterator[str]:
    """A ``LocalCluster`` whose workers are threads of this process, on loopback; yields the
    scheduler's address. A fault planted in this process (a monkeypatch) reaches its workers."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=False,
        protocol="tcp://",
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        yield cluster.scheduler_address
