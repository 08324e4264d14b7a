"""The cycle collector's settings around a flow, and the memory a run logs
(``ballast.ops.memory``)."""

from __future__ import annotations

import gc
import json
import subprocess
import sys

import pytest
from ballast.tasks.handoff import Handoff

from ballast.ops import memory


def test_heap_frozen_hides_what_is_alive_and_restores_the_collector() -> None:
    before, thresholds = gc.get_freeze_count(), gc.get_threshold()
    kept = [[i] for i in range(1000)]  # tracked objects alive on entry
    with memory.heap_frozen():
        assert gc.get_freeze_count() >= before + len(kept)
        assert gc.get_threshold()[0] == memory.YOUNG_THRESHOLD
        assert gc.get_threshold()[1:] == thresholds[1:]
    assert gc.get_freeze_count() == before
    assert gc.get_threshold() == thresholds


def test_heap_frozen_restores_after_an_error() -> None:
    before, thresholds = gc.get_freeze_count(), gc.get_threshold()
    with pytest.raises(ValueError), memory.heap_frozen():
        raise ValueError("x")
    assert gc.get_freeze_count() == before and gc.get_threshold() == thresholds


def test_a_handoff_gives_its_value_once_and_lets_it_go() -> None:
    value = {"frames": [1, 2, 3]}
    box = Handoff(value)
    assert box.take() is value
    assert all(r is not value for r in gc.get_referents(box))  # the holder let it go
    with pytest.raises(RuntimeError, match="twice"):
        box.take()


def test_a_command_started_by_a_large_process_reports_its_own_peak() -> None:
    """Linux keeps ``ru_maxrss`` across ``exec``: a child of a 300 MiB process reports at least
    that as its peak there. ``rss_mib`` reads the process's own high-water mark instead."""
    ballast = bytearray(300 * 1024 * 1024)
    for i in range(0, len(ballast), 4096):  # resident, page by page
        ballast[i] = 1
    code = (
        "import resource, json; from ballast.ops import memory; "
        "print(json.dumps([memory.rss_mib(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    (now, peak), inherited_kib = json.loads(out.stdout)
    del ballast
    assert inherited_kib / 1024 >= 300  # what the old figure was
    assert 0 < now <= peak < 150  # the child's own: an interpreter and one module


def test_release_collects_what_a_shard_left_in_cycles() -> None:
    """``release`` collects cyclic garbage even where the collector is paused or seldom runs
    (the flow's process under ``heap_frozen``), then hands the pages back."""
    import weakref

    class Node:
        pass

    with memory.collector_paused():
        node = Node()
        node.self = node  # type: ignore[attr-defined]
        ref = weakref.ref(node)
        del node
        assert ref() is not None  # a cycle: not freed by reference counting
        memory.release()
        assert ref() is None
