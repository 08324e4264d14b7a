"""Great Expectations in a child process (``ballast.ingest.validator``): the same outcomes as in
this process, the worker's memory released after use, and a dead worker no file's fault."""

from __future__ import annotations

import os
import signal

import polars as pl
import pytest

from ballast.ingest import validation, validator
from tests.ingest.test_validation import CLEAN, FILE, changed, typed

pytestmark = pytest.mark.slow


@pytest.fixture
def worker():
    validator.start()
    yield
    validator.release()


def _outcomes(frames: list[tuple[str, pl.DataFrame]], here: bool = False) -> list[tuple]:
    """What decides each frame's fate (GX's result without its load-time marker)."""
    check = validation.validate_frame if here else validator.validate_frame
    out = []
    for kind, frame in frames:
        o = check(kind, frame, FILE)
        out.append((o.kind, o.success, o.evaluated, o.failures, o.result["results"]))
    return out


FRAMES = [
    ("positions", typed("positions", CLEAN["positions"])),
    ("prices", changed("prices", 4, price="0.99")),  # CASH must be priced 1
    ("positions", changed("positions", 3, security_id="GEQ")),  # a duplicate key
]


@pytest.mark.usefixtures("worker")
def test_a_worker_validates_as_this_process_does() -> None:
    assert validator.started()
    away = _outcomes(FRAMES)
    validator.release()
    assert not validator.started()
    here = _outcomes(FRAMES)
    assert away == here
    assert [o[1] for o in away] == [True, False, False]
    assert "row 4, column price" in away[1][3][0].message


@pytest.mark.usefixtures("worker")
def test_a_killed_worker_leaves_the_files_to_this_process() -> None:
    first = _outcomes(FRAMES[:1])
    pool = validator._pool
    assert pool is not None
    for pid in list(pool._processes):  # the worker, as an OOM killer would end it
        os.kill(pid, signal.SIGKILL)
    rest = _outcomes(FRAMES[1:])
    assert not validator.started()
    assert first + rest == _outcomes(FRAMES, here=True)
