"""Card batches generated once per idempotency key, and the deletion of a batch made by
mistake (``docs/cards.md`` "Idempotent generation", "Deleting a batch"), on SQLite and
PostgreSQL: the service, the command line, and two generations racing on PostgreSQL.

``support.charging_world``'s operator: customer C under reseller R."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from decimal import Decimal as D
from pathlib import Path

import pytest
from sqlalchemy import func, select

from support.charging_world import AT, UK, World, build_world
from support.voxbill_process import cli_runner
from voxbill.bootstrap import Container
from voxbill.domain.access import Principal, Role
from voxbill.domain.cards import Funding
from voxbill.domain.errors import BatchInUse, Forbidden, IdempotencyConflict, NotFound
from voxbill.services.cards.service import BatchRequest, GeneratedBatch
from voxbill.services.charging.service import CallerId
from voxbill.storage.cards.repository import SqlCardRepository
from voxbill.storage.schema import (
    accounts,
    caller_identifiers,
    card_batches,
    card_pin_counters,
    cards,
    ledger_books,
)


def _count(container: Container, table: object, *where: object) -> int:
    query = select(func.count()).select_from(table)  # type: ignore[arg-type]
    for clause in where:
        query = query.where(clause)  # type: ignore[arg-type]
    with container.db.transaction(readonly=True) as conn:
        return int(conn.execute(query).scalar_one())


def _rows(container: Container) -> dict[str, int]:
    """The rows a batch adds: what a refused deletion or a replay must leave alone."""
    return {
        "batches": _count(container, card_batches),
        "cards": _count(container, cards),
        "card_accounts": _count(container, accounts, accounts.c.kind == "card"),
        "identifiers": _count(container, caller_identifiers),
        "books": _count(container, ledger_books),
    }


def _request(world: World, count: int = 2, value: str = "5.00", **extra: object) -> BatchRequest:
    return BatchRequest(world.customer, count, D(value), **extra)  # type: ignore[arg-type]


def test_a_key_generates_one_batch_and_answers_it_again(container: Container) -> None:
    world = build_world(container)
    cards_ = container.cards
    first = cards_.generate(world.system, _request(world), idempotency_key="k-1")
    assert not first.replayed
    assert first.csv is not None
    rows = _rows(container)
    # the same request with the key ("5.0" is "5.00"): the first batch, without its PINs
    again = cards_.generate(world.system, _request(world, value="5.0"), idempotency_key="k-1")
    assert again.replayed
    assert (again.batch.id, again.cards, again.csv) == (first.batch.id, [], None)
    assert _rows(container) == rows
    # the key with another request: refused, nothing made
    with pytest.raises(IdempotencyConflict) as refused:
        cards_.generate(world.system, _request(world, count=3), idempotency_key="k-1")
    assert refused.value.code == "idempotency_conflict"
    assert _rows(container) == rows
    # the key in another scope (another caller's keys), another key, no key: new batches
    scoped = cards_.generate(
        world.system, _request(world), idempotency_key="k-1", idempotency_scope="account:x"
    )
    other = cards_.generate(world.system, _request(world), idempotency_key="k-2")
    plain = cards_.generate(world.system, _request(world))
    plain_again = cards_.generate(world.system, _request(world))
    ids = {first.batch.id, scoped.batch.id, other.batch.id, plain.batch.id, plain_again.batch.id}
    assert len(ids) == 5
    assert container.ledger.verify() == []


@pytest.mark.postgres
def test_two_generations_with_one_key_at_once_make_one_batch(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both pass the key's look-up inside their insert transaction before either inserts
    (held at a barrier on the next serial's read, which follows it): the unique key makes
    the later one fail, roll back whole and answer the first one's batch."""
    if container.uow.dialect != "postgresql":
        pytest.skip("concurrent writers: PostgreSQL")
    world = build_world(container)
    looked_up_together = threading.Barrier(2, timeout=30)
    first_reads = iter(range(2))
    original = SqlCardRepository.next_sequence

    def next_sequence(self: SqlCardRepository, operator_id: int) -> int:
        found = original(self, operator_id)
        if next(first_reads, None) is not None:
            looked_up_together.wait()
        return found

    monkeypatch.setattr(SqlCardRepository, "next_sequence", next_sequence)
    made: list[GeneratedBatch] = []
    failed: list[BaseException] = []

    def generate() -> None:
        try:
            made.append(
                container.cards.generate(
                    world.system, _request(world, count=3), idempotency_key="twin"
                )
            )
        except BaseException as exc:  # noqa: BLE001 - reported below
            failed.append(exc)

    threads = [threading.Thread(target=generate) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failed == []
    assert sorted(g.replayed for g in made) == [False, True]
    assert made[0].batch.id == made[1].batch.id
    (fresh,) = [g for g in made if not g.replayed]
    assert len(fresh.cards) == 3
    assert _count(container, card_batches) == 1
    assert _count(container, cards) == 3
    assert _count(container, accounts, accounts.c.kind == "card") == 1 + 3  # world's card


def test_an_unused_batch_is_deleted_with_its_cards(container: Container) -> None:
    world = build_world(container)
    before = _rows(container)
    generated = container.cards.generate(world.system, _request(world, count=3))
    batch = generated.batch.id
    card = generated.cards[0]
    # a wrong PIN on an inactive card counts a guess: that is no use of the card
    refused = container.charging.authorize(CallerId(card=card.serial, pin="0" * 10), UK, AT)
    assert refused.reason == "invalid_pin"
    assert _count(container, card_pin_counters) == 1
    assert container.cards.in_use(world.system, batch) is None
    deleted = container.cards.delete(world.system, batch)
    assert deleted.id == batch
    assert _rows(container) == before
    assert _count(container, card_pin_counters) == 0
    with pytest.raises(NotFound):
        container.cards.batch(world.system, batch)
    with pytest.raises(NotFound):
        container.cards.activate(world.system, batch)
    with pytest.raises(NotFound):
        container.cards.delete(world.system, batch)
    # the card is unknown now: a call with its number and PIN is refused as such
    gone = container.charging.authorize(CallerId(card=card.serial, pin=card.pin), UK, AT)
    assert not gone.allowed
    assert gone.reason != "card_inactive"
    assert container.ledger.verify() == []


def test_a_batch_ever_activated_is_not_deleted(container: Container) -> None:
    world = build_world(container)
    generated = container.cards.generate(world.system, _request(world, count=2))
    batch = generated.batch.id
    first = generated.cards[0].serial
    container.cards.activate(world.system, batch, first, first)
    rows = _rows(container)
    with pytest.raises(BatchInUse) as refused:
        container.cards.delete(world.system, batch)
    assert refused.value.code == "batch_in_use"
    assert "money" in str(refused.value)
    # deactivated again: its money is still on it, the batch stays
    container.cards.deactivate(world.system, batch)
    with pytest.raises(BatchInUse):
        container.cards.delete(world.system, batch)
    assert container.cards.in_use(world.system, batch) is not None
    assert _rows(container) == rows
    assert container.cards.batch(world.system, batch)[0].id == batch
    assert container.ledger.verify() == []


def test_who_may_delete_a_batch(container: Container) -> None:
    world = build_world(container, customer_funds="50")
    operator_batch = container.cards.generate(world.system, _request(world, count=1)).batch.id
    reseller = Principal(world.reseller, f"/{world.root}/{world.reseller}/", Role.RESELLER)
    customer = Principal(
        world.customer, f"/{world.root}/{world.reseller}/{world.customer}/", Role.CUSTOMER
    )
    support = Principal(world.root, f"/{world.root}/", Role.SUPPORT)
    other = world.create(world.root, "reseller", "Other")
    stranger = Principal(other, f"/{world.root}/{other}/", Role.RESELLER)
    cards_ = container.cards
    rows = _rows(container)
    with pytest.raises(NotFound):
        cards_.delete(stranger, operator_batch)
    with pytest.raises(Forbidden):
        cards_.delete(support, operator_batch)
    with pytest.raises(Forbidden):  # the operator's books fund it: the operator's to manage
        cards_.delete(reseller, operator_batch)
    with pytest.raises(Forbidden):
        cards_.delete(customer, operator_batch)
    assert _rows(container) == rows
    # the customer's own batch (paid from its balance) is its own to delete
    own = cards_.generate(customer, _request(world, count=1, funding=Funding.OWNER)).batch.id
    cards_.delete(customer, own)
    cards_.delete(world.system, operator_batch)
    assert _rows(container)["batches"] == rows["batches"] - 1


def test_cli_generates_once_per_key_and_deletes(
    container: Container, database_url: str, tmp_path: Path
) -> None:
    world = build_world(container)
    run = cli_runner({"VOXBILL_DATABASE_URL": database_url}, tmp_path)
    out = tmp_path / "cards.csv"
    args = ("cards", "generate", "--owner", str(world.customer), "--count", "2")
    made = run(*args, "--face-value", "2.50", "--output", str(out), "--idempotency-key", "run-1")
    assert made.returncode == 0, made.stderr
    pins = out.read_text()
    # run again (the first answer lost, say): the same file is fine, nothing is generated
    again = run(
        *args, "--face-value", "2.5", "--output", str(out), "--idempotency-key", "run-1", "--json"
    )
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stderr)
    assert summary["replayed"] is True
    assert out.read_text() == pins
    again_stdout = run(*args, "--face-value", "2.50", "--idempotency-key", "run-1")
    assert again_stdout.returncode == 0, again_stdout.stderr
    assert again_stdout.stdout == ""  # no PINs: they were shown once
    assert "generated earlier" in again_stdout.stderr
    assert _count(container, card_batches) == 1
    other = run(*args, "--face-value", "3", "--idempotency-key", "run-1")
    assert other.returncode != 0
    assert "different request" in other.stderr
    taken = run(*args, "--face-value", "3", "--output", str(out), "--idempotency-key", "run-2")
    assert taken.returncode == 2
    assert "exists" in taken.stderr
    assert _count(container, card_batches) == 1

    batch = str(summary["batch_id"])
    used = container.cards.generate(world.system, _request(world, count=1)).batch.id
    container.cards.activate(world.system, used)
    refused = run("cards", "delete", str(used))
    assert refused.returncode != 0
    assert "in use" in refused.stderr
    deleted = run("cards", "delete", batch)
    assert deleted.returncode == 0, deleted.stderr
    assert f"batch {batch}: deleted" in deleted.stdout
    assert _count(container, card_batches) == 1
    missing = run("cards", "delete", batch)
    assert missing.returncode != 0
    assert run("ledger", "verify").returncode == 0


