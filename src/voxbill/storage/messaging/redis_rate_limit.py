"""Message rate limits shared by every node, through Redis.

One Lua script reads, refills and takes from the bucket atomically, so concurrent
requests from any number of nodes enforce ONE limit. The script reads the Redis server's
``TIME``, so node clocks do not matter, and gives each key a TTL of its refill time: a
key that expired is indistinguishable from a full bucket, and idle accounts cost nothing.
Needs Redis >= 5 (scripts replicate their effects, so reading ``TIME`` is allowed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from voxbill.services.messaging.rate_limit import (
    ALLOWED,
    MICROS,
    Clock,
    Decision,
    InProcessRateLimiter,
    RateLimiter,
    RateLimiterUnavailable,
    checked_burst,
    refused,
)
from voxbill.settings import Settings

if TYPE_CHECKING:  # the library loads with a client: only where Redis is configured
    import redis

# KEYS[1] bucket; ARGV rate (tokens/s), capacity and need (token-microseconds), and
# now (microseconds) or "" for the server's clock. Returns {allowed, level after}.
_TOKEN_BUCKET: Final = """
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local need = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
if now == nil then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local state = redis.call('HMGET', KEYS[1], 'level', 'at')
local level = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
if now > at then
  level = level + (now - at) * rate
  at = now
end
level = math.min(level, capacity)
local allowed = 0
if level >= need then
  level = level - need
  allowed = 1
end
redis.call('HSET', KEYS[1], 'level', string.format('%d', level), 'at', string.format('%d', at))
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - level) / rate / 1000) + 1)
return {allowed, level}
"""

DEFAULT_PREFIX: Final = "voxbill:rate:"


class RedisRateLimiter:
    """Token buckets in Redis under ``prefix``; ``clock`` (ns) replaces server TIME in tests."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str = DEFAULT_PREFIX,
        clock: Clock | None = None,
    ) -> None:
        import redis

        self._client = client
        self._unreachable = redis.RedisError
        self._prefix = prefix
        self._clock = clock
        self._script = client.register_script(_TOKEN_BUCKET)

    @classmethod
    def from_url(
        cls, url: str, *, prefix: str = DEFAULT_PREFIX, timeout: float = 0.5
    ) -> RedisRateLimiter:
        """A client with short timeouts: a message must not wait long for its verdict."""
        import redis

        client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        return cls(client, prefix=prefix)

    def acquire(self, key: str, rate: int, burst: int | None = None, cost: int = 1) -> Decision:
        capacity = checked_burst(rate, burst, cost) * MICROS
        need = cost * MICROS
        now = "" if self._clock is None else str(self._clock() // 1000)
        try:
            allowed, level = self._script(
                keys=[self._prefix + key], args=[rate, capacity, need, now]
            )
        except self._unreachable as exc:
            raise RateLimiterUnavailable(f"rate limiter unreachable: {exc}") from exc
        if allowed:
            return ALLOWED
        return refused(need, int(level), rate)

    def close(self) -> None:
        self._client.close()


def make_rate_limiter(settings: Settings) -> RateLimiter:
    """Redis when ``VOXBILL_REDIS_URL`` is set (several nodes, one limit), else in process."""
    if settings.redis_url:
        return RedisRateLimiter.from_url(settings.redis_url)
    return InProcessRateLimiter()
