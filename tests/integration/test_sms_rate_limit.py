"""Messages-per-second limits: exact admissions in process, and one limit across nodes.

Buckets run on a frozen clock (no refill during the test), so "5 per second" admits
exactly 5 of 20 simultaneous messages however slowly the threads run. The multi-node
test builds two containers — two nodes — over one database and one real Redis
(``VOXBILL_TEST_REDIS_URL``, default redis://127.0.0.1:6379/15); it is skipped, loudly,
when Redis cannot be reached.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from decimal import Decimal as D

import pytest
import redis

from support.sms_world import SmsWorld, build_sms_world, in_threads, message
from voxbill.bootstrap import Container
from voxbill.domain.errors import RateLimited, Refused
from voxbill.services.messaging.rate_limit import InProcessRateLimiter, RateLimiter
from voxbill.storage.messaging.redis_rate_limit import RedisRateLimiter

REDIS_URL = os.environ.get("VOXBILL_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
FROZEN_NS = 1_000_000_000_000


def node(container: Container, limiter: RateLimiter) -> Container:
    """Another node over the same database, with its own services and ``limiter``."""
    return Container(settings=container.settings, db=container.db, rate_limiter=limiter)


def limited_world(container: Container, limit: int) -> SmsWorld:
    world = build_sms_world(container)
    container.accounts.patch(world.admin, world.customer, {"message_rate_limit": limit})
    return world


def test_5_per_second_admits_exactly_5_of_20_simultaneous(container: Container) -> None:
    world = limited_world(container, 5)
    one = node(container, InProcessRateLimiter(clock=lambda: FROZEN_NS))
    results = in_threads(20, lambda i: one.messaging.send(world.admin, message(f"m{i}")))
    admitted = [r for r in results if not isinstance(r, Exception)]
    limited = [r for r in results if isinstance(r, RateLimited)]
    assert (len(admitted), len(limited)) == (5, 15)
    assert all(r.retry_after == 0.2 for r in limited)  # one token refills in 1/5 s
    assert world.balance(world.customer) == D("10") - 5 * D("0.05")  # refused: not charged
    # R is paid 5 x 0.05 retail by C and pays 5 x 0.03 wholesale
    assert world.balance(world.reseller) == D("100") + 5 * D("0.05") - 5 * D("0.03")
    assert container.ledger.verify() == []


def test_a_limited_ancestor_limits_its_whole_subtree(container: Container) -> None:
    world = build_sms_world(container)
    container.accounts.patch(world.admin, world.reseller, {"message_rate_limit": 2})
    one = node(container, InProcessRateLimiter(clock=lambda: FROZEN_NS))
    sibling = world.customer_account("Sibling")
    world.top_up(sibling, "1.00")
    one.messaging.send(world.admin, message("a"))
    one.messaging.send(world.admin, message("b", account_id=sibling))
    with pytest.raises(RateLimited):
        one.messaging.send(world.admin, message("c"))
    # a replay is answered before the limit: a retry is never refused nor charged
    assert one.messaging.send(world.admin, message("a")).replayed
    container.accounts.patch(world.admin, world.customer, {"message_rate_limit": 0})
    with pytest.raises(Refused) as disabled:
        one.messaging.send(world.admin, message("d"))
    assert disabled.value.code == "messaging_disabled"


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(
            f"REDIS UNREACHABLE at {REDIS_URL} ({exc}): multi-node SMS rate limit SKIPPED "
            "(start Redis or set VOXBILL_TEST_REDIS_URL)"
        )
    prefix = f"voxbill-test:{uuid.uuid4().hex}:"
    try:
        yield prefix
    finally:
        for key in client.scan_iter(match=f"{prefix}*"):
            client.delete(key)
        client.close()


def test_two_nodes_sharing_redis_enforce_one_limit(container: Container, redis_prefix: str) -> None:
    world = limited_world(container, 5)
    limiters = [
        RedisRateLimiter(
            redis.Redis.from_url(REDIS_URL, socket_timeout=5),
            prefix=redis_prefix,
            clock=lambda: FROZEN_NS,
        )
        for _ in range(2)
    ]
    nodes = [node(container, limiter) for limiter in limiters]
    results = in_threads(20, lambda i: nodes[i % 2].messaging.send(world.admin, message(f"m{i}")))
    admitted = [i for i, r in enumerate(results) if not isinstance(r, Exception)]
    limited = [r for r in results if isinstance(r, RateLimited)]
    assert (len(admitted), len(limited)) == (5, 15)
    assert world.balance(world.customer) == D("10") - 5 * D("0.05")
    assert container.ledger.verify() == []
    for limiter in limiters:
        limiter.close()
