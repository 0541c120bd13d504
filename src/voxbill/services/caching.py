"""A short-lived in-process cache for hot-path reads that may lag the database briefly.

Caches, not truths (PRODUCT.md, "Running on more than one machine"): every entry is
forgotten ``ttl`` seconds after it was loaded, so a change made on another node (a
revoked key, a moved account, a new identifier) is seen everywhere within that bound.
Balances, holds and open-call counts are never read from here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from voxbill.serving import warm

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """``get(key, load)``: the value loaded at most ``ttl`` seconds ago, else ``load()``
    (inside :func:`voxbill.serving.warm.only_warm`: :class:`~voxbill.serving.warm.Cold` instead).

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

    def get(self, key: K, load: Callable[[], V]) -> V:
        if self._ttl <= 0:
            warm.require_warm("a load: caching is off")
            return load()
        now = self._clock()
        found = self._entries.get(key)
        if found is not None and now < found[0]:
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
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()
