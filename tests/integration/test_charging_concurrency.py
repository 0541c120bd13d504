"""Charging under concurrency, on SQLite and PostgreSQL: the database is the only truth.

Holds never exceed what is available, concurrency limits admit exactly their number,
duplicate and crossing requests charge once, and abandoned sessions are settled by
exactly one of several sweepers.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal as D
from typing import Any

import pytest
from sqlalchemy import func, select

from support.charging_world import AT, UK, World, build_world
from voxbill.bootstrap import Container, build
from voxbill.domain.errors import PinBusy
from voxbill.services.charging.service import ChargingRefused
from voxbill.storage.schema import call_counters, cdrs, charging_sessions


@pytest.fixture
def world(container: Container) -> World:
    return build_world(container, customer_funds="25")


def _workers(container: Container) -> int:
    """Enough threads to contend; more only starve the lock holder of the GIL (one test
    process plays every node) until waiters pass the lock timeout."""
    return 8 if container.settings.is_sqlite else 20


def _run(container: Container, count: int, work: Callable[[int], Any]) -> list[Any]:
    def guarded(i: int) -> Any:
        try:
            return work(i)
        except (ChargingRefused, PinBusy) as exc:
            return exc

    with ThreadPoolExecutor(_workers(container)) as pool:
        return list(pool.map(guarded, range(count)))


def _count(container: Container, query: Any) -> int:
    with container.db.transaction(readonly=True) as conn:
        return int(conn.execute(query).scalar_one())


def test_500_starts_on_one_shared_balance_never_hold_more_than_is_available(
    world: World,
) -> None:
    # every call may cost at most 0.10 (54 s of retail: 0.01 + 54 x 0.10/60): 25.00 pays 250
    world.patch(world.customer, max_call_cost="0.10")
    charging = world.container.charging
    callers = [world.customer_caller, world.user_caller]
    results = _run(world.container, 500, lambda i: charging.start(f"s{i}", callers[i % 2], UK, AT))
    admitted = [r for r in results if not isinstance(r, ChargingRefused)]
    refused = [r for r in results if isinstance(r, ChargingRefused)]
    assert len(admitted) == 250
    assert {r.code for r in refused} == {"insufficient_funds"}
    assert {g.granted_seconds for g in admitted} == {54}
    customer = world.container.ledger.balance(world.customer)
    assert (customer.reserved, customer.available) == (D("25"), D("0"))
    assert world.container.ledger.balance(world.reseller).reserved == D("13.5")  # 250 x 0.054

    _run(world.container, len(admitted), lambda i: charging.stop(admitted[i].session_id, 54))
    assert world.balance(world.customer) == D("0")
    assert world.balance(world.reseller) == D("111.5")  # 100 + 250 x (0.10 paid by C - 0.054)
    for account in (world.customer, world.reseller):
        view = world.container.ledger.balance(account)
        assert view.reserved == D("0")
        assert view.balance >= view.block_balance
    assert _count(world.container, select(func.count()).select_from(cdrs)) == 250
    assert world.container.ledger.verify() == []


def test_a_limit_of_5_admits_exactly_5_of_100_and_a_card_exactly_1(world: World) -> None:
    world.patch(world.customer, max_concurrent_calls=5)
    charging = world.container.charging
    results = _run(
        world.container,
        100,
        lambda i: charging.start(f"c{i}", world.user_caller, UK, AT, interim=True),
    )
    admitted = [r for r in results if not isinstance(r, ChargingRefused)]
    assert len(admitted) == 5
    assert {r.code for r in results if isinstance(r, ChargingRefused)} == {"concurrency_limit"}

    world.patch(world.customer, max_concurrent_calls=None)
    cards = _run(
        world.container,
        20,
        lambda i: charging.start(f"k{i}", world.card_caller, UK, AT, interim=True),
    )
    assert len([r for r in cards if not isinstance(r, ChargingRefused | PinBusy)]) == 1
    # the others: over the card's limit, or their PIN not checked at all (this node's PIN
    # checks, or the card's guesses, were all in flight: services/card_pins.py)
    refused = {r.code for r in cards if isinstance(r, ChargingRefused | PinBusy)}
    assert "concurrency_limit" in refused
    assert refused <= {"concurrency_limit", "pin_busy"}
    card_open = select(call_counters.c.open_calls).where(call_counters.c.account_id == world.card)
    assert _count(world.container, card_open) == 1


def test_duplicate_and_crossing_requests_charge_once(world: World) -> None:
    charging = world.container.charging
    starts = _run(
        world.container,
        20,
        lambda i: charging.start("dup", world.customer_caller, UK, AT, interim=True),
    )
    assert len([g for g in starts if not g.replayed]) == 1
    assert {g.granted_seconds for g in starts} == {300}
    assert world.container.ledger.balance(world.customer).reserved == D("0.51")
    stops = _run(world.container, 20, lambda i: charging.stop("dup", 40 + i))
    assert len([s for s in stops if not s.replayed]) == 1
    assert len({(s.cost, s.duration, s.cdr_id) for s in stops}) == 1
    assert world.balance(world.customer) == D("25") - stops[0].cost
    assert world.container.ledger.balance(world.customer).reserved == D("0")
    assert world.container.ledger.verify() == []


def test_a_killed_process_leaves_holds_that_one_of_two_sweepers_settles(
    world: World, database_url: str
) -> None:
    world.patch(world.customer, max_call_cost="0.10")
    world.container.settings.sweeper_settle_at = "auto"  # the others at their grant
    doomed = build(world.container.settings)  # another "node", which dies mid-calls
    for i in range(30):
        doomed.charging.start(f"k{i}", world.customer_caller, UK, AT, interim=i % 2 == 0)
        if i % 2 == 0:
            doomed.charging.update(f"k{i}", 20)
    doomed.close()
    del doomed
    assert world.container.ledger.balance(world.customer).reserved == D("3")  # 30 x 0.10

    later = world.container.charging._clock() + timedelta(hours=5)
    other = build(world.container.settings)
    try:
        sweepers = [world.container.charging, other.charging]
        with ThreadPoolExecutor(2) as pool:
            settled = list(pool.map(lambda s: s.sweep(later), sweepers))
    finally:
        other.close()
    assert sum(settled) == 30
    assert _count(world.container, select(func.count()).select_from(cdrs)) == 30
    still_open = select(func.count()).where(charging_sessions.c.status == "open")
    assert _count(world.container, still_open) == 0
    # interim sessions settle at their last usage (20 s: 30 s billed, 0.06), the others at
    # their grant (54 s: 0.10): 15 x 0.06 + 15 x 0.10
    assert world.balance(world.customer) == D("25") - D("2.4")
    assert world.container.ledger.balance(world.customer).reserved == D("0")
    assert world.container.ledger.verify() == []
