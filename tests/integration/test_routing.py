"""Least-cost routing over a real database: order, cutoffs, the sell-below-cost guard."""

from __future__ import annotations

from decimal import Decimal

import pytest

from support.sip_world import CALLER, FRANCE, GERMANY, UK, UK_MOBILE, SipWorld, build_sip_world
from voxbill.bootstrap import Container
from voxbill.domain.access import Principal, Role
from voxbill.domain.accounts import AccountStatus, CutoffMode
from voxbill.domain.errors import Forbidden, InvalidInput
from voxbill.domain.routing import SipTarget
from voxbill.services.charging.service import CallerId


@pytest.fixture
def world(container: Container) -> SipWorld:
    return build_sip_world(container)


def _names(world: SipWorld, number: str) -> list[str]:
    world.container.routing.forget()
    query = world.container.routing.for_account(world.customer, number)
    return [route.vendor for route in query.routes]


def test_cheapest_vendor_first_with_its_target(world: SipWorld) -> None:
    query = world.container.routing.for_caller(CallerId(ani=CALLER), "+" + UK)
    assert query is not None
    assert query.account_id == world.customer
    assert query.sell_rate == Decimal("0.06")  # the reseller's plan: what the operator sells
    assert [(r.vendor, r.rate) for r in query.routes] == [
        ("Carrier-B", Decimal("0.02")),
        ("Carrier-A", Decimal("0.03")),
    ]
    assert query.routes[0].contact(UK) == f"sip:{UK}@127.0.0.1:5080;transport=tcp"
    assert query.routes[1].contact(UK) == f"sip:9#{UK}@127.0.0.1:5070;transport=udp"


def test_a_route_above_the_sell_rate_is_never_offered(world: SipWorld) -> None:
    assert _names(world, UK_MOBILE) == ["Carrier-A"]  # B buys 4479 at 0.08 > 0.06


def test_the_minimum_margin_guard(world: SipWorld) -> None:
    settings = world.container.settings
    settings.min_margin = Decimal("0.5")  # buy ≤ 0.03
    assert _names(world, UK) == ["Carrier-B", "Carrier-A"]
    settings.min_margin = Decimal("0.6")  # buy ≤ 0.024
    assert _names(world, UK) == ["Carrier-B"]


def test_blocked_vendors_are_skipped(world: SipWorld) -> None:
    world.container.accounts.set_status(world.system, world.carrier_b, AccountStatus.BLOCKED)
    assert _names(world, UK) == ["Carrier-A"]


def test_outbound_cutoff_follows_the_vendor_balance(world: SipWorld) -> None:
    world.patch(world.carrier_b, cutoff_mode=CutoffMode.OUTBOUND)
    assert _names(world, UK) == ["Carrier-A"]  # nothing prepaid: cut off
    world.fund(world.carrier_b, "50")
    assert _names(world, UK) == ["Carrier-B", "Carrier-A"]
    world.patch(world.carrier_a, cutoff_mode=CutoffMode.OUTBOUND)
    assert _names(world, UK) == ["Carrier-B"]


def test_ties_are_broken_by_name(world: SipWorld) -> None:
    world.create(world.root, "vendor", "Aardvark", rate_plan="buy-b")
    twin = world.container.accounts.children(world.system, world.root, after_id=None, limit=50)
    aardvark = next(a.id for a in twin if a.name == "Aardvark")
    world.container.routing.set_target(world.system, aardvark, SipTarget("10.0.0.9"))
    assert _names(world, UK) == ["Aardvark", "Carrier-B", "Carrier-A"]


def test_no_vendor_for_the_destination_gives_no_routes(world: SipWorld) -> None:
    assert _names(world, FRANCE) == []
    assert _names(world, GERMANY) == []
    assert world.container.routing.for_caller(CallerId(ani="+449999"), UK) is None


def test_only_the_operator_sets_a_target_and_only_on_vendors(world: SipWorld) -> None:
    routing = world.container.routing
    reseller = Principal(world.reseller, f"/{world.root}/{world.reseller}/", Role.RESELLER)
    with pytest.raises(Forbidden):
        routing.set_target(reseller, world.customer, SipTarget("10.0.0.1"))
    with pytest.raises(InvalidInput):
        routing.set_target(world.system, world.customer, SipTarget("10.0.0.1"))
    with pytest.raises(InvalidInput):
        SipTarget("bad host!")
    assert routing.target(world.system, world.carrier_a).tech_prefix == "9#"


def test_a_callers_chain_is_read_once_per_recheck_window(
    world: SipWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sell rate's chain is a cache like the vendor snapshot: read once per
    ``routing_recheck_seconds`` per account, again after ``forget`` (a target change)."""
    from voxbill.storage.routing import routes as routing_repository

    reads: list[int] = []
    real = routing_repository.chain

    def counting(conn: object, account_id: int) -> object:
        reads.append(account_id)
        return real(conn, account_id)  # type: ignore[arg-type]

    monkeypatch.setattr(routing_repository, "chain", counting)
    routing = world.container.routing
    routing.forget()
    first = routing.for_account(world.customer, UK)
    second = routing.for_account(world.customer, UK)
    assert reads == [world.customer]
    assert first == second
    world.patch(world.reseller, rate_plan="retail")  # the operator now sells at 0.10
    routing.forget()
    assert routing.for_account(world.customer, UK).sell_rate == Decimal("0.10")
    assert reads == [world.customer, world.customer]


def test_an_unknown_account_is_not_remembered_by_the_chain_cache(world: SipWorld) -> None:
    """A chain not found is read again at once: an account created next is routed."""
    from voxbill.domain.errors import NotFound

    routing = world.container.routing
    routing.forget()
    missing = world.customer + 1000
    with pytest.raises(NotFound):
        routing.for_account(missing, UK)
    assert routing._chains.peek(missing) is None
