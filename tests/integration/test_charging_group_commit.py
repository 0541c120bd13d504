"""Group commit on SQLite and PostgreSQL: concurrent steps share commits, and a step
refused inside a shared transaction leaves the others' holds, sessions and CDRs intact."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal as D
from typing import Any

import pytest
from sqlalchemy import func, select

from support.charging_world import AT, FRANCE, UK, World, build_world
from voxbill.bootstrap import Container, build
from voxbill.domain.errors import SessionConflict
from voxbill.services.charging.service import CallerId, ChargingRefused
from voxbill.storage.schema import cdrs, charging_sessions


@pytest.fixture
def world(container: Container) -> World:
    return build_world(container, customer_funds="5")


def _count(container: Container, table: Any) -> int:
    with container.db.transaction(readonly=True) as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _run(count: int, work: Any) -> list[Any]:
    def guarded(i: int) -> Any:
        try:
            return work(i)
        except (ChargingRefused, SessionConflict) as exc:
            return exc

    with ThreadPoolExecutor(16) as pool:
        return list(pool.map(guarded, range(count)))


def test_concurrent_starts_and_stops_share_commits_and_refusals_stay_alone(
    world: World,
) -> None:
    world.patch(world.customer, max_call_cost="0.10")  # 5.00 pays for 50 such calls
    charging = world.container.charging
    # session "s0" is taken first: every third start reuses it for another number and
    # is refused inside the shared transaction (session_conflict)
    charging.start("s0", world.customer_caller, UK, AT)

    def start(i: int) -> Any:
        if i % 3 == 0:
            return charging.start("s0", world.customer_caller, FRANCE, AT)
        return charging.start(f"s{i}", world.customer_caller, UK, AT)

    results = _run(120, start)
    conflicts = [r for r in results if isinstance(r, SessionConflict)]
    refused = [r for r in results if isinstance(r, ChargingRefused)]
    admitted = [r for r in results if not isinstance(r, SessionConflict | ChargingRefused)]
    assert len(conflicts) == 40
    assert len(admitted) == 49  # + s0 = 50 calls of 0.10 on 5.00
    assert {r.code for r in refused} == {"insufficient_funds"}
    assert world.container.ledger.balance(world.customer).available == D("0")
    assert _count(world.container, charging_sessions) == 50

    _run(len(admitted), lambda i: charging.stop(admitted[i].session_id, 54))
    charging.stop("s0", 54)
    assert world.balance(world.customer) == D("0")
    assert _count(world.container, cdrs) == 50
    assert world.container.ledger.verify() == []
    group = charging._group
    assert group.batches < group.steps  # steps did share transactions


def test_group_commit_off_gives_every_step_its_own_transaction(
    container: Container, database_url: str
) -> None:
    settings = container.settings.model_copy(update={"commit_group_limit": 1})
    alone = build(settings)
    try:
        world = build_world(alone, customer_funds="5")
        world.patch(world.customer, max_call_cost="0.10")
        charging = alone.charging
        results = _run(20, lambda i: charging.start(f"a{i}", world.customer_caller, UK, AT))
        assert all(not isinstance(r, Exception) for r in results)
        _run(20, lambda i: charging.stop(f"a{i}", 30))
        assert _count(alone, cdrs) == 20
        assert alone.ledger.verify() == []
        assert charging._group.batches == 0  # limit 1 never batches
    finally:
        alone.close()


def test_two_nodes_batching_against_one_database_settle_every_call(
    container: Container,
) -> None:
    """Two nodes (own services, own group commit) batch calls of 20 customers under one
    reseller whose balance book was created after some customers' and before others'
    (so a batch's steps lock books in no single global order): every call is admitted
    and settled exactly once, and the ledger verifies."""
    world = build_world(container)
    reseller = world.create(world.root, "reseller", "R2", rate_plan="wholesale")
    customers: list[int] = []
    for i in range(20):
        customer = world.create(reseller, "customer", f"C{i}", rate_plan="retail")
        world.patch(customer, max_call_cost="0.10")
        if i % 2 == 0:
            world.fund(customer, "10")  # a book older than the reseller's
        customers.append(customer)
    world.fund(reseller, "100")
    for customer in customers[1::2]:
        world.fund(customer, "10")  # a book younger than the reseller's
    other = build(container.settings)
    try:
        nodes = [container.charging, other.charging]

        def call(i: int) -> Any:
            node = nodes[i % 2]
            caller = CallerId(account_id=customers[i % 20])
            node.start(f"n{i}", caller, UK, AT)
            return node.stop(f"n{i}", 30)

        results = _run(200, call)
        assert all(not isinstance(r, Exception) for r in results), results
        assert _count(container, cdrs) == 200
        assert container.ledger.verify() == []
        assert other.ledger.verify() == []
    finally:
        other.close()
