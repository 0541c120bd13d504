"""Messages-per-second limits along the sender's chain, checked before any charge.

Each level with a ``message_rate_limit`` has its own token bucket (``sms:<account id>``)
in the container's limiter: in process, or in Redis so that every node enforces one
limit. Levels are taken from the sender up; when an upper level refuses, the lower
levels' tokens are spent (never more admitted than any limit allows).
"""

from __future__ import annotations

from collections.abc import Sequence

from voxbill.domain.accounts import Account
from voxbill.domain.errors import RateLimited, Refused
from voxbill.services.messaging.rate_limit import RateLimiter


def bucket_key(account_id: int) -> str:
    return f"sms:{account_id}"


def admit(limiter: RateLimiter, chain: Sequence[Account]) -> None:
    """Take one message from every limited level, or refuse with the wait (429)."""
    for account in chain:
        limit = account.limits.message_rate_limit
        if limit is None:
            continue
        if limit == 0:
            raise Refused(
                f"account {account.id} may not send messages (rate limit 0)",
                code="messaging_disabled",
            )
        decision = limiter.acquire(bucket_key(account.id), limit)
        if not decision.allowed:
            raise RateLimited(
                f"account {account.id} is over its {limit} messages per second",
                retry_after=decision.retry_after,
            )
