"""Issue 12, item 1: a shared balance is never monopolised by one call (PRODUCT.md,
"Accounts and balances"), on SQLite and PostgreSQL.

``support.charging_world``'s operator: customer C (plan retail: 44 UK 0.10/min, connect
0.01, 30/6) whose balance user U shares; reseller R pays wholesale 0.06/min 1/1. A call
without interim updates that draws on a shared balance is granted at most the operator
default (``shared_balance_call_cap_seconds``, 3600 s) when no account below the root sets
a ``max_call_duration``; a session with interim updates holds one chunk at a time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal as D

import pytest

from support.charging_world import AT, UK, World, build_world
from voxbill.bootstrap import Container, build
from voxbill.domain.accounts import Account
from voxbill.domain.charging import CapSource, effective_call_cap
from voxbill.services.access.identifiers import IdentifierType
from voxbill.services.charging.service import CallerId, ChargingRefused, SessionGrant
from voxbill.settings import Settings


def _extension(world: World, name: str) -> CallerId:
    """A new user under customer C sharing its balance, known by SIP user ``name``."""
    user = world.create(world.customer, "user", name, shared_balance=True)
    world.container.identifiers.add(world.system, user, IdentifierType.SIP_USER, name, None)
    return CallerId(sip_user=name)


def _chain(world: World, account: int) -> list[Account]:
    with world.container.uow.transaction(readonly=True) as tx:
        return list(tx.sessions.chain(account))


def test_two_extensions_on_10_27_are_both_admitted(container: Container) -> None:
    # the symptom on main: the first call (no interim updates) was granted all that 10.27
    # pays (6156 s here: 0.01 + 6156 s x 0.10/60 = 10.27) and the second got 402
    world = build_world(container, customer_funds="10.27")
    second = _extension(world, "bob")
    charging = container.charging
    first = charging.start("a-1", world.user_caller, UK, AT)
    assert (first.granted_seconds, first.max_duration, first.final) == (3600, 3600, True)
    customer = container.ledger.balance(world.customer)
    assert customer.reserved == D("6.01")  # 0.01 + 3600 s x 0.10/60
    assert customer.available == D("4.26")
    assert container.ledger.balance(world.reseller).reserved == D("3.6")  # 3600 x 0.06/60

    # the second extension, without interim updates: what is left (30 + 420 x 6 s)
    other = charging.start("b-1", second, UK, AT)
    assert (other.granted_seconds, other.max_duration) == (2550, 2550)
    assert container.ledger.balance(world.customer).available == D("0")
    with pytest.raises(ChargingRefused) as refused:  # nothing is left for a third
        charging.start("b-2", second, UK, AT, interim=True)
    assert refused.value.code == "insufficient_funds"

    settled = charging.stop("a-1", 120)
    assert settled.cost == D("0.21")  # 0.01 + 120 s x 0.10/60
    assert container.ledger.balance(world.customer).available == D("5.80")  # 10.27 - 0.21 - 4.26
    charging.stop("b-1", 60)
    assert world.balance(world.customer) == D("9.95")  # 10.27 - 0.21 - 0.11
    assert container.ledger.verify() == []


def test_an_interim_session_holds_one_chunk_beside_a_capped_call(container: Container) -> None:
    # on main the second extension was refused with interim: true too: the first call
    # held the whole balance, so no chunk was left to hold
    world = build_world(container, customer_funds="10.27")
    second = _extension(world, "bob")
    charging = container.charging
    charging.start("a-1", world.user_caller, UK, AT)
    chunk = charging.start("b-1", second, UK, AT, interim=True)
    # one chunk (300 s: 0.51) held; the call may last what the rest pays, chunk by chunk
    assert (chunk.granted_seconds, chunk.max_duration, chunk.final) == (300, 2550, False)
    assert container.ledger.balance(world.customer).available == D("3.75")  # 4.26 - 0.51
    extended = charging.update("b-1", 290)
    assert extended.granted_seconds == 300  # the next chunk from the 290 s used: 590 held
    assert container.ledger.balance(world.customer).available == D("3.26")  # 4.26 - 1.00
    charging.stop("b-1", 400)
    charging.stop("a-1", 400)
    assert world.balance(world.customer) == D("8.91")  # 10.27 - 2 x (0.01 + 402 s x 0.10/60)
    assert container.ledger.verify() == []


def test_the_cap_applies_only_where_a_shared_balance_has_no_per_call_duration(
    container: Container,
) -> None:
    world = build_world(container, customer_funds="10.27")
    charging = container.charging
    # C's own call (by its ANI): its balance, no account of its chain shares it
    own = charging.start("c-1", world.customer_caller, UK, AT)
    assert own.max_duration == 6156
    charging.stop("c-1", 0)
    # a per-call duration on the shared balance replaces the operator default
    world.patch(world.customer, max_call_duration=5000)
    assert charging.start("u-1", world.user_caller, UK, AT).max_duration == 5000
    charging.stop("u-1", 0)
    world.patch(world.customer, max_call_duration=None)
    world.patch(world.user, max_call_duration=600)
    assert charging.start("u-2", world.user_caller, UK, AT).max_duration == 600
    charging.stop("u-2", 0)
    world.patch(world.user, max_call_duration=None)
    # a per-call cost cap applies as well: the lower of the two wins
    world.patch(world.customer, max_call_cost="1.00")
    assert charging.start("u-3", world.user_caller, UK, AT).max_duration == 594  # 0.01 + 0.99
    charging.stop("u-3", 0)
    world.patch(world.customer, max_call_cost=None)
    # a reseller whose balance its customer shares: the customer's calls are capped
    sharing = world.create(
        world.reseller, "customer", "C2", rate_plan="retail", shared_balance=True
    )
    container.identifiers.add(world.system, sharing, IdentifierType.ANI, "+441000000077", None)
    grant = charging.start("c-2", CallerId(ani="+441000000077"), UK, AT)
    assert grant.max_duration == 3600
    charging.stop("c-2", 0)
    assert container.ledger.verify() == []


def test_authorize_answers_the_capped_duration(container: Container) -> None:
    world = build_world(container, customer_funds="10.27")
    assert container.charging.authorize(world.user_caller, UK, AT).max_duration == 3600
    assert container.charging.authorize(world.customer_caller, UK, AT).max_duration == 6156


@pytest.fixture
def no_default(database_url: str) -> Iterator[Container]:
    settings = Settings(database_url=database_url, shared_balance_call_cap_seconds=0)
    built = build(settings, migrate=True)
    try:
        yield built
    finally:
        built.close()


def test_the_default_is_a_setting_and_0_turns_it_off(no_default: Container) -> None:
    world = build_world(no_default, customer_funds="10.27")
    assert no_default.charging.start("u-1", world.user_caller, UK, AT).max_duration == 6156


def test_the_effective_cap_and_where_it_comes_from(container: Container) -> None:
    world = build_world(container)

    def cap(chain: list[Account]) -> tuple[int, CapSource, int | None]:
        found = effective_call_cap(chain, 14400, 3600)
        return found.seconds, found.source, found.account_id

    def root_capped(chain: list[Account], seconds: int) -> list[Account]:
        root = chain[-1]
        limits = dataclasses.replace(root.limits, max_call_duration=seconds)
        return [*chain[:-1], dataclasses.replace(root, limits=limits)]

    user = _chain(world, world.user)
    assert cap(user) == (3600, CapSource.SHARED_BALANCE_DEFAULT, None)
    assert cap(_chain(world, world.customer)) == (14400, CapSource.SYSTEM, None)
    assert cap(root_capped(user, 1800)) == (1800, CapSource.ACCOUNT, world.root)
    # the root's cap is the operator's ceiling, not the shared balance's own cap
    assert cap(root_capped(user, 7200)) == (3600, CapSource.SHARED_BALANCE_DEFAULT, None)
    world.patch(world.reseller, max_call_duration=7000)
    assert cap(_chain(world, world.user)) == (7000, CapSource.ACCOUNT, world.reseller)
    assert effective_call_cap(user, 14400, 0).source is CapSource.SYSTEM


def _workers(container: Container) -> int:
    return 8 if container.settings.is_sqlite else 20


def test_20_extensions_start_together_and_all_the_balance_covers_are_admitted(
    container: Container,
) -> None:
    # 60.00 pays nine calls of 3600 s (6.01 each: 54.09) and 3540 s of a tenth (5.91)
    world = build_world(container, customer_funds="60")
    callers = [_extension(world, f"ext{i}") for i in range(20)]
    charging = container.charging

    def call(i: int) -> SessionGrant | ChargingRefused:
        try:
            return charging.start(f"x-{i}", callers[i], UK, AT)
        except ChargingRefused as exc:
            return exc

    with ThreadPoolExecutor(_workers(container)) as pool:
        results = list(pool.map(call, range(20)))
    admitted = [r for r in results if isinstance(r, SessionGrant)]
    refused = [r for r in results if isinstance(r, ChargingRefused)]
    assert sorted(g.granted_seconds for g in admitted) == [3540] + [3600] * 9
    assert len(refused) == 10
    assert {r.code for r in refused} == {"insufficient_funds"}
    customer = container.ledger.balance(world.customer)
    assert (customer.reserved, customer.available) == (D("60"), D("0"))
    reseller = container.ledger.balance(world.reseller)
    assert reseller.reserved == D("35.94")  # 9 x 3.60 + 3.54
    assert reseller.available == D("64.06")
    assert container.ledger.verify() == []

    with ThreadPoolExecutor(_workers(container)) as pool:
        list(pool.map(lambda g: charging.stop(g.session_id, 600), admitted))
    assert world.balance(world.customer) == D("49.9")  # 60 - 10 x (0.01 + 600 s x 0.10/60)
    assert world.balance(world.reseller) == D("104.1")  # 100 + 10 x (1.01 - 0.60)
    for account in (world.customer, world.reseller):
        view = container.ledger.balance(account)
        assert view.reserved == D("0")
        assert view.available >= 0
    assert container.ledger.verify() == []
