"""The fraud guard (docs/charging.md, "Fraud guard") on SQLite and PostgreSQL: spend caps
per hour and day bound grants and refuse `spend_cap`, high-risk destinations refused
unless opted in (with their own daily cap), velocity alerts written exactly once.

The world (tests/support/charging_world.py) with flat plans: C pays 0.10/min to the UK
(4470 personal numbers: 1.00/min), R pays 0.06/min (0.60/min), every increment 1 s."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from support.charging_world import UK, World, build_world
from voxbill.bootstrap import Container, build
from voxbill.domain.rate_deck import read_deck
from voxbill.services.charging.service import CallerId, ChargingRefused, SessionGrant
from voxbill.services.rating.imports import PlanOptions
from voxbill.settings import Settings

AT = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
RISKY = "+447012345678"
SELL = (
    "prefix,rate,initial_increment,increment,destination\n44,0.10,1,1,UK\n4470,1.00,1,1,UK pers\n"
)
BUY = "prefix,rate,initial_increment,increment,destination\n44,0.06,1,1,UK\n4470,0.60,1,1,UK pers\n"


def flat_world(container: Container, **funds: str) -> World:
    world = build_world(container, **funds)
    for plan, text in (("flat", SELL), ("flat_buy", BUY)):
        container.rate_import.import_deck(
            read_deck(text.splitlines(keepends=True)),
            operator_id=world.root,
            plan=plan,
            source="test",
            options=PlanOptions(currency="USD"),
        )
    world.patch(world.customer, rate_plan="flat")
    world.patch(world.reseller, rate_plan="flat_buy")
    return world


def refused(container: Container, sid: str, caller: CallerId, number: str, at: datetime) -> str:
    with pytest.raises(ChargingRefused) as caught:
        container.charging.start(sid, caller, number, at)
    return caught.value.reason


def spend(container: Container, account: int) -> dict[str, D]:
    from sqlalchemy import select

    from voxbill.storage.schema import spend_counters

    with container.db.engine.connect() as conn:
        rows = conn.execute(
            select(spend_counters.c.period, spend_counters.c.amount).where(
                spend_counters.c.account_id == account
            )
        ).all()
    return {r.period: D(r.amount) for r in rows}


def test_an_hourly_cap_bounds_the_grant_then_refuses_until_the_next_hour(
    container: Container,
) -> None:
    world = flat_world(container)
    world.patch(world.customer, hourly_spend_cap=D("1.00"))
    charging, caller = container.charging, world.customer_caller
    assert charging.authorize(caller, UK, AT).max_duration == 600  # 1.00 at 0.10/min
    first = charging.start("h-1", caller, UK, AT)
    assert first.granted_seconds == 600
    # the grant counts while the call is open: nothing is left for another call
    assert charging.authorize(caller, UK, AT + timedelta(minutes=1)).reason == "spend_cap"
    charging.stop("h-1", 300)  # 0.50: the counter takes the charge instead of the grant
    assert spend(container, world.customer)["H2026-03-02T12:00:00+00:00"] == D("0.5")
    assert charging.start("h-2", caller, UK, AT + timedelta(minutes=10)).granted_seconds == 300
    charging.stop("h-2", 300)
    later = AT + timedelta(minutes=20)
    assert refused(container, "h-3", caller, UK, later) == "spend_cap"
    answer = charging.authorize(caller, UK, later)
    assert (answer.allowed, answer.reason) == (False, "spend_cap")
    # the next calendar hour flows again
    assert charging.start("h-4", caller, UK, AT + timedelta(hours=1)).granted_seconds == 600
    assert world.balance(world.customer) == D("9")  # 10 - 1.00
    assert container.ledger.verify() == []


def test_a_daily_cap_follows_the_accounts_timezone(container: Container) -> None:
    world = flat_world(container)
    world.patch(world.customer, daily_spend_cap=D("0.50"), timezone="America/New_York")
    charging, caller = container.charging, world.customer_caller
    late = datetime(2026, 3, 2, 4, 30, tzinfo=UTC)  # 23:30 on 1 March in New York
    charging.start("d-1", caller, UK, late)
    charging.stop("d-1", 300)  # 0.50: the day of 1 March is spent
    assert refused(container, "d-2", caller, UK, late + timedelta(minutes=20)) == "spend_cap"
    # 00:10 on 2 March in New York (05:10 UTC): a new day
    grant = charging.start("d-3", caller, UK, late + timedelta(minutes=40))
    assert grant.granted_seconds == 300
    assert set(spend(container, world.customer)) == {"D2026-03-01", "D2026-03-02"}


def test_a_resellers_cap_bounds_its_own_charges_for_its_subtree(container: Container) -> None:
    world = flat_world(container)
    world.patch(world.reseller, hourly_spend_cap=D("0.60"))  # 10 min of wholesale 0.06
    grant = container.charging.start("r-1", world.customer_caller, UK, AT)
    assert grant.granted_seconds == 600
    container.charging.stop("r-1", 600)
    assert spend(container, world.reseller) == {"H2026-03-02T12:00:00+00:00": D("0.6")}
    assert refused(container, "r-2", world.customer_caller, UK, AT) == "spend_cap"
    assert spend(container, world.customer) == {}  # no cap: no counter, no query


def test_interim_updates_stop_at_the_cap(container: Container) -> None:
    world = flat_world(container)
    world.patch(world.customer, hourly_spend_cap=D("0.70"))
    charging = container.charging
    grant = charging.start("i-1", world.customer_caller, UK, AT, interim=True)
    assert (grant.granted_seconds, grant.max_duration) == (300, 420)
    assert charging.update("i-1", 300).granted_seconds == 120  # 420 s in all
    assert charging.stop("i-1", 420).cost == D("0.7")
    assert spend(container, world.customer) == {"H2026-03-02T12:00:00+00:00": D("0.7")}


def test_high_risk_destinations_are_refused_unless_the_chain_opted_in(
    container: Container,
) -> None:
    world = flat_world(container)
    charging, caller = container.charging, world.customer_caller
    assert charging.start("k-0", caller, RISKY, AT).granted_seconds > 0  # not listed yet
    charging.stop("k-0", 0)
    container.high_risk.add_to(world.root, [("4470", "personal numbers")])
    assert refused(container, "k-1", caller, RISKY, AT) == "high_risk_destination"
    assert charging.authorize(caller, RISKY, AT).reason == "high_risk_destination"
    assert charging.authorize(caller, UK, AT).allowed  # another UK number
    world.patch(world.customer, high_risk_allowed=True)
    # the reseller above has not opted in: still refused
    assert refused(container, "k-2", caller, RISKY, AT) == "high_risk_destination"
    world.patch(world.reseller, high_risk_allowed=True)
    world.patch(world.customer, high_risk_daily_cap=D("1.00"))
    grant = charging.start("k-3", caller, RISKY, AT)
    assert grant.granted_seconds == 60  # 1.00 at 1.00/min
    charging.stop("k-3", 60)
    assert refused(container, "k-4", caller, RISKY, AT + timedelta(minutes=5)) == "spend_cap"
    assert charging.start("k-5", caller, UK, AT + timedelta(minutes=5)).granted_seconds > 60
    charging.stop("k-5", 0)
    # the next day in the customer's zone (UTC)
    assert charging.start("k-6", caller, RISKY, AT + timedelta(days=1)).granted_seconds == 60
    container.high_risk.remove_from(world.root, "4470")
    world.patch(world.reseller, high_risk_allowed=False)
    assert charging.authorize(caller, RISKY, AT + timedelta(days=2)).allowed


def _card(world: World, name: str) -> int:
    card = world.create(world.customer, "card", name)  # priced by C's plan, own balance
    world.fund(card, "5")
    world.patch(card, max_call_duration=120)
    return card


def test_concurrent_starts_never_exceed_a_cap_together(container: Container) -> None:
    # the cards keep balances of their own: only the cap's counter serializes them
    world = flat_world(container)
    world.patch(world.customer, hourly_spend_cap=D("1.00"))
    cards = [_card(world, f"K{i}") for i in range(12)]
    charging = container.charging

    def call(i: int) -> SessionGrant | ChargingRefused:
        try:
            return charging.start(f"race-{i}", CallerId(account_id=cards[i]), UK, AT)
        except ChargingRefused as exc:
            return exc

    with ThreadPoolExecutor(4 if container.settings.is_sqlite else 12) as pool:
        results = list(pool.map(call, range(12)))
    granted = [r for r in results if isinstance(r, SessionGrant)]
    assert sorted(g.granted_seconds for g in granted) == [120] * 5  # 5 x 0.20 = 1.00
    assert {r.reason for r in results if isinstance(r, ChargingRefused)} == {"spend_cap"}
    assert spend(container, world.customer) == {"H2026-03-02T12:00:00+00:00": D("1")}
    for grant in granted:
        charging.stop(grant.session_id, 60)
    assert spend(container, world.customer) == {"H2026-03-02T12:00:00+00:00": D("0.5")}
    assert container.ledger.verify() == []


@pytest.fixture
def alerting(database_url: str) -> Iterator[Container]:
    settings = Settings(database_url=database_url, velocity_min_calls=5, velocity_factor=D(3))
    built = build(settings, migrate=True)
    try:
        yield built
    finally:
        built.close()


def _velocity_events(container: Container, account: int) -> list[dict[str, object]]:
    with container.uow.transaction(readonly=True) as tx:
        found = tx.ledger.outbox(account)
    return [json.loads(e.payload) for e in found if e.topic == "fraud.velocity"]


def test_a_burst_writes_one_velocity_event(alerting: Container) -> None:
    world = flat_world(alerting, customer_funds="1000")
    charging, caller = alerting.charging, world.customer_caller
    # the norm: 60 calls in the hour before (1 a minute); 3x that is 3 calls a minute
    for i in range(60):
        at = AT - timedelta(minutes=60 - i)
        charging.start(f"n-{i}", caller, UK, at, interim=True)
        charging.stop(f"n-{i}", 10)
    for i in range(4):  # under the floor (5 calls): no alert
        charging.start(f"b-{i}", caller, UK, AT, interim=True)
    assert _velocity_events(alerting, world.customer) == []

    def call(i: int) -> None:
        charging.start(f"burst-{i}", caller, UK, AT + timedelta(seconds=i % 50), interim=True)

    with ThreadPoolExecutor(4 if alerting.settings.is_sqlite else 12) as pool:
        list(pool.map(call, range(24)))
    events = _velocity_events(alerting, world.customer)
    assert len(events) == 1
    event = events[0]
    assert event["minute"] == AT.isoformat()
    assert event["calls"] == 5  # the first call over the floor and 3x the norm
    assert event["norm_calls"] == "1"
    assert "calls" in event["over"]
    # the next minute alerts again, once
    for i in range(6):
        charging.start(f"next-{i}", caller, UK, AT + timedelta(minutes=1), interim=True)
    assert len(_velocity_events(alerting, world.customer)) == 2


def test_the_sweeper_and_a_late_stop_keep_the_counter_at_the_charge(container: Container) -> None:
    world = flat_world(container)
    world.patch(world.customer, hourly_spend_cap=D("1.00"))
    charging = container.charging
    grant = charging.start("l-1", world.customer_caller, UK, AT)
    assert grant.granted_seconds == 600
    # never confirmed: charged nothing
    assert charging.sweep(grant.expires_at + timedelta(hours=2)) == 1
    assert spend(container, world.customer) == {"H2026-03-02T12:00:00+00:00": D("0")}
    assert charging.stop("l-1", 120).corrected  # the late stop: 0.20
    assert spend(container, world.customer) == {"H2026-03-02T12:00:00+00:00": D("0.2")}
    assert charging.authorize(world.customer_caller, UK, AT).max_duration == 480


def test_old_velocity_minutes_are_forgotten(container: Container) -> None:
    world = flat_world(container)
    charging = container.charging
    for n, at in enumerate((AT - timedelta(hours=3), AT - timedelta(minutes=90), AT)):
        charging.start(f"v-{n}", world.customer_caller, UK, at, interim=True)
    # the norm of AT's minute reads the hour before it: older minutes go (window + 1 h)
    assert charging.forget_velocity(AT) == 1
    assert charging.forget_velocity(AT) == 0


@pytest.fixture
def quiet(database_url: str) -> Iterator[Container]:
    built = build(Settings(database_url=database_url, velocity_factor=D(0)), migrate=True)
    try:
        yield built
    finally:
        built.close()


def test_velocity_off_counts_nothing(quiet: Container) -> None:
    from sqlalchemy import func, select

    from voxbill.storage.schema import velocity_minutes

    world = flat_world(quiet)
    quiet.charging.start("q-1", world.customer_caller, UK, AT)
    with quiet.db.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(velocity_minutes)).scalar() == 0
