"""The cycle collector's settings around a flow (``ballast.ops.memory``)."""

from __future__ import annotations

import gc

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
