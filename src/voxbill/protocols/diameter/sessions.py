"""What a Gy node remembers between requests: answers for retransmissions, nothing else.

A CCR with a Session-Id + CC-Request-Number already answered here, for a peer of the
same operator, gets that answer again (with or without the T flag); a peer of another
operator never reads it. Charging is idempotent on its own (start by session id,
usage deltas and updates by request number, a second stop replays the settlement) and
keeps each session's usage in the database, so this bounded memory (a
``cachetools.LRUCache``) is a fast path that keeps answers identical, never a truth:
another node, or this one after a restart, answers the same request with the same
effect.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final, Generic, TypeVar

from cachetools import LRUCache

_STRIPES: Final = 64
V = TypeVar("V")


class SessionBook(Generic[V]):
    """Thread-safe: service calls run in worker threads. :meth:`serialized` keeps two
    copies of one request on this node from reaching charging at the same time."""

    def __init__(self, size: int = 200_000) -> None:
        self._guard = threading.Lock()
        self._stripes = [threading.Lock() for _ in range(_STRIPES)]
        self._answers: LRUCache[tuple[int | None, str, int], V] = LRUCache(size)

    @contextmanager
    def serialized(self, session_id: str) -> Iterator[None]:
        with self._stripes[hash(session_id) % _STRIPES]:
            yield

    def answered(self, session_id: str, number: int, operator_id: int | None = None) -> V | None:
        with self._guard:
            return self._answers.get((operator_id, session_id, number))

    def remember(
        self, session_id: str, number: int, answer: V, operator_id: int | None = None
    ) -> None:
        with self._guard:
            self._answers[(operator_id, session_id, number)] = answer
