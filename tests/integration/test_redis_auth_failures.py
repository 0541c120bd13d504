"""Failed API keys per source counted in a real Redis: one count for every node, a
window that expires, and no refusal when Redis is down (issue 10, finding 20).

Uses ``VOXBILL_TEST_REDIS_URL`` (default redis://127.0.0.1:6379/15), keys under a
unique prefix per test, deleted afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import redis

from voxbill.storage.access.redis_failures import RedisAuthFailures

REDIS_URL = os.environ.get("VOXBILL_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def client() -> Iterator[redis.Redis]:
    connection = redis.Redis.from_url(REDIS_URL)
    try:
        connection.ping()
    except redis.RedisError as exc:
        pytest.skip(f"no Redis at {REDIS_URL}: {exc}")
    yield connection
    connection.close()


@pytest.fixture
def prefix(client: redis.Redis) -> Iterator[str]:
    name = f"voxbill-test:{uuid.uuid4().hex}:"
    yield name
    for key in client.scan_iter(f"{name}*"):
        client.delete(key)


def test_two_nodes_share_one_count(client: redis.Redis, prefix: str) -> None:
    node1 = RedisAuthFailures(client, 3, 60, prefix=prefix)
    node2 = RedisAuthFailures(client, 3, 60, prefix=prefix)
    node1.failed("203.0.113.5")
    node2.failed("203.0.113.5")
    assert node1.blocked_for("203.0.113.5") == 0
    node1.failed("203.0.113.5")
    for node in (node1, node2):
        assert 0 < node.blocked_for("203.0.113.5") <= 60
    assert node2.blocked_for("203.0.113.6") == 0
    ttl = client.pttl(f"{prefix}203.0.113.5")
    assert 0 < ttl <= 60_000  # the window expires by itself


def test_redis_down_refuses_nobody() -> None:
    unreachable = RedisAuthFailures.from_url("redis://127.0.0.1:1/0", 1, 60, timeout=0.2)
    unreachable.failed("203.0.113.5")
    assert unreachable.blocked_for("203.0.113.5") == 0
    unreachable.close()


def test_the_container_counts_in_redis_when_it_is_configured(
    client: redis.Redis, tmp_path: object
) -> None:
    from voxbill.bootstrap import build
    from voxbill.settings import Settings

    container = build(Settings(database_url="sqlite://", redis_url=REDIS_URL))
    try:
        assert isinstance(container.auth_failures, RedisAuthFailures)
    finally:
        container.close()
