"""Calling-card PINs (issue 10, findings 5 and 7): wrong PINs are counted in the
database per card and per asker, a card locks at exactly the threshold even under
concurrent guesses from several nodes, its owner is told through the outbox, and PIN
checks hold a bounded share of a node's threads.

The operator is ``support.charging_world``: card K 12345678 / PIN 4321 under customer C.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from support.charging_world import UK, World, build_world
from support.radius_peer import radclient, require_radclient, running_radius
from voxbill.bootstrap import Container, build
from voxbill.domain.errors import PinBusy
from voxbill.services.access.identifiers import IdentifierType
from voxbill.services.charging.service import CallerId
from voxbill.settings import Settings
from voxbill.storage.schema import card_pin_counters, outbox_events, pin_asker_counters

CARD = "12345678"
RIGHT, WRONG = "4321", "0000"
T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
DEADLINE_SECONDS = 60.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class CountedChecks:
    """The PIN check, counted (and optionally held) to see which guesses were verified."""

    def __init__(self, container: Container, before: Callable[[], None] | None = None) -> None:
        pins = container.identifiers.pins
        self._real = pins.matches
        self._before = before
        self._lock = threading.Lock()
        self.calls = 0
        pins.matches = self

    def __call__(self, pin_hash: str, pin: str) -> bool:
        with self._lock:
            self.calls += 1
        if self._before is not None:
            self._before()
        return self._real(pin_hash, pin)


@pytest.fixture
def world(container: Container) -> World:
    return build_world(container)


@pytest.fixture
def clock(world: World) -> Clock:
    clock = Clock()
    world.container.identifiers.pins.clock = clock
    return clock


def _reason(world: World, pin: str | None, asker: str | None = None, card: str = CARD) -> str:
    """The authorization's refusal reason ("allowed" if none); ``pin_busy``, no refusal
    but a "retry" (no PIN could be checked now), is raised, and returned here as such."""
    caller = CallerId(card=card, pin=pin, asker=asker)
    try:
        answer = world.container.charging.authorize(caller, UK)
    except PinBusy as busy:
        return busy.code
    return "allowed" if answer.allowed else str(answer.reason)


def _counter(container: Container) -> Any:
    with container.db.transaction(readonly=True) as conn:
        return conn.execute(select(card_pin_counters)).one_or_none()


def _locked_events(container: Container) -> list[dict[str, Any]]:
    with container.db.transaction(readonly=True) as conn:
        rows = conn.execute(
            select(outbox_events).where(outbox_events.c.topic == "card.pin_locked")
        ).all()
    return [json.loads(row.payload) | {"row_account_id": row.account_id} for row in rows]


def test_five_wrong_pins_lock_the_card_even_for_the_right_one_and_tell_its_owner(
    world: World, clock: Clock
) -> None:
    checks = CountedChecks(world.container)
    assert [_reason(world, WRONG) for _ in range(5)] == ["invalid_pin"] * 5
    assert checks.calls == 5
    counter = _counter(world.container)
    assert (counter.failures, counter.lockouts) == (0, 1)
    assert counter.locked_until == T0 + timedelta(seconds=300)
    # locked: the right PIN is refused too, and no PIN is verified at all
    assert [_reason(world, RIGHT), _reason(world, WRONG), _reason(world, None)] == [
        "card_locked",
        "card_locked",
        "invalid_pin",  # no PIN: nothing guessed, nothing counted; the switch prompts
    ]
    assert checks.calls == 5
    (event,) = _locked_events(world.container)
    assert event["row_account_id"] == event["account_id"] == world.card
    assert (event["card"], event["failures"], event["lockouts"]) == ("…5678", 5, 1)
    assert event["locked_until"] == (T0 + timedelta(seconds=300)).isoformat()

    # the next lockout before a right PIN is twice as long
    clock.advance(300)
    assert [_reason(world, WRONG) for _ in range(5)] == ["invalid_pin"] * 5
    assert _counter(world.container).locked_until == clock.now + timedelta(seconds=600)
    clock.advance(599)
    assert _reason(world, RIGHT) == "card_locked"
    clock.advance(1)
    # a right PIN once the lockout is over: allowed, and the count starts afresh
    assert _reason(world, RIGHT) == "allowed"
    assert (_counter(world.container).failures, _counter(world.container).lockouts) == (0, 0)
    assert [_reason(world, WRONG) for _ in range(4)] + [_reason(world, RIGHT)] == [
        "invalid_pin"
    ] * 4 + ["allowed"]
    assert _counter(world.container).failures == 0
    assert len(_locked_events(world.container)) == 2


def test_concurrent_wrong_pins_on_two_nodes_verify_exactly_the_threshold(
    world: World, database_url: str
) -> None:
    """30 wrong PINs at once, half through each of two nodes over one database: exactly
    5 are verified (the first 4 are held until all 5 are counted, so they were truly in
    flight together), the card locks once, and the right PIN is refused afterwards."""
    other = build(Settings(database_url=database_url))
    try:
        nodes = [world.container, other]

        def until_all_five_counted() -> None:
            deadline = time.monotonic() + DEADLINE_SECONDS
            while time.monotonic() < deadline:
                counter = _counter(world.container)
                if counter is not None and (counter.failures >= 5 or counter.lockouts):
                    return
                time.sleep(0.005)
            raise AssertionError("the 5 guesses were never counted together")

        checks = [CountedChecks(node, until_all_five_counted) for node in nodes]
        start = threading.Barrier(30)

        def guess(i: int) -> str:
            start.wait(timeout=DEADLINE_SECONDS)
            caller = CallerId(card=CARD, pin=WRONG, asker=f"nas:10.0.0.{i}")
            try:
                return str(nodes[i % 2].charging.authorize(caller, UK).reason)
            except PinBusy as busy:
                return busy.code

        with ThreadPoolExecutor(30) as pool:
            reasons = list(pool.map(guess, range(30), timeout=DEADLINE_SECONDS * 2))
        assert sum(c.calls for c in checks) == 5
        assert reasons.count("invalid_pin") == 5
        assert set(reasons) - {"invalid_pin"} <= {"card_locked", "pin_busy"}
        counter = _counter(world.container)
        assert counter.lockouts == 1
        assert counter.locked_until is not None
        assert len(_locked_events(world.container)) == 1
        for node in nodes:
            answer = node.charging.authorize(CallerId(card=CARD, pin=RIGHT), UK)
            assert answer.reason == "card_locked"
        assert sum(c.calls for c in checks) == 5
    finally:
        other.close()


@pytest.fixture
def strict(database_url: str) -> Iterator[World]:
    """A node whose askers may send 3 wrong PINs per 10 minutes, with cards 1001..1004."""
    settings = Settings(database_url=database_url, pin_asker_max_failures=3)
    container = build(settings, migrate=True)
    try:
        world = build_world(container)
        for n in range(1001, 1005):
            card = world.create(world.customer, "card", f"K{n}", rate_plan="retail")
            world.fund(card, "1")
            container.identifiers.add(world.system, card, IdentifierType.CARD, str(n), "4321")
        yield world
    finally:
        container.close()


def test_an_asker_spraying_cards_is_refused_without_verification(strict: World) -> None:
    world = strict
    clock = Clock()
    world.container.identifiers.pins.clock = clock
    checks = CountedChecks(world.container)
    spray = [_reason(world, WRONG, "key:7", str(n)) for n in (1001, 1002, 1003)]
    assert spray == ["invalid_pin"] * 3
    # over its budget: refused whatever the card and the PIN, nothing verified, and the
    # answer says nothing of the card (known, unknown, locked)
    assert _reason(world, RIGHT, "key:7", "1004") == "too_many_pin_failures"
    assert _reason(world, WRONG, "key:7", CARD) == "too_many_pin_failures"
    assert checks.calls == 3
    # another asker is not concerned, and right PINs never use up a budget
    assert [_reason(world, RIGHT, "nas:192.0.2.1", "1004") for _ in range(5)] == ["allowed"] * 5
    with world.container.db.transaction(readonly=True) as conn:
        budgets = dict(
            conn.execute(select(pin_asker_counters.c.asker, pin_asker_counters.c.failures)).all()
        )
    assert budgets == {"key:7": 3, "nas:192.0.2.1": 0}
    # a busy switch whose callers mistype now and then: each right PIN offsets a wrong one
    cards = ("1001", "1002", "1003", "1004")
    mixed = [_reason(world, pin, "nas:192.0.2.2", n) for n in cards for pin in (WRONG, RIGHT)]
    assert mixed == ["invalid_pin", "allowed"] * 4
    # the window ends: the asker may try again
    clock.advance(600)
    assert _reason(world, RIGHT, "key:7", "1004") == "allowed"


def test_guesses_whose_node_died_count_and_lock_the_card(world: World, clock: Clock) -> None:
    """A node that dies between counting a guess and reporting it leaves the guess
    counted: 5 such guesses make the card busy, then locked once they are stale."""
    pins = world.container.identifiers.pins

    def dies(_hash: str, _pin: str) -> bool:
        raise RuntimeError("the node died while verifying")

    pins.matches = dies
    for _ in range(5):
        with pytest.raises(RuntimeError):
            world.container.identifiers.identify(card=CARD, pin=RIGHT)
    checks = CountedChecks(world.container)
    assert _reason(world, RIGHT) == "pin_busy"
    clock.advance(60)
    assert _reason(world, RIGHT) == "card_locked"
    assert len(_locked_events(world.container)) == 1
    assert checks.calls == 0


def test_a_flood_of_card_checks_holds_a_bounded_share_of_threads(world: World) -> None:
    """Finding 7, structurally: while PIN checks are held in flight, one asker has at
    most ``pin_asker_in_flight`` of them, the node at most concurrency + queue; every
    request beyond is refused ``pin_busy`` while the held ones are still held (it did not
    wait), and a call without a card goes through meanwhile, never touching them."""
    settings = world.container.settings
    limit = settings.pin_verify_concurrency + settings.pin_verify_queue
    per_asker = settings.pin_asker_in_flight
    others = [str(2000 + n) for n in range(limit - per_asker)]  # a card each: no card's
    for number in others:  # own guesses run out
        card = world.create(world.customer, "card", f"K{number}", rate_plan="retail")
        world.fund(card, "1")
        world.container.identifiers.add(world.system, card, IdentifierType.CARD, number, RIGHT)
    release = threading.Event()
    checks = CountedChecks(world.container, lambda: release.wait(DEADLINE_SECONDS))
    capacity = world.container.identifiers.pins.capacity
    capacity.slot_wait_seconds = DEADLINE_SECONDS  # held ones wait for the test, not a timer
    held: list[Any] = []
    with ThreadPoolExecutor(limit) as pool:
        try:
            # one asker: its share held, the rest refused at once
            for _ in range(per_asker):
                held.append(pool.submit(_reason, world, RIGHT, "key:1"))
            _until(lambda: capacity.admitted_now == per_asker)
            assert [_reason(world, RIGHT, "key:1") for _ in range(20)] == ["pin_busy"] * 20
            # other askers fill the node up to its limit, then every asker is refused
            for n, number in enumerate(others):
                held.append(pool.submit(_reason, world, RIGHT, f"key:{100 + n}", number))
            _until(lambda: capacity.admitted_now == limit)
            assert _reason(world, RIGHT, "key:2") == "pin_busy"
            # a caller without a card is answered while every PIN check is held
            assert world.container.charging.authorize(world.customer_caller, UK).allowed
            assert not release.is_set()
            assert capacity.admitted_now == limit
            assert checks.calls <= settings.pin_verify_concurrency
        finally:
            release.set()
        results = [future.result(timeout=DEADLINE_SECONDS) for future in held]
    assert results == ["allowed"] * limit
    assert checks.calls == limit
    assert capacity.admitted_now == 0


def _until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached before the deadline")
        time.sleep(0.005)


def test_radius_counts_wrong_pins_per_card_and_per_nas(world: World, clock: Clock) -> None:
    """Through the real radclient: 5 wrong PINs, then the right one is rejected as a
    locked card (h323-return-code 10), the NAS's guesses counted under its address."""
    require_radclient()
    card = {"User-Name": CARD, "Called-Station-Id": UK}
    with running_radius(world.container) as port:
        for _ in range(5):
            reply = radclient(port, "auth", card | {"User-Password": WRONG})
            assert reply is not None
            assert reply.one("Reply-Message").startswith("wrong card PIN")
        reply = radclient(port, "auth", card | {"User-Password": RIGHT})
    assert reply is not None
    assert reply.code == "Access-Reject"
    assert reply.one("Reply-Message").startswith("card locked")
    assert reply.one("h323-return-code") == "h323-return-code=10"
    with world.container.db.transaction(readonly=True) as conn:
        askers = conn.execute(
            select(pin_asker_counters.c.asker, pin_asker_counters.c.failures)
        ).all()
    assert [tuple(row) for row in askers] == [("nas:127.0.0.1", 5)]
    assert [e["account_id"] for e in _locked_events(world.container)] == [world.card]


