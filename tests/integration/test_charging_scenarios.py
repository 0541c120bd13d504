"""Charging worked examples with exact Decimals, on SQLite and PostgreSQL.

See ``support.charging_world`` for the operator: customer C (retail: UK 0.10/min,
connect 0.01, 30/6) under reseller R (wholesale: UK 0.06/min, 1/1).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest
from sqlalchemy import select

from support.charging_world import AT, FRANCE, UK, World, build_world
from voxbill.bootstrap import Container
from voxbill.domain.errors import Conflict, NotFound
from voxbill.services.charging.service import CallerId, ChargingRefused
from voxbill.storage.schema import cdr_legs, cdrs, outbox_events


@pytest.fixture
def world(container: Container) -> World:
    return build_world(container)


def test_authorize_answers_rate_balance_and_the_exact_max_duration(world: World) -> None:
    answer = world.container.charging.authorize(world.customer_caller, UK, AT)
    assert answer.allowed
    assert answer.reason is None
    assert answer.account_id == world.customer
    # 10.00 pays 0.01 + 0.10 x d/60 up to d = 5994 s (30 + 994 x 6): cost exactly 10.00
    assert answer.max_duration == 5994
    assert (answer.rate, answer.currency, answer.balance) == (D("0.1"), "USD", D("10"))
    assert (answer.prefix, answer.destination) == ("44", "UK")
    tariff = world.container.rating.tariff(world.root, "retail", UK, AT)
    assert tariff.cost(5994) == D("10.0000") < tariff.cost(6000)


def test_a_call_is_held_at_every_level_then_charged_exactly_with_margins(world: World) -> None:
    charging = world.container.charging
    grant = charging.start("call-1", world.customer_caller, UK, AT)
    assert (grant.granted_seconds, grant.max_duration, grant.final) == (5994, 5994, True)
    holds = world.container.ledger.holds("call-1")
    assert [(h.account_id, h.amount) for h in holds] == [
        (world.customer, D("10")),
        (world.reseller, D("5.994")),
    ]
    assert world.available(world.customer) == D("0")

    done = charging.stop("call-1", 40)
    # retail: 30 + 2 x 6 = 42 s -> 0.01 + 42 x 0.10 / 60 = 0.08; wholesale: 40 x 0.06/60 = 0.04
    assert (done.billed_seconds, done.cost, done.currency) == (42, D("0.08"), "USD")
    assert done.balance == D("9.92")
    assert not done.overrun
    assert not done.replayed
    assert world.balance(world.customer) == D("9.92")
    # R is paid C's 0.08 (its retail sale) and pays its own 0.04: 100 + 0.08 - 0.04
    assert world.balance(world.reseller) == D("100.04")
    assert world.available(world.reseller) == D("100.04")
    with world.container.db.transaction(readonly=True) as conn:
        cdr = conn.execute(select(cdrs)).one()
        legs = conn.execute(select(cdr_legs).order_by(cdr_legs.c.level)).all()
    assert (cdr.id, cdr.callee, cdr.duration, cdr.cost) == (
        done.cdr_id,
        "442079460000",
        40,
        D("0.08"),
    )
    assert [
        (leg.account_id, leg.plan, leg.billed_seconds, leg.cost, leg.margin) for leg in legs
    ] == [
        (world.customer, "retail", 42, D("0.08"), None),
        (world.reseller, "wholesale", 40, D("0.04"), D("0.04")),
    ]
    assert world.container.ledger.verify() == []


def test_cdr_costs_equal_the_rating_engine_at_every_level(world: World) -> None:
    charging, rating = world.container.charging, world.container.rating
    for n, (number, duration) in enumerate(
        [(UK, 0), (UK, 1), (UK, 31), (FRANCE, 61), (FRANCE, 127)]
    ):
        charging.start(f"c{n}", world.user_caller, number, AT)
        charging.stop(f"c{n}", duration)
        with world.container.db.transaction(readonly=True) as conn:
            cdr = conn.execute(select(cdrs).where(cdrs.c.session_id == f"c{n}")).one()
            legs = conn.execute(select(cdr_legs).where(cdr_legs.c.cdr_id == cdr.id)).all()
        expected = [
            rating.quote(world.root, plan, number, duration, AT).rating
            for plan in ("retail", "wholesale")
        ]
        assert [(leg.cost, leg.billed_seconds) for leg in legs] == [
            (e.cost, e.billed_seconds) for e in expected
        ]
        assert cdr.account_id == world.user  # the shared-balance user's call, paid by C
    assert world.container.ledger.verify() == []


def test_refusals_carry_their_reason_codes(world: World) -> None:
    charging, c = world.container.charging, world.container.charging
    assert c.authorize(CallerId(ani="+449999999999"), UK, AT).reason == "unknown_caller"
    assert c.authorize(world.customer_caller, "not a number", AT).reason == "invalid_number"
    assert c.authorize(world.customer_caller, "+81312345678", AT).reason == "no_rate"
    assert c.authorize(CallerId(card="12345678", pin="0000"), UK, AT).reason == "invalid_pin"
    assert c.authorize(CallerId(card="12345678"), UK, AT).reason == "invalid_pin"
    assert c.authorize(CallerId(card="87654321", pin="4321"), UK, AT).reason == "unknown_caller"
    with pytest.raises(ChargingRefused) as wrong_pin:
        charging.start("pin", CallerId(card="12345678", pin="0000"), UK, AT)
    assert wrong_pin.value.reason == "invalid_pin"
    world.patch(world.reseller, status="blocked")
    assert c.authorize(world.user_caller, UK, AT).reason == "blocked"
    world.patch(world.reseller, status="active")
    world.patch(world.customer, block_balance="10")
    refused = c.authorize(world.customer_caller, UK, AT)
    assert (refused.allowed, refused.reason, refused.max_duration) == (
        False,
        "insufficient_funds",
        0,
    )
    with pytest.raises(ChargingRefused) as caught:
        charging.start("s", world.customer_caller, UK, AT)
    assert caught.value.code == "insufficient_funds"
    assert caught.value.authorization.account_id == world.customer
    world.patch(world.customer, block_balance="0", max_concurrent_calls=1)
    charging.start("s1", world.customer_caller, UK, AT)
    assert c.authorize(world.customer_caller, UK, AT).reason == "concurrency_limit"
    with pytest.raises(ChargingRefused) as caught:
        charging.start("s2", world.user_caller, UK, AT)  # the user is below the limited C
    assert caught.value.code == "concurrency_limit"
    for code, caller, number in [
        ("unknown_caller", CallerId(sip_user="bob"), UK),
        ("no_rate", world.card_caller, "+81312345678"),
        ("invalid_number", world.card_caller, "x"),
    ]:
        with pytest.raises(ChargingRefused) as caught:
            charging.start("s3", caller, number, AT)
        assert caught.value.code == code
    assert world.container.ledger.holds("s3") == []


def test_per_call_caps_bound_the_max_duration(world: World) -> None:
    world.patch(world.customer, max_call_cost="1.00")
    # 0.01 + 0.10 x d / 60 <= 1.00 -> d = 594 (30 + 94 x 6)
    assert world.container.charging.authorize(world.customer_caller, UK, AT).max_duration == 594
    world.patch(world.reseller, max_call_duration=100)
    assert world.container.charging.authorize(world.customer_caller, UK, AT).max_duration == 100


def test_low_balance_lowers_the_concurrency_limit(world: World) -> None:
    world.patch(world.customer, max_concurrent_calls=3, low_balance_concurrent_calls=1)
    charging = world.container.charging
    charging.start("a", world.customer_caller, UK, AT, interim=True)
    charging.start("b", world.customer_caller, UK, AT, interim=True)
    world.patch(world.customer, alert_balance="50")  # 10 < 50: the low limit (1) applies
    assert charging.authorize(world.customer_caller, UK, AT).reason == "concurrency_limit"
    charging.stop("a", 10)
    charging.stop("b", 10)
    assert charging.authorize(world.customer_caller, UK, AT).allowed


def test_retried_start_update_stop_charge_once(world: World) -> None:
    charging = world.container.charging
    first = charging.start("r", world.customer_caller, UK, AT, interim=True)
    again = charging.start("r", world.customer_caller, UK, AT, interim=True)
    assert (first.granted_seconds, first.final, again.replayed) == (300, False, True)
    assert again.granted_seconds == first.granted_seconds
    # 300 s: 0.01 + 300 x 0.10/60 = 0.51 held; wholesale 0.30
    assert [h.amount for h in world.container.ledger.holds("r")] == [D("0.51"), D("0.3")]
    update = charging.update("r", 290, request_number=1)
    assert (update.granted_seconds, update.replayed) == (300, False)  # 590 in total
    assert [h.amount for h in world.container.ledger.holds("r")] == [
        D("1"),
        D("0.59"),
    ]  # 594 s billed
    assert charging.update("r", 290, request_number=1).replayed
    assert charging.update("r", 100, request_number=2).replayed  # usage never goes back
    stop = charging.stop("r", 400, request_number=3)
    again_stop = charging.stop("r", 400, request_number=3)
    crossing = charging.stop("r", 999)
    assert stop.cost == D("0.68")
    assert stop.billed_seconds == 402
    assert (again_stop.replayed, crossing.replayed) == (True, True)
    assert again_stop.cost == crossing.cost == stop.cost
    assert world.balance(world.customer) == D("9.32")
    assert world.balance(world.reseller) == D("100") + D("0.68") - D("0.4")  # paid by C
    with pytest.raises(Conflict):
        charging.update("r", 500)
    with pytest.raises(NotFound):
        charging.stop("never-started", 1)
    assert world.container.ledger.verify() == []


def test_interim_grants_stop_at_the_funds_and_say_final(world: World) -> None:
    charging = world.container.charging
    world.patch(world.customer, max_call_cost="1.00")  # 594 s at most
    grant = charging.start("i", world.customer_caller, UK, AT, interim=True)
    assert (grant.granted_seconds, grant.max_duration, grant.final) == (300, 594, False)
    update = charging.update("i", 300)
    assert (update.granted_seconds, update.max_duration, update.final) == (294, 594, True)
    last = charging.update("i", 594)
    assert (last.granted_seconds, last.final) == (0, True)
    done = charging.stop("i", 594)
    assert done.cost == D("1.0000")
    assert not done.overrun


def test_a_late_stop_is_charged_and_flagged(world: World) -> None:
    charging = world.container.charging
    charging.start("late", world.customer_caller, UK, AT, interim=True)  # 300 s granted
    done = charging.stop("late", 360)
    assert done.overrun
    assert done.cost == D("0.61")
    with world.container.db.transaction(readonly=True) as conn:
        assert conn.execute(select(cdrs.c.overrun)).scalar_one() is True
    assert world.balance(world.customer) == D("9.39")
    assert world.container.ledger.verify() == []


def test_the_sweeper_settles_abandoned_sessions_at_their_last_usage(world: World) -> None:
    charging, clock = world.container.charging, world.container.charging._clock
    charging.start("whole", world.card_caller, FRANCE, AT)  # no updates: nothing (default)
    charging.start("interim", world.user_caller, UK, AT, interim=True)
    charging.update("interim", 100)
    assert charging.sweep() == 0  # nothing expired yet
    later = clock() + timedelta(hours=5)
    assert charging.sweep(later) == 2
    assert charging.sweep(later) == 0
    swept = {c.session_id: c for c in charging.cdrs(world.system.path)}
    assert (swept["whole"].duration, swept["whole"].settled_reason) == (
        0,
        "no_stop_no_usage_nothing",
    )
    assert (swept["interim"].duration, swept["interim"].settled_reason) == (
        100,
        "no_stop_last_usage",
    )
    whole = charging.stop("whole", 10)  # a late stop: corrected to the actual duration
    assert (whole.corrected, whole.replayed, whole.duration) == (True, False, 10)
    assert whole.duration == whole.billed_seconds
    assert charging.stop("interim", 120).duration == 120
    assert charging.stop("interim", 5).duration == 120  # corrected once, then replayed
    assert world.container.ledger.verify() == []


def test_charges_that_cross_the_alert_balance_write_one_event(world: World) -> None:
    world.patch(world.customer, alert_balance="9.95")
    charging = world.container.charging
    for n in range(3):
        charging.start(f"a{n}", world.customer_caller, UK, AT)
        charging.stop(f"a{n}", 40)  # 0.08 each: 9.92 after the first
    with world.container.db.transaction(readonly=True) as conn:
        topics = (
            conn.execute(
                select(outbox_events.c.topic).where(outbox_events.c.account_id == world.customer)
            )
            .scalars()
            .all()
        )
    assert [t for t in topics if "alert" in t] == ["balance.alert_crossed_down"]


def test_a_calling_card_pays_its_own_balance(world: World) -> None:
    charging = world.container.charging
    grant = charging.start("k", world.card_caller, UK, AT)
    assert grant.account_id == world.card
    assert grant.balance == D("5")  # before this call's hold of its whole balance
    done = charging.stop("k", 60)
    assert done.cost == D("0.11")
    assert done.balance == D("4.89")
