"""Great Expectations in a child process, for one command's ingest.

GX and pandas add about 230 MiB to a process that imports them, which it keeps to the end: a
cold ``ballast review`` then carried them through every shard of the review that follows its
ingest. A command that will validate files (``ballast review``, ``ingest``, ``demo``) calls
``start`` before its flow: one spawned worker imports GX and builds its context while Prefect's
temporary server boots, validates each file's frame (``validation.validate_frame``, the same
function, so the same outcome), and is stopped once the files are validated (``release``), so
its memory goes back to the system before the review starts.

Without ``start`` (tests, a served process, the library) frames are validated in this process.
A worker that dies (killed, out of memory) is no file's fault: the files left are validated in
this process instead.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import polars as pl

from ballast.ingest import validation

_log = logging.getLogger(__name__)
_LOCK = threading.Lock()
_pool: ProcessPoolExecutor | None = None


def start() -> None:
    """Spawn the worker and start GX in it (returns at once; idempotent)."""
    global _pool
    with _LOCK:
        if _pool is None:
            _pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_worker_start,
            )
            _pool.submit(int)  # a pool spawns its worker at the first task: now, not later


def _worker_start() -> None:
    """In the worker: GX started, and the worker's exit made quick (``os._exit`` once its
    tasks and multiprocessing's own exit steps are done): tearing down GX and pandas module by
    module took about a second of CPU, while the review goes on beside it."""
    atexit.register(os._exit, 0)
    validation.warm_up()


def started() -> bool:
    return _pool is not None


def release() -> None:
    """Stop the worker (its memory goes with it); later frames are validated in this process."""
    global _pool
    with _LOCK:
        pool, _pool = _pool, None
    if pool is None:
        return
    pool.shutdown(wait=True, cancel_futures=True)


def validate_frame(kind: str, frame: pl.DataFrame, file_label: str) -> validation.ValidationOutcome:
    """``validation.validate_frame``, in the worker when one was started."""
    pool = _pool
    if pool is not None:
        try:
            return pool.submit(validation.validate_frame, kind, frame, file_label).result()
        except BrokenProcessPool:
            _log.warning("the validation process stopped; validating in this process instead")
            release()
    return validation.validate_frame(kind, frame, file_label)
