"""Python's cycle collector paused around bulk building (policies, report contexts, outputs)."""

from __future__ import annotations

import gc
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
