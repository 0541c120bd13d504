"""Issue 12, item 7: calling-card batches (``docs/cards.md``), on SQLite and PostgreSQL.

``support.charging_world``'s operator: customer C (plan retail: 44 UK 0.10/min, connect
0.01, 30/6, funds 10) under reseller R (wholesale, funds 100). Batches of a few cards
are generated under C; each PIN's argon2id hash costs tens of ms, so batches stay small.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from support.charging_world import AT, UK, World, build_world
from voxbill.bootstrap import Container
from voxbill.domain import cards as rules
from voxbill.domain.access import Principal, Role
from voxbill.domain.cards import Funding
from voxbill.domain.errors import (
    CardExpired,
    CardInactive,
    Forbidden,
    InsufficientFunds,
    InvalidInput,
    InvalidPin,
    NotFound,
)
from voxbill.services.cards.service import BatchRequest, GeneratedBatch
from voxbill.services.charging.service import CallerId, ChargingRefused
from voxbill.storage.cards.repository import SqlCardRepository


def _batch(world: World, count: int = 3, **extra: object) -> GeneratedBatch:
    request = BatchRequest(world.customer, count, D("5.00"), **extra)  # type: ignore[arg-type]
    return world.container.cards.generate(world.system, request)


def _caller(generated: GeneratedBatch, index: int = 0) -> CallerId:
    card = generated.cards[index]
    return CallerId(card=card.serial, pin=card.pin)


def _account(world: World, serial: str) -> int:
    with world.container.uow.transaction(readonly=True) as tx:
        found = tx.access.find_cards(serial, world.root)
    return found[0].account_id


def test_serials_are_luhn_checked_and_sequential() -> None:
    assert rules.serial(1) == "000000000018"
    assert rules.sequence_of("000000000018") == 1
    with pytest.raises(InvalidInput):
        rules.sequence_of("000000000017")  # one digit mistyped: the check digit says so
    assert len(rules.new_pin(10)) == 10


def test_generate_then_activate_funds_each_card_once(container: Container) -> None:
    world = build_world(container)
    generated = _batch(world)
    batch = generated.batch
    assert [c.serial for c in generated.cards] == [rules.serial(n) for n in (1, 2, 3)]
    lines = generated.csv.splitlines()
    assert lines[0] == "serial,pin,face_value,currency,expiry,valid_days"
    serial, pin, face, currency, _, _ = lines[1].split(",")
    assert (serial, face, currency) == (rules.serial(1), "5.00", "USD")
    assert pin == generated.cards[0].pin
    assert len(pin) == 10
    # generated: inactive, no money, refused after the PIN (a wrong PIN says invalid_pin)
    card = _account(world, serial)
    assert world.balance(card) == 0
    refused = container.charging.authorize(_caller(generated), UK, AT)
    assert refused.reason == "card_inactive"
    wrong = container.charging.authorize(CallerId(card=serial, pin="0000000000"), UK, AT)
    assert wrong.reason == "invalid_pin"
    # the export afterwards carries no PIN
    _, cards = container.cards.serials(world.system, batch.id)
    assert rules.serials_csv(batch, cards).splitlines()[0].split(",")[:2] == ["serial", "state"]
    assert generated.cards[0].pin not in rules.serials_csv(batch, cards)

    activation = container.cards.activate(world.system, batch.id)
    assert (activation.activated, activation.funded, activation.amount) == (3, 3, D("15.00"))
    assert world.balance(card) == D("5")
    again = container.cards.activate(world.system, batch.id)  # idempotent: nothing to do
    assert (again.activated, again.funded, again.amount) == (0, 0, D("0"))
    grant = container.charging.start("k-1", _caller(generated), UK, AT)
    assert grant.account_id == card
    container.charging.stop("k-1", 60)
    assert world.balance(card) == D("4.89")  # 5 - (0.01 + 60 s x 0.10/60)
    _, counts = container.cards.batch(world.system, batch.id)
    assert (counts.active, counts.used, counts.inactive, counts.expired) == (3, 1, 0, 0)
    assert counts.remaining_value == D("14.89")
    assert container.ledger.verify() == []


def test_a_range_deactivation_and_reactivation_never_fund_twice(container: Container) -> None:
    world = build_world(container)
    generated = _batch(world)
    batch = generated.batch
    first, second, third = (c.serial for c in generated.cards)
    part = container.cards.activate(world.system, batch.id, first, second)
    assert (part.activated, part.funded) == (2, 2)
    assert container.charging.authorize(_caller(generated, 2), UK, AT).reason == "card_inactive"
    assert container.charging.authorize(_caller(generated, 1), UK, AT).allowed
    assert container.cards.deactivate(world.system, batch.id, second, second) == 1
    assert container.charging.authorize(_caller(generated, 1), UK, AT).reason == "card_inactive"
    back = container.cards.activate(world.system, batch.id)
    assert (back.activated, back.funded, back.amount) == (2, 1, D("5.00"))
    assert world.balance(_account(world, second)) == D("5")
    assert world.balance(_account(world, third)) == D("5")
    with pytest.raises(InvalidInput):
        container.cards.activate(world.system, batch.id, third, first)  # out of order
    assert container.ledger.verify() == []


def test_an_expired_card_is_refused_and_the_holder_sees_why(container: Container) -> None:
    world = build_world(container)
    generated = _batch(world, count=1, valid_days=30)
    container.cards.activate(world.system, generated.batch.id)
    card = generated.cards[0]
    view = container.cards.holder_view(
        card.serial, card.pin, operator_id=world.root, within=None, asker="test"
    )
    assert (view.state, view.expired, view.balance.balance) == ("active", False, D("5"))
    assert view.expires_at is not None
    assert [h.kind for h in view.history] == ["card_funding"]
    later = view.expires_at + timedelta(seconds=1)
    container.identifiers.pins.clock = lambda: later
    container.cards.clock = lambda: later
    with pytest.raises(ChargingRefused) as refused:
        container.charging.start("x-1", _caller(generated), UK, AT)
    assert refused.value.code == "card_expired"
    view = container.cards.holder_view(
        card.serial, card.pin, operator_id=world.root, within=None, asker="test"
    )
    assert (view.state, view.expired) == ("active", True)
    with pytest.raises(InvalidPin):
        container.cards.holder_view(
            card.serial, "1" * 10, operator_id=world.root, within=None, asker="test"
        )


def test_states_are_refused_only_after_a_right_pin(container: Container) -> None:
    world = build_world(container)
    generated = _batch(world, count=1)
    card = generated.cards[0]
    with pytest.raises(CardInactive):
        container.identifiers.identify(operator_id=world.root, card=card.serial, pin=card.pin)
    with pytest.raises(InvalidPin):
        container.identifiers.identify(operator_id=world.root, card=card.serial, pin="9" * 10)
    # an absolute expiry in the past at activation: expired from the start
    soon = datetime.now(UTC) + timedelta(hours=1)
    expiring = _batch(world, count=1, expires_at=soon)
    container.cards.activate(world.system, expiring.batch.id)
    container.identifiers.pins.clock = lambda: soon
    first = expiring.cards[0]
    with pytest.raises(CardExpired):
        container.identifiers.identify(operator_id=world.root, card=first.serial, pin=first.pin)


def test_owner_funded_cards_take_the_owners_balance(container: Container) -> None:
    world = build_world(container, customer_funds="12")
    generated = _batch(world, funding=Funding.OWNER)
    with pytest.raises(InsufficientFunds):  # 15 needed, 12 there: nothing activated
        container.cards.activate(world.system, generated.batch.id)
    assert world.balance(world.customer) == D("12")
    _, counts = container.cards.batch(world.system, generated.batch.id)
    assert counts.inactive == 3
    first, second = generated.cards[0].serial, generated.cards[1].serial
    container.cards.activate(world.system, generated.batch.id, first, second)
    assert world.balance(world.customer) == D("2")
    assert container.ledger.verify() == []


def test_tenancy_and_roles(container: Container) -> None:
    world = build_world(container)
    generated = _batch(world, count=1)
    batch_id = generated.batch.id
    reseller = Principal(world.reseller, f"/{world.root}/{world.reseller}/", Role.RESELLER)
    customer = Principal(
        world.customer, f"/{world.root}/{world.reseller}/{world.customer}/", Role.CUSTOMER
    )
    support = Principal(world.root, f"/{world.root}/", Role.SUPPORT)
    other = world.create(world.root, "reseller", "Other")
    stranger = Principal(other, f"/{world.root}/{other}/", Role.RESELLER)
    cards = container.cards
    for reader in (reseller, customer, support):
        assert cards.batch(reader, batch_id)[0].id == batch_id
        assert [b.id for b in cards.batches(reader)] == [batch_id]
    assert cards.batches(stranger) == []
    with pytest.raises(NotFound):
        cards.batch(stranger, batch_id)
    with pytest.raises(NotFound):
        cards.activate(stranger, batch_id)
    with pytest.raises(Forbidden):
        cards.activate(support, batch_id)
    with pytest.raises(Forbidden):  # funded by the operator's books: the operator's call
        cards.activate(reseller, batch_id)
    with pytest.raises(Forbidden):
        cards.generate(reseller, BatchRequest(world.customer, 1, D("1"), funding=Funding.OPERATOR))
    with pytest.raises(Forbidden):  # the customer's balance is spent by its own key only
        cards.generate(reseller, BatchRequest(world.customer, 1, D("1")))
    own = cards.generate(customer, BatchRequest(world.customer, 1, D("1")))
    assert own.batch.funding is Funding.OWNER
    assert cards.activate(customer, own.batch.id).funded == 1
    with pytest.raises(InvalidInput):
        cards.generate(world.system, BatchRequest(world.customer, 10_001, D("1")))


@pytest.mark.postgres
def test_concurrent_activations_fund_once(container: Container) -> None:
    if container.uow.dialect != "postgresql":
        pytest.skip("concurrent writers: PostgreSQL")
    world = build_world(container)
    generated = _batch(world, count=2)
    barrier = threading.Barrier(4)
    results: list[int] = []

    def activate() -> None:
        barrier.wait()
        results.append(container.cards.activate(world.system, generated.batch.id).funded)

    threads = [threading.Thread(target=activate) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [0, 0, 0, 2]
    assert world.balance(_account(world, generated.cards[0].serial)) == D("5")
    assert container.ledger.verify() == []


@pytest.mark.postgres
def test_concurrent_generations_get_distinct_serials(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three batches read the same next serial at once (held at a barrier right after
    the read): the unique keys refuse two of them, which run again with the next ones."""
    if container.uow.dialect != "postgresql":
        pytest.skip("concurrent writers: PostgreSQL")
    world = build_world(container)
    read_together = threading.Barrier(3, timeout=30)
    first_reads = iter(range(3))
    original = SqlCardRepository.next_sequence

    def next_sequence(self: SqlCardRepository, operator_id: int) -> int:
        found = original(self, operator_id)
        if next(first_reads, None) is not None:
            read_together.wait()
        return found

    monkeypatch.setattr(SqlCardRepository, "next_sequence", next_sequence)
    made: list[GeneratedBatch] = []

    def generate() -> None:
        made.append(container.cards.generate(world.system, BatchRequest(world.customer, 2, D("1"))))

    threads = [threading.Thread(target=generate) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    serials = sorted(c.serial for batch in made for c in batch.cards)
    assert serials == [rules.serial(n) for n in range(1, 7)]
