"""TtlCache's refresh-ahead: an entry read on the event loop late in its life is reloaded
by a background thread; never older than its ttl; a forget during a refresh holds."""

from __future__ import annotations

import threading

from voxbill import warm
from voxbill.services import ttl_cache
from voxbill.services.ttl_cache import TtlCache


def _drain() -> None:
    """Wait until the refresher's thread has done what was queued before."""
    ttl_cache.refresher().submit(lambda: None).result(timeout=10)


def _cache(clock: list[float]) -> TtlCache[str, str]:
    return TtlCache(10, clock=lambda: clock[0])


def test_a_hot_entry_late_in_its_life_is_refreshed_ahead_off_the_loop() -> None:
    clock = [0.0]
    cache = _cache(clock)
    cache.get("k", lambda: "v1")
    clock[0] = 5.0  # half its life left: no refresh
    with warm.only_warm():
        assert cache.get("k", lambda: "v2") == "v1"
    _drain()
    assert cache.peek("k") == "v1"
    clock[0] = 8.0  # a fifth left: served as it is, and refreshed behind
    with warm.only_warm():
        assert cache.get("k", lambda: "v2") == "v1"
    _drain()
    assert cache.peek("k") == "v2"
    clock[0] = 17.9  # the refresh began at 8: alive until 18, no longer
    assert cache.peek("k") == "v2"
    clock[0] = 18.0
    assert cache.peek("k") is None


def test_off_the_loop_nothing_is_refreshed_ahead() -> None:
    clock = [0.0]
    cache = _cache(clock)
    cache.get("k", lambda: "v1")
    clock[0] = 9.0
    assert cache.get("k", lambda: "v2") == "v1"
    _drain()
    assert cache.peek("k") == "v1"


def test_a_forget_during_a_refresh_is_not_undone() -> None:
    clock = [0.0]
    cache = _cache(clock)
    cache.get("k", lambda: "v1")
    clock[0] = 9.0
    loading, release = threading.Event(), threading.Event()

    def slow() -> str:
        loading.set()
        release.wait(10)
        return "stale"

    with warm.only_warm():
        cache.get("k", slow)
    assert loading.wait(10)
    cache.forget("k")  # e.g. this node changed the account meanwhile
    release.set()
    _drain()
    assert cache.peek("k") is None
    assert cache.get("k", lambda: "fresh") == "fresh"


def test_a_failed_refresh_leaves_the_entry_to_expire_as_ever() -> None:
    clock = [0.0]
    cache = _cache(clock)
    cache.get("k", lambda: "v1")
    clock[0] = 9.0

    def broken() -> str:
        raise RuntimeError("database gone")

    with warm.only_warm():
        assert cache.get("k", broken) == "v1"
    _drain()
    assert cache.peek("k") == "v1"
    with warm.only_warm():  # and a later read may try again
        assert cache.get("k", lambda: "v2") == "v1"
    _drain()
    assert cache.peek("k") == "v2"
