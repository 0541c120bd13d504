"""Recent replies, resent as they were to a retransmitted request (RFC 5080 §2.2.2).

Keyed by (client address, port, identifier, Request Authenticator). While the first
copy is still being processed, a retransmission is dropped: the first answers.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Final

ReplyKey = tuple[str, int, int, bytes]
IN_FLIGHT: Final = b""


class ReplyCache:
    """Touched by the event loop thread only."""

    def __init__(
        self,
        ttl_seconds: float = 30.0,
        max_entries: int = 65_536,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl_seconds
        self._max = max_entries
        self._clock = clock
        self._entries: OrderedDict[ReplyKey, tuple[float, bytes]] = OrderedDict()

    def get(self, key: ReplyKey) -> bytes | None:
        """The reply (or :data:`IN_FLIGHT`) for ``key``, or ``None``."""
        self._expire()
        entry = self._entries.get(key)
        return None if entry is None else entry[1]

    def begin(self, key: ReplyKey) -> None:
        self._store(key, IN_FLIGHT)

    def put(self, key: ReplyKey, reply: bytes) -> None:
        self._store(key, reply)

    def forget(self, key: ReplyKey) -> None:
        self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)

    def _store(self, key: ReplyKey, value: bytes) -> None:
        self._entries[key] = (self._clock() + self._ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def _expire(self) -> None:
        now = self._clock()
        while self._entries:
            key, (expires, _) = next(iter(self._entries.items()))
            if expires > now:
                break
            del self._entries[key]
