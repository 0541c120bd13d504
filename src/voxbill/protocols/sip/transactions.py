"""INVITE server transactions, remembered long enough to absorb retransmissions.

Keyed by (Call-ID, CSeq number, top Via branch): a retransmitted INVITE gets the very
bytes first sent, and one still being decided is ignored (the client retransmits
again). Entries live ``ttl`` seconds (64 * T1 = 32 s, RFC 3261 Timer H) and at most
``capacity`` are kept, oldest dropped first.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

Key = tuple[str, int, str]
PENDING = b""


class TransactionCache:
    def __init__(
        self,
        ttl: float = 32.0,
        capacity: int = 200_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl
        self._capacity = capacity
        self._clock = clock
        self._entries: OrderedDict[Key, tuple[float, bytes]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Key) -> bytes | None:
        """The answer sent (PENDING while deciding), or None for a new transaction."""
        found = self._entries.get(key)
        if found is None or found[0] < self._clock():
            return None
        return found[1]

    def begin(self, key: Key) -> None:
        self._put(key, PENDING)

    def answer(self, key: Key, response: bytes) -> None:
        self._put(key, response)

    def forget(self, key: Key) -> None:
        self._entries.pop(key, None)

    def _put(self, key: Key, value: bytes) -> None:
        now = self._clock()
        entries = self._entries
        entries[key] = (now + self._ttl, value)
        entries.move_to_end(key)
        while entries:
            oldest, (expires, _) = next(iter(entries.items()))
            if expires >= now and len(entries) <= self._capacity:
                break
            del entries[oldest]
