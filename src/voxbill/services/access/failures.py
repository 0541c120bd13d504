"""Failed API-key attempts per source address: after too many, the source waits.

Defence in depth: a key has 256 random bits, so guessing one is hopeless; what a flood
of wrong keys does cost is a database read each. A source that fails ``limit`` times
within ``window`` seconds (counted from its first failure) is refused, without its keys
being checked, until that window ends (HTTP 429 ``too_many_auth_failures`` with
``Retry-After``, :mod:`voxbill.api.guard`). Only presented keys that fail count: a
request without any key costs nothing to refuse. A key that the cache holds as valid
is still let through (checking it costs nothing): a switch behind the same address
as the attacker keeps working as long as its key stays cached.

In process, each node counts its own (``bootstrap`` picks the Redis counter, shared by
every node, when ``VOXBILL_REDIS_URL`` is set: ``storage/access/redis_failures.py``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


class AuthFailures(Protocol):
    def blocked_for(self, source: str) -> float:
        """Seconds until ``source`` may present keys again (0: it may now)."""
        ...

    def failed(self, source: str) -> None:
        """Count one failed key from ``source``."""
        ...


@dataclass(slots=True)
class _Window:
    ends: float
    failures: int


class InProcessAuthFailures:
    """Per-source counters in this process's memory, thread-safe; windows that ended are
    forgotten when the table grows (a missing source has no failures)."""

    def __init__(
        self, limit: int, window: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._limit = limit
        self._window = window
        self._clock = clock
        self._lock = threading.Lock()
        self._sources: dict[str, _Window] = {}
        self._sweep_at = 1024

    def blocked_for(self, source: str) -> float:
        now = self._clock()
        with self._lock:
            window = self._sources.get(source)
            if window is None or now >= window.ends or window.failures < self._limit:
                return 0.0
            return window.ends - now

    def failed(self, source: str) -> None:
        now = self._clock()
        with self._lock:
            window = self._sources.get(source)
            if window is None or now >= window.ends:
                self._sources[source] = _Window(now + self._window, 1)
                if len(self._sources) >= self._sweep_at:
                    self._forget_ended(now)
            else:
                window.failures += 1

    def _forget_ended(self, now: float) -> None:
        for source in [s for s, w in self._sources.items() if w.ends <= now]:
            del self._sources[source]
        self._sweep_at = max(1024, 2 * len(self._sources))
