"""Answers remembered long enough to absorb a switch's retransmissions.

SIP (INVITE server transactions) and RADIUS (RFC 5080 §2.2.2) both resend the very
bytes first sent to a retransmitted request, and drop one that arrives while the first
copy is still being decided (:data:`IN_FLIGHT`): the first answers. One type for both,
over ``cachetools.TTLCache``: each entry lives ``ttl`` seconds, at most ``capacity``
are kept. Touched by its server's event loop thread only.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Final, Generic, TypeVar

from cachetools import TTLCache

K = TypeVar("K", bound=Hashable)

#: the answer of a request still being decided: drop its retransmissions
IN_FLIGHT: Final = b""


class AnswerCache(Generic[K]):
    def __init__(
        self, ttl: float, capacity: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._entries: TTLCache[K, bytes] = TTLCache(capacity, ttl, timer=clock)

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K) -> bytes | None:
        """The answer sent (:data:`IN_FLIGHT` while deciding), or None for a new request."""
        return self._entries.get(key)

    def begin(self, key: K) -> None:
        self._entries[key] = IN_FLIGHT

    def answer(self, key: K, answer: bytes) -> None:
        self._entries[key] = answer

    def forget(self, key: K) -> None:
        self._entries.pop(key, None)
