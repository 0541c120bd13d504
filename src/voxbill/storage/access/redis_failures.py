"""Failed API-key attempts per source address, counted in Redis for every node at once.

A counter per source (``INCR``), which expires ``window`` seconds after its first
failure: one limit across the nodes behind a load balancer. If Redis cannot be reached
the count is skipped and logged (fail open): this is defence in depth and must not
refuse valid keys, which the database still checks either way.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Final

from voxbill.services.access.failures import AuthFailures, InProcessAuthFailures
from voxbill.settings import Settings

if TYPE_CHECKING:  # the library loads with a client: only where Redis is configured
    import redis

log = logging.getLogger(__name__)

DEFAULT_PREFIX: Final = "voxbill:auth-failures:"

# KEYS[1] counter; ARGV[1] window (ms). The count after this failure.
_FAILED: Final = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
"""

# KEYS[1] counter; ARGV[1] limit. Milliseconds left in a full window, else 0.
_BLOCKED_FOR: Final = """
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n < tonumber(ARGV[1]) then return 0 end
local left = redis.call('PTTL', KEYS[1])
if left < 0 then return 0 end
return left
"""


class RedisAuthFailures:
    def __init__(
        self, client: redis.Redis, limit: int, window: float, *, prefix: str = DEFAULT_PREFIX
    ) -> None:
        import redis

        self._client = client
        self._unreachable = redis.RedisError
        self._limit = limit
        self._window_ms = max(1, math.ceil(window * 1000))
        self._prefix = prefix
        self._failed = client.register_script(_FAILED)
        self._blocked_for = client.register_script(_BLOCKED_FOR)

    @classmethod
    def from_url(
        cls, url: str, limit: int, window: float, *, timeout: float = 0.5
    ) -> RedisAuthFailures:
        import redis

        client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        return cls(client, limit, window)

    def blocked_for(self, source: str) -> float:
        try:
            left = self._blocked_for(keys=[self._prefix + source], args=[self._limit])
        except self._unreachable as exc:
            log.warning("auth failure counter unreachable, not checked: %s", exc)
            return 0.0
        return int(left) / 1000

    def failed(self, source: str) -> None:
        try:
            self._failed(keys=[self._prefix + source], args=[self._window_ms])
        except self._unreachable as exc:
            log.warning("auth failure counter unreachable, failure not counted: %s", exc)

    def close(self) -> None:
        self._client.close()


def make_auth_failures(
    settings: Settings, limit: int | None = None, window: float | None = None
) -> AuthFailures:
    """Redis when ``VOXBILL_REDIS_URL`` is set (one count for every node), else in process;
    the API keys' limit and window unless others are given (the portal's sign-ins)."""
    limit = settings.auth_failure_limit if limit is None else limit
    window = settings.auth_failure_window_seconds if window is None else window
    if settings.redis_url:
        return RedisAuthFailures.from_url(settings.redis_url, limit, window)
    return InProcessAuthFailures(limit, window)
