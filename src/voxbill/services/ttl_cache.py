"""A short-lived in-process cache for hot-path reads that may lag the database briefly.

Caches, not truths (PRODUCT.md, "Running on more than one machine"): every entry is
forgotten ``ttl`` seconds after it was loaded, so a change made on another node (a
revoked key, a moved account, a new identifier) is seen everywhere within that bound.
Balances, holds and open-call counts are never read from here.

On the event loop (:func:`voxbill.warm.only_warm`) an entry is never loaded; instead an
entry read there in the last quarter of its life is refreshed ahead, by a background
thread, so that a hot entry (a switch's caller, its chain) does not expire under the
requests that use it: each of them would otherwise have gone to a thread to load it
again. The bound is unchanged: an entry is never older than ``ttl`` from when its load
began, and one forgotten while it is being refreshed stays forgotten.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

from voxbill import warm

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

log = logging.getLogger(__name__)

#: an entry read on the event loop with less than this share of its life left is
#: refreshed ahead
REFRESH_AHEAD_SHARE = 0.25

_refresher_pool: ThreadPoolExecutor | None = None
_refresher_made = threading.Lock()


def refresher() -> ThreadPoolExecutor:
    """The refreshes' one thread per process (made on first use: never before a fork)."""
    global _refresher_pool
    if _refresher_pool is None:
        with _refresher_made:
            if _refresher_pool is None:
                _refresher_pool = ThreadPoolExecutor(1, thread_name_prefix="voxbill-refresh")
    return _refresher_pool


class TtlCache(Generic[K, V]):
    """``get(key, load)``: the value loaded at most ``ttl`` seconds ago, else ``load()``
    (inside :func:`voxbill.warm.only_warm`: :class:`~voxbill.warm.Cold` instead).

    Thread-safe by the GIL's atomic dict operations: two threads may both load a missing
    key, which costs a query, never a wrong answer. ``ttl`` <= 0 disables caching.
    """

    def __init__(
        self,
        ttl: float,
        *,
        max_entries: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._clock = clock
        self._entries: dict[K, tuple[float, V]] = {}
        self._refreshing: dict[K, object] = {}
        self._lock = threading.Lock()  # forget/clear against a refresh's put

    def get(self, key: K, load: Callable[[], V]) -> V:
        if self._ttl <= 0:
            warm.require_warm("a load: caching is off")
            return load()
        now = self._clock()
        found = self._entries.get(key)
        if found is not None and now < found[0]:
            if found[0] - now < self._ttl * REFRESH_AHEAD_SHARE and warm.active():
                self._refresh_ahead(key, load)
            return found[1]
        warm.require_warm("a cache entry to load")
        value = load()
        if len(self._entries) >= self._max:
            self._entries.clear()  # crude bound: a burst of misses, never stale data
        self._entries[key] = (now + self._ttl, value)
        return value

    def peek(self, key: K) -> V | None:
        """The live entry, or None; never loads."""
        found = self._entries.get(key)
        return found[1] if found is not None and self._clock() < found[0] else None

    def put(self, key: K, value: V) -> None:
        if self._ttl > 0:
            self._entries[key] = (self._clock() + self._ttl, value)

    def forget(self, key: K) -> None:
        with self._lock:  # a refresh under way must not bring it back
            self._entries.pop(key, None)
            self._refreshing.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._refreshing.clear()

    def _refresh_ahead(self, key: K, load: Callable[[], V]) -> None:
        if key in self._refreshing:
            return
        token = self._refreshing[key] = object()

        def refresh() -> None:
            began = self._clock()
            try:
                value = load()
            except Exception:  # the entry expires, and a request loads it as ever
                log.debug("refreshing a cache entry failed", exc_info=True)
                with self._lock:
                    if self._refreshing.get(key) is token:
                        del self._refreshing[key]
                return
            with self._lock:  # not after a forget(key) or clear() that came meanwhile
                if self._refreshing.get(key) is token:
                    self._entries[key] = (began + self._ttl, value)
                    del self._refreshing[key]

        try:
            refresher().submit(refresh)
        except RuntimeError:  # shutting down
            self._refreshing.pop(key, None)
