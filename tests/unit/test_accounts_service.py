"""AccountService's use cases over an in-memory unit of work: the rules that need more
than one account (parents, plans of the operator, who pays for calls in progress), with
no database."""

from __future__ import annotations

import json
from decimal import Decimal as D
from typing import Any, cast

import pytest

from support.in_memory_accounts import InMemoryUnitOfWork
from voxbill.domain.access import Principal, Role
from voxbill.domain.accounts import AccountStatus
from voxbill.domain.errors import CallsInProgress, Conflict, Forbidden, InvalidInput, NotFound
from voxbill.domain.notify import event_type_of
from voxbill.services.accounts.service import AccountService
from voxbill.services.unit_of_work import UnitOfWork


class Funds:
    def __init__(self, balance: str = "0", reserved: str = "0") -> None:
        self.balance = D(balance)
        self.reserved = D(reserved)


class World:
    def __init__(self) -> None:
        self.uow = InMemoryUnitOfWork()
        self.funds: dict[int, Funds] = {}
        self.changes = 0
        self.service = AccountService(
            cast(UnitOfWork, self.uow),
            funds_of=lambda account_id: self.funds.get(account_id, Funds()),
            on_change=self._changed,
        )
        root, created = self.service.ensure_operator("Acme", "EUR")
        assert created
        self.root = root.id
        self.admin = Principal(root.id, root.path, Role.ADMIN)
        self.uow.plans[(root.id, "retail")] = "EUR"
        self.uow.plans[(root.id, "dollars")] = "USD"

    def _changed(self) -> None:
        self.changes += 1

    def create(self, principal: Principal | None = None, **fields: Any) -> int:
        return self.service.create(principal or self.admin, fields).id


@pytest.fixture
def world() -> World:
    return World()


def test_the_first_operator_adopts_the_unowned_plans_and_is_found_again(world: World) -> None:
    again, created = world.service.ensure_operator("Acme", "EUR")
    assert (again.id, created) == (world.root, False)
    second, created = world.service.ensure_operator("Globex", "USD")
    assert created
    assert world.uow.rates.adopted_by == [world.root]  # the second adopts nothing
    assert world.service.operator_ids() == [world.root, second.id]


def test_a_child_inherits_currency_and_timezone_and_gets_its_path(world: World) -> None:
    reseller = world.create(name="R", kind="reseller")
    customer = world.create(name="C", kind="customer", parent_id=reseller, rate_plan="retail")
    account = world.service.visible(world.admin, customer)
    assert account.path == f"/{world.root}/{reseller}/{customer}/"
    assert (account.currency, account.timezone, account.depth) == ("EUR", "UTC", 2)
    assert account.plans.rate_plan == "retail"


def test_kinds_plans_and_currencies_are_checked_and_nothing_is_kept(world: World) -> None:
    reseller = world.create(name="R", kind="reseller")
    before = dict(world.uow.rows)
    with pytest.raises(InvalidInput, match="cannot be a child"):
        world.create(name="U", kind="user", parent_id=reseller)
    with pytest.raises(InvalidInput, match="no rate plan named 'unknown'"):
        world.create(name="C", kind="customer", rate_plan="unknown")
    with pytest.raises(InvalidInput, match="is in USD, not EUR"):
        world.create(name="C", kind="customer", rate_plan="dollars")
    assert world.uow.rows == before


def test_a_reseller_names_only_plans_used_in_its_subtree(world: World) -> None:
    reseller = world.create(name="R", kind="reseller")
    key = Principal(reseller, f"/{world.root}/{reseller}/", Role.RESELLER)
    world.create(key, name="C", kind="customer")  # no plan named: fine
    with pytest.raises(InvalidInput, match="no rate plan named 'retail'"):
        world.create(key, name="C1", kind="customer", rate_plan="retail")
    world.service.patch(world.admin, reseller, {"rate_plan": "retail"})
    created = world.create(key, name="C2", kind="customer", rate_plan="retail")
    assert world.service.visible(key, created).plans.rate_plan == "retail"


def test_outside_the_subtree_nothing_exists(world: World) -> None:
    a = world.create(name="A", kind="reseller")
    b = world.create(name="B", kind="reseller")
    key_a = Principal(a, f"/{world.root}/{a}/", Role.RESELLER)
    with pytest.raises(NotFound):
        world.service.visible(key_a, b)
    with pytest.raises(NotFound):
        world.create(key_a, name="C", kind="customer", parent_id=b)
    with pytest.raises(Forbidden):
        world.service.patch(key_a, a, {"credit_limit": D("5")})


def test_a_move_rewrites_the_subtree_paths(world: World) -> None:
    a = world.create(name="A", kind="reseller")
    b = world.create(name="B", kind="reseller")
    customer = world.create(name="C", kind="customer", parent_id=a)
    user = world.create(name="U", kind="user", parent_id=customer)
    world.service.patch(world.admin, customer, {"parent_id": b})
    moved = world.service.visible(world.admin, user)
    assert moved.path == f"/{world.root}/{b}/{customer}/{user}/"
    assert world.service.visible(world.admin, customer).parent_id == b
    with pytest.raises(InvalidInput, match="under itself"):
        world.service.patch(world.admin, b, {"parent_id": customer})


def test_who_pays_for_calls_does_not_change_under_a_call(world: World) -> None:
    customer = world.create(name="C", kind="customer")
    user = world.create(name="U", kind="user", parent_id=customer)
    user_path = world.service.visible(world.admin, user).path
    world.funds[user] = Funds(balance="1.00")
    with pytest.raises(Conflict, match="own balance"):
        world.service.patch(world.admin, user, {"shared_balance": True})
    world.funds[user] = Funds()
    world.uow.holds.open_under[user_path] = 1
    with pytest.raises(CallsInProgress):
        world.service.patch(world.admin, user, {"shared_balance": True})
    world.uow.holds.open_under.clear()
    shared = world.service.patch(world.admin, user, {"shared_balance": True})
    assert shared.balance.shared_balance


def test_a_write_tells_the_caches_once_it_is_kept(world: World) -> None:
    customer = world.create(name="C", kind="customer")
    changes = world.changes
    blocked = world.service.set_status(world.admin, customer, AccountStatus.BLOCKED)
    assert blocked.status is AccountStatus.BLOCKED
    assert world.changes == changes + 1
    with pytest.raises(InvalidInput):
        world.service.patch(world.admin, customer, {"timezone": "Mars/Olympus"})
    assert world.changes == changes + 1
    assert world.service.visible(world.admin, customer).timezone == "UTC"


def test_blocking_an_account_writes_one_outbox_event_delivered_as_balance_blocked(
    world: World,
) -> None:
    customer = world.create(name="C", kind="customer")
    world.service.set_status(world.admin, customer, AccountStatus.BLOCKED)
    world.service.set_status(world.admin, customer, AccountStatus.BLOCKED)  # no change
    world.service.set_status(world.admin, customer, AccountStatus.ACTIVE)
    ((topic, account_id, payload),) = world.uow.outbox.events
    assert (event_type_of(topic), account_id) == ("balance.blocked", customer)
    assert json.loads(payload)["reason"] == "account_blocked"
