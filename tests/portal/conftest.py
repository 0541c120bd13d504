"""Fixtures for the portal tests: ``portal_world``'s tree over each dialect."""

from __future__ import annotations

import pytest
from portal_world import World, build_world

from voxbill.bootstrap import Container


@pytest.fixture
def world(container: Container) -> World:
    return build_world(container)
