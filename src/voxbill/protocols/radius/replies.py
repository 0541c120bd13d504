"""Recent replies, resent as they were to a retransmitted request (RFC 5080 §2.2.2).

Keyed by (client address, port, identifier, Request Authenticator). While the first
copy is still being processed, a retransmission is dropped: the first answers.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from voxbill.protocols.answer_cache import IN_FLIGHT, AnswerCache

__all__ = ["IN_FLIGHT", "ReplyCache", "ReplyKey"]

ReplyKey = tuple[str, int, int, bytes]


class ReplyCache(AnswerCache[ReplyKey]):
    """Touched by the event loop thread only."""

    def __init__(
        self,
        ttl_seconds: float = 30.0,
        max_entries: int = 65_536,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(ttl_seconds, max_entries, clock)

    def put(self, key: ReplyKey, reply: bytes) -> None:
        self.answer(key, reply)
