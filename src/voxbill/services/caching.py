"""A short-lived in-process cache for hot-path reads that may lag the database briefly.

Caches, not truths (PRODUCT.md, "Running on more than one machine"): every entry is
forgotten ``ttl`` seconds after it was loaded, so a change made on another node (a
revoked key, a moved account, a new identifier) is seen everywhere within that bound.
Balances, holds and open-call counts are never read from here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from cachetools import FIFOCache

from voxbill.serving import warm

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """``get(key, load)``: the value loaded at most ``ttl`` seconds ago, else ``load()``
    (inside :func:`voxbill.serving.warm.only_warm`: :class:`~voxbill.serving.warm.Cold` instead).

    Over ``cachetools.FIFOCache`` holding ``(expires, value)``: at most ``max_entries``,
    the oldest loaded dropped first. Not ``cachetools.TTLCache``, which reorders its
    entries on every read (about 1 us a lookup, several lookups per call on the hot
    path). Reads take no lock (one dict lookup); writes do, as cachetools' are not
    atomic. Two threads may both load a missing key, which costs a query, never a wrong
    answer. ``ttl`` <= 0 disables caching.
    """

    def __init__(
        self,
        ttl: float,
        *,
        max_entries: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl
        self._clock = clock
        self._entries: FIFOCache[K, tuple[float, V]] = FIFOCache(max_entries)
        self._writing = threading.Lock()

    def _live(self, key: K) -> tuple[float, V] | None:
        try:
            found = self._entries[key]
        except KeyError:
            return None
        return found if self._clock() < found[0] else None

    def get(self, key: K, load: Callable[[], V]) -> V:
        if self._ttl <= 0:
            warm.require_warm("a load: caching is off")
            return load()
        found = self._live(key)
        if found is not None:
            return found[1]
        warm.require_warm("a cache entry to load")
        value = load()
        self.put(key, value)
        return value

    def peek(self, key: K) -> V | None:
        """The live entry, or None; never loads."""
        found = self._live(key)
        return found[1] if found is not None else None

    def put(self, key: K, value: V) -> None:
        if self._ttl > 0:
            with self._writing:
                self._entries[key] = (self._clock() + self._ttl, value)

    def forget(self, key: K) -> None:
        with self._writing:
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._writing:
            self._entries.clear()
