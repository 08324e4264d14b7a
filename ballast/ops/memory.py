"""Python's cycle collector paused around bulk building (policies, report contexts, outputs)."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager


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


def rss_mib() -> tuple[float, float]:
    """This process's resident memory now and at its peak so far, in MiB (Linux ``/proc``;
    elsewhere the peak for both)."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            pages = int(statm.read().split()[1])
        now = pages * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)
    except (OSError, ValueError, IndexError):
        now = peak
    return round(now, 1), round(peak, 1)