def test_a_lockout_after_the_authorization_does_not_make_the_call_free(
    world: World, clock: Clock
) -> None:
    """The card's holder is authorized, then locks their own card with wrong PINs from
    another line: the accounting of the authorized call (its PIN sealed in ``Class`` by
    voxbill) still opens and charges the session; its PIN is not counted as a guess."""
    require_radclient()
    card = {"User-Name": CARD, "Called-Station-Id": UK}
    with running_radius(world.container) as port:
        accepted = radclient(port, "auth", card | {"User-Password": RIGHT})
        assert accepted is not None
        assert accepted.code == "Access-Accept"
        for _ in range(5):
            assert _reason(world, WRONG, "nas:192.0.2.9") == "invalid_pin"
        assert _reason(world, RIGHT) == "card_locked"
        call = card | {"Acct-Session-Id": "card-1", "Class": accepted.one("Class")}
        for status, extra in (("Start", {}), ("Stop", {"Acct-Session-Time": 40})):
            reply = radclient(port, "acct", call | {"Acct-Status-Type": status} | extra)
            assert reply is not None
            assert reply.code == "Accounting-Response"
    settled = world.container.charging.stop("card-1", 40)  # replayed: the first settlement
    assert (settled.account_id, settled.replayed) == (world.card, True)
    assert _counter(world.container).lockouts == 1  # the sealed PIN changed nothing
