"""Fixtures for the API tests: the tree of ``api_tree`` over each dialect."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from api_tree import Tree, build_tree

from support.caches import LONG_CACHE_SECONDS
from voxbill.bootstrap import Container, build
from voxbill.services.access.failures import InProcessAuthFailures
from voxbill.settings import Settings


@pytest.fixture
def warm_container(database_url: str) -> Iterator[Container]:
    """``container`` with caches that outlive the test."""
    settings = Settings(database_url=database_url, hot_cache_seconds=LONG_CACHE_SECONDS)
    built = build(settings, migrate=True)
    try:
        yield built
    finally:
        built.close()


@pytest.fixture
def tree(container: Container) -> Iterator[Tree]:
    # these tests send many bad keys from one client on purpose: the throttle of failed
    # keys per source (tested in test_auth_failures.py) would answer them 429
    container.auth_failures = InProcessAuthFailures(limit=100_000, window=60)
    built = build_tree(container)
    with built.client:
        yield built
