"""Who pays for a call may not change under it, on SQLite and PostgreSQL.

A call's holds sit on the balance its account used when it started. Unsharing (or
sharing) that balance, or moving a shared-balance account to another parent, while the
account has a call up would leave the call unable to settle; voxbill refuses the change
with 409 ``calls_in_progress`` until the calls have ended, and changes nothing.
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from support.charging_world import AT, UK, World, build_world
from voxbill.bootstrap import Container
from voxbill.domain.errors import CallsInProgress


@pytest.fixture
def world(container: Container) -> World:
    return build_world(container)


def _shared(world: World, account: int) -> bool:
    found = world.container.accounts.visible(world.system, account)
    return bool(found.balance.shared_balance)


def test_unsharing_waits_for_the_calls_of_the_account(world: World) -> None:
    charging = world.container.charging
    charging.start("u1", world.user_caller, UK, AT)
    with pytest.raises(CallsInProgress, match="calls in progress"):
        world.patch(world.user, shared_balance=False)
    assert _shared(world, world.user)  # nothing changed
    settled = charging.stop("u1", 60)
    assert settled.cost > 0
    assert world.balance(world.customer) == D("10") - settled.cost  # the shared balance paid
    world.patch(world.user, shared_balance=False)  # no call up any more: allowed
    assert not _shared(world, world.user)
    assert world.container.ledger.verify() == []


def test_moving_a_shared_balance_account_waits_for_its_calls(world: World) -> None:
    charging = world.container.charging
    other = world.create(world.reseller, "customer", "C2", rate_plan="retail")
    charging.start("u2", world.user_caller, UK, AT)
    with pytest.raises(CallsInProgress):
        world.patch(world.user, parent_id=other)
    charging.stop("u2", 30)
    world.patch(world.user, parent_id=other)
    assert world.container.ledger.verify() == []


def test_other_changes_are_not_held_back_by_calls(world: World) -> None:
    world.container.charging.start("u3", world.user_caller, UK, AT)
    world.patch(world.user, name="U renamed")
    world.patch(world.customer, alert_balance="1")
    world.container.charging.stop("u3", 30)
    assert world.container.ledger.verify() == []
