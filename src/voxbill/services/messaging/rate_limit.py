"""Messages-per-second limits per account: a token bucket behind one small protocol.

A bucket holds up to ``burst`` tokens (default: the per-second ``rate``), refills at
``rate`` tokens per second, and a request takes ``cost`` tokens or is refused with the
seconds to wait. A refused request takes nothing, so a client that retries too early
does not push its own admission further away.

The in-process limiter is exact for one node; several nodes must share one limit, so
``bootstrap`` picks the Redis limiter (``voxbill.storage.messaging.redis_rate_limit``) when
``VOXBILL_REDIS_URL`` is set. Both compute in integer microseconds (token-microseconds
for the level) so that the same requests at the same instants get the same answers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Protocol

from voxbill.domain.errors import InvalidInput, VoxbillError

#: Bucket arithmetic is in microseconds; a token is MICROS units of level.
MICROS: Final = 1_000_000

#: A clock in nanoseconds, like :func:`time.monotonic_ns`; injected by tests.
Clock = Callable[[], int]


@dataclass(frozen=True, slots=True)
class Decision:
    """``retry_after`` is the seconds until the same request would be admitted (0 if it is)."""

    allowed: bool
    retry_after: float = 0.0


ALLOWED: Final = Decision(True, 0.0)


class RateLimiterUnavailable(VoxbillError):
    """The shared limit could not be consulted (Redis down): the caller fails closed."""

    code = "rate_limiter_unavailable"


class RateLimiter(Protocol):
    def acquire(self, key: str, rate: int, burst: int | None = None, cost: int = 1) -> Decision:
        """Take ``cost`` tokens from ``key``'s bucket, or say how long to wait."""
        ...


def checked_burst(rate: int, burst: int | None, cost: int) -> int:
    """Validate a request's limits; a cost above the burst could never be admitted."""
    if rate < 1:
        raise InvalidInput(f"rate limit must be at least 1 per second, not {rate}")
    capacity = rate if burst is None else burst
    if capacity < 1:
        raise InvalidInput(f"burst must be at least 1, not {capacity}")
    if not 1 <= cost <= capacity:
        raise InvalidInput(f"cost must be between 1 and the burst ({capacity}), not {cost}")
    return capacity


def refused(need: int, level: int, rate: int) -> Decision:
    """Refusal with the wait, rounded up to the microsecond so that waiting it suffices."""
    return Decision(False, -(-(need - level) // rate) / MICROS)


@dataclass(slots=True)
class _Bucket:
    level: int  # token-microseconds
    at: int  # microseconds
    full_at: int  # when the bucket is full again, so it can be forgotten


class InProcessRateLimiter:
    """Token buckets in this process's memory: exact, thread-safe, one node only."""

    def __init__(self, clock: Clock = time.monotonic_ns) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] = {}
        self._sweep_at = 1024

    def acquire(self, key: str, rate: int, burst: int | None = None, cost: int = 1) -> Decision:
        capacity = checked_burst(rate, burst, cost) * MICROS
        need = cost * MICROS
        with self._lock:
            now = self._clock() // 1000
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(capacity, now, now)
            elif now > bucket.at:
                bucket.level += (now - bucket.at) * rate
                bucket.at = now
            bucket.level = min(bucket.level, capacity)
            if bucket.level < need:
                return refused(need, bucket.level, rate)
            bucket.level -= need
            bucket.full_at = bucket.at + -(-(capacity - bucket.level) // rate)
            if len(self._buckets) >= self._sweep_at:
                self._forget_full(now)
            return ALLOWED

    def _forget_full(self, now: int) -> None:
        """Drop buckets that have refilled: a missing bucket starts full, so nothing changes."""
        for key in [k for k, b in self._buckets.items() if b.full_at <= now]:
            del self._buckets[key]
        self._sweep_at = max(1024, 2 * len(self._buckets))
