"""A call is rated by the tariffs in force at its start, frozen on its session: a deck
re-imported while it is up (merged in place, or replaced without its prefix) neither
re-prices it nor leaves it without a rate, at every sell level and on the buy leg."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

from support.charging_world import AT, FRANCE, UK, build_world
from support.sip_world import CALLER, build_sip_world
from voxbill.bootstrap import Container
from voxbill.domain.rate_deck import read_deck
from voxbill.services.charging.service import CallerId
from voxbill.services.rating.imports import PlanOptions


def _import(
    container: Container, root: int, plan: str, deck: str, *, replace: bool = False
) -> None:
    container.rate_import.import_deck(
        read_deck(deck.splitlines(keepends=True)),
        operator_id=root,
        plan=plan,
        source="test",
        options=PlanOptions(),
        replace=replace,
    )
    container.rating.forget(root, plan)


def test_a_merged_reimport_does_not_reprice_a_call_in_progress(container: Container) -> None:
    world = build_world(container)
    charging = container.charging
    charging.start("p-1", world.customer_caller, UK, AT)
    header = "prefix,rate,connect_fee,initial_increment,increment,destination\n"
    _import(container, world.root, "retail", header + "44,0.50,0.01,30,6,UK\n")
    _import(container, world.root, "wholesale", "prefix,rate,destination\n44,0.30,UK\n")
    settlement = charging.stop("p-1", 600)
    # retail: 0.01 + 600 s x 0.10 / 60 = 1.01; wholesale: 600 s x 0.06 / 60 = 0.60
    assert (settlement.cost, settlement.billed_seconds) == (D("1.01"), 600)
    legs = charging.cdrs(world.system.path)[0].legs
    assert [(leg.cost, leg.rate) for leg in legs] == [(D("1.01"), D("0.10")), (D("0.6"), D("0.06"))]
    assert world.balance(world.customer) == D("10") - D("1.01")
    assert container.ledger.verify() == []


def test_a_replaced_deck_without_the_prefix_still_settles_and_sweeps(
    container: Container,
) -> None:
    world = build_world(container)
    charging = container.charging
    container.settings.sweeper_settle_at = "grant"  # the sweep prices a whole grant
    world.patch(world.customer, max_call_duration=60)
    charging.start("f-1", world.customer_caller, FRANCE, AT)
    charging.start("f-2", world.customer_caller, FRANCE, AT)
    _import(container, world.root, "retail", "prefix,rate,destination\n44,0.10,UK\n", replace=True)
    assert charging.stop("f-1", 30).cost == D("0.1")  # 30 s x 0.20 / 60
    assert charging.sweep(datetime.now(UTC) + timedelta(days=1)) == 1
    swept = next(c for c in charging.cdrs(world.system.path) if c.session_id == "f-2")
    assert swept.cost == D("0.2")  # its grant of 60 s
    late = charging.stop("f-2", 30)  # corrected by the frozen tariff too: 30 s x 0.20 / 60
    assert (late.corrected, late.cost) == (True, D("0.1"))
    assert container.ledger.verify() == []


def test_the_buy_leg_keeps_the_vendor_deck_of_the_start(container: Container) -> None:
    world = build_sip_world(container)
    charging = container.charging
    charging.start("v-1", CallerId(ani=CALLER), UK, AT, vendor_id=world.carrier_a)
    _import(container, world.root, "buy-a", "prefix,rate,destination\n44,0.90,UK\n")
    charging.stop("v-1", 60)
    cdr = next(c for c in charging.cdrs(world.system.path) if c.session_id == "v-1")
    assert cdr.vendor_cost == D("0.03")  # 60 s x 0.03 / 60, as when the call started
