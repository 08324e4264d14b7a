"""Python's cycle collector paused around bulk building (policies, report contexts, outputs);
the resident memory of this process: measured, and freed pages handed back."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cycle collector off while the block runs (back on after, if it was on).

    Building thousands of policies, or a large run's entries, contexts, results.json and index,
    allocates hundreds of thousands of objects, hardly any of them in garbage cycles; each burst
    made the collector walk the whole growing heap again, a third to a half of those steps. Not
    for blocks that make PDFs: WeasyPrint leaves cycles."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


YOUNG_THRESHOLD = 20_000  # allocations between young collections (Python's default: 700)


@contextmanager
def heap_frozen() -> Iterator[None]:
    """What is alive on entry (modules, Prefect's client, parsed IPS files) moved out of the
    cycle collector's sight while the block runs, back on exit (``gc.freeze``).

    The collector's full passes walk every tracked object; a review's command holds some
    hundreds of thousands before its flow starts, and each full pass during the flow walked
    them all again (0.2-0.5 s each on two cores) to find no garbage among them. Objects freed by
    their reference count are freed as before; only garbage cycles among the frozen objects
    wait for the exit."""
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def rss_mib() -> tuple[float, float]:
    """This process's resident memory now and at its peak so far, in MiB: ``VmRSS`` and
    ``VmHWM`` of Linux's ``/proc/self/status``. Not ``ru_maxrss``: Linux keeps it across
    ``exec``, so a command started by a large process (a scheduler, a benchmark, a test run)
    reported its parent's size at the fork as its own peak. Elsewhere ``ru_maxrss`` for both."""
    try:
        fields = status_kib("VmRSS", "VmHWM")
        return round(fields["VmRSS"] / 1024, 1), round(fields["VmHWM"] / 1024, 1)
    except (OSError, KeyError, ValueError):
        import resource

        peak = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB
        return peak, peak


def status_kib(*names: str, pid: int | str = "self") -> dict[str, int]:
    """Fields of ``/proc/<pid>/status`` given in kB (``VmRSS``, ``VmHWM``), as integers."""
    wanted, found = set(names), {}
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in wanted:
                found[key] = int(value.split()[0])
    return found


def give_back() -> None:
    """Hand the C heap's free pages back to the system (glibc's ``malloc_trim``; nothing
    elsewhere). A process whose threads build and drop large objects (a shard's job pickled on
    one thread, its outcome read on another) keeps each thread arena's high-water mark
    resident otherwise: what a later shard needs is then counted twice."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def release() -> None:
    """Collect this process's cyclic garbage, then ``give_back``: after a shard, in a process
    whose collector runs seldom (``heap_frozen``) or was paused while it built the shard.
    What a shard leaves in reference cycles (about 12,600 objects a shard of 2,500 in the
    flow's process) otherwise waits for a full collection: at 50,000 portfolios the flow's
    process grew to 925 MiB by the end of its shards, against 541 MiB collecting after each
    (about 20 ms a shard)."""
    gc.collect()
    give_back()


@cache
def _malloc_trim() -> Any:
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