@pytest.mark.postgres
def test_a_deletion_and_an_activation_at_once_do_not_both_happen(container: Container) -> None:
    """Both lock the batch row first: either the cards are activated (and funded) and the
    deletion is refused, or the batch is gone and the activation finds nothing."""
    if container.uow.dialect != "postgresql":
        pytest.skip("concurrent writers: PostgreSQL")
    world = build_world(container)
    batch = container.cards.generate(world.system, _request(world, count=2)).batch.id
    start = threading.Barrier(2, timeout=30)
    outcomes: dict[str, str] = {}

    def run(name: str, action: Callable[[], object]) -> None:
        start.wait()
        try:
            action()
            outcomes[name] = "done"
        except (BatchInUse, NotFound) as exc:
            outcomes[name] = exc.code

    threads = [
        threading.Thread(
            target=run, args=("delete", lambda: container.cards.delete(world.system, batch))
        ),
        threading.Thread(
            target=run, args=("activate", lambda: container.cards.activate(world.system, batch))
        ),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes in (
        {"delete": "done", "activate": "not_found"},
        {"delete": "batch_in_use", "activate": "done"},
    )
    remaining = _count(container, cards)
    assert remaining == (0 if outcomes["delete"] == "done" else 2)
    assert container.ledger.verify() == []
