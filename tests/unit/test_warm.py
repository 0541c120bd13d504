"""voxbill.serving.warm: inside only_warm, what would wait refuses (Cold) instead of loading."""

from __future__ import annotations

import pytest

from voxbill.services.caching import TtlCache
from voxbill.serving import warm


def _never() -> str:
    raise AssertionError("loaded on the event loop")


def test_a_cached_entry_is_served_and_a_miss_refuses_without_loading() -> None:
    clock = [0.0]
    cache: TtlCache[str, str] = TtlCache(10, clock=lambda: clock[0])
    assert cache.get("alice", lambda: "A") == "A"
    with warm.only_warm():
        assert warm.active()
        assert cache.get("alice", _never) == "A"
        with pytest.raises(warm.Cold):
            cache.get("bob", _never)
        clock[0] = 11.0  # expired: a load would be due
        with pytest.raises(warm.Cold):
            cache.get("alice", _never)
    assert not warm.active()
    assert cache.get("alice", lambda: "A2") == "A2"  # off the loop, loaded as ever


def test_only_warm_ends_with_its_block_even_when_cold() -> None:
    with pytest.raises(warm.Cold), warm.only_warm():
        warm.require_warm("something")
    assert not warm.active()
    warm.require_warm("nothing: not on the loop")  # no error outside


def test_with_caching_off_a_load_on_the_loop_refuses_too() -> None:
    cache: TtlCache[str, str] = TtlCache(0)
    with pytest.raises(warm.Cold), warm.only_warm():
        cache.get("k", _never)
    assert cache.get("k", lambda: "v") == "v"
