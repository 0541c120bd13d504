"""Diameter Gy nodes keep no usage of their own (PRODUCT.md: no correctness in process
memory): a session started on one node is updated and terminated on another over the
same database, on SQLite and PostgreSQL, and ends with the exact cost.

The world (``support.charging_world``): customer C, ANI +441000000001, retail UK
0.10/min + 0.01 connect, 30/6 increments; funds 10.00.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal as D

import pytest

from support.charging_world import UK, build_world
from support.diameter_client import diameter_server, gy_client
from voxbill.bootstrap import Container, build
from voxbill.settings import Settings

ANI = "441000000001"


@pytest.fixture
def other_node(container: Container, database_url: str) -> Iterator[Container]:
    """A second voxbill node: its own services and memory, the same database."""
    node = build(Settings(database_url=database_url))
    try:
        yield node
    finally:
        node.close()


def test_ccr_i_on_one_node_then_ccr_u_and_ccr_t_on_another_end_with_the_exact_cost(
    container: Container, other_node: Container
) -> None:
    world = build_world(container)
    with (
        diameter_server(container) as first_port,
        diameter_server(other_node) as second_port,
        gy_client(first_port) as first,
        gy_client(second_port) as second,
    ):
        session = first.new_session_id()
        assert first.initial(session, ANI, UK).granted_seconds == 300
        assert second.update(session, 1, used=300).granted_seconds == 300
        assert other_node.charging.session_usage(session) == 300
        again = first.update(session, 1, used=300)  # a retransmission reaching node one
        assert (again.result_code, again.granted_seconds) == (2001, 300)
        assert container.charging.session_usage(session) == 300  # counted once
        assert first.update(session, 2, used=280).result_code == 2001
        end = second.terminate(session, 3, used=45)  # 625 s in all
        assert end.result_code == 2001
        expected = world.container.rating.tariff(world.root, "retail", UK).cost(625)
        assert end.cost == expected == D("1.0600")  # 0.01 + 630 s x 0.10 / 60
        assert first.terminate(session, 3, used=45).cost == end.cost  # replayed
        assert world.balance(world.customer) == D("10") - expected
        assert container.ledger.verify() == []
