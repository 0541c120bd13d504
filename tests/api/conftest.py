"""Fixtures for the API tests: the tree of ``api_tree`` over each dialect."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from api_tree import Tree, build_tree

from voxbill.bootstrap import Container


@pytest.fixture
def tree(container: Container) -> Iterator[Tree]:
    built = build_tree(container)
    with built.client:
        yield built
