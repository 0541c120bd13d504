"""heap.settle: the startup heap leaves the collector's sight; later cycles are still
collected."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from voxbill.serving import heap


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


@pytest.fixture
def settled() -> Iterator[int]:
    try:
        yield heap.settle()
    finally:
        gc.unfreeze()  # the rest of the suite sees an ordinary heap


def test_settle_freezes_what_the_process_keeps(settled: int) -> None:
    assert settled > 0
    gc.collect()
    assert gc.get_freeze_count() > 0  # a full pass leaves the frozen heap where it is


def test_a_cycle_made_after_settling_is_still_collected(settled: int) -> None:
    first, second = _Node(), _Node()
    first.other, second.other = second, first  # a cycle: only the collector frees it
    gone = weakref.ref(first)
    del first, second
    gc.collect()
    assert gone() is None
