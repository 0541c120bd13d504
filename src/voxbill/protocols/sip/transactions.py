"""INVITE server transactions, remembered long enough to absorb retransmissions.

Keyed by (Call-ID, CSeq number, top Via branch): a retransmitted INVITE gets the very
bytes first sent, and one still being decided is ignored (the client retransmits
again). Entries live ``ttl`` seconds (64 * T1 = 32 s, RFC 3261 Timer H) and at most
``capacity`` are kept.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

from voxbill.protocols.answer_cache import IN_FLIGHT, AnswerCache

Key = tuple[str, int, str]
PENDING: Final = IN_FLIGHT


class TransactionCache(AnswerCache[Key]):
    def __init__(
        self,
        ttl: float = 32.0,
        capacity: int = 200_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(ttl, capacity, clock)
