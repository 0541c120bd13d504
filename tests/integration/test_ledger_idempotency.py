"""Idempotency keys: same key and request replays the first result, another request is 409."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal as D

import pytest

from support.ledger_accounts import open_account
from voxbill.bootstrap import Container
from voxbill.domain.errors import Conflict, IdempotencyConflict, InsufficientFunds

OPERATOR = "admin:test"


@pytest.fixture
def ledger(container: Container):
    return container.ledger


@pytest.fixture
def db(container: Container):
    return container.db


def test_a_retried_top_up_replays_the_first_result(ledger, db):
    alice = open_account(db)
    first = ledger.top_up(alice, D("10"), actor=OPERATOR, idempotency_key="k1", fingerprint="f1")
    ledger.top_up(alice, D("1"), actor=OPERATOR)
    again = ledger.top_up(alice, D("10"), actor=OPERATOR, idempotency_key="k1", fingerprint="f1")
    assert again.replayed
    assert not first.replayed
    assert again.to_json() == first.to_json()
    assert again.balance_after == D("10")  # the first response, not today's balance
    assert ledger.balance(alice).balance == D("11")


def test_the_same_key_for_another_request_is_a_conflict(ledger, db):
    alice = open_account(db)
    ledger.adjust(alice, D("5"), "credit", actor=OPERATOR, idempotency_key="k")
    with pytest.raises(IdempotencyConflict) as caught:
        ledger.adjust(alice, D("6"), "credit", actor=OPERATOR, idempotency_key="k")
    assert isinstance(caught.value, Conflict)
    assert caught.value.code == "idempotency_conflict"
    with pytest.raises(IdempotencyConflict):  # an explicit fingerprint that differs
        ledger.adjust(alice, D("5"), "credit", actor=OPERATOR, idempotency_key="k", fingerprint="x")
    # keys are scoped by actor: another caller may use the same key
    other = ledger.adjust(alice, D("6"), "credit", actor="reseller:2", idempotency_key="k")
    assert not other.replayed
    assert ledger.balance(alice).balance == D("11")


def test_a_refused_request_stores_no_key(ledger, db):
    reseller = open_account(db, kind="reseller")
    customer = open_account(db, parent=reseller)
    with pytest.raises(InsufficientFunds):
        ledger.transfer(reseller, customer, D("5"), actor=OPERATOR, idempotency_key="t")
    ledger.top_up(reseller, D("5"), actor=OPERATOR)
    done = ledger.transfer(reseller, customer, D("5"), actor=OPERATOR, idempotency_key="t")
    assert not done.replayed
    assert done.counterparty_balance_after == D("5")
    replay = ledger.transfer(reseller, customer, D("5"), actor=OPERATOR, idempotency_key="t")
    assert replay.replayed
    assert replay.balance_after == D("0")
    assert replay.to_json() == done.to_json()


def test_concurrent_duplicates_post_once(ledger, db):
    alice = open_account(db)

    def send(_: int):
        return ledger.adjust(
            alice, D("2.50"), "promo", actor=OPERATOR, idempotency_key="dup", fingerprint="same"
        )

    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(send, range(30)))
    assert len({r.id for r in results}) == 1
    assert sum(not r.replayed for r in results) == 1
    assert ledger.balance(alice).balance == D("2.5")
    assert len(ledger.history(alice)) == 1

    def clash(i: int) -> str:
        try:
            ledger.adjust(alice, D(i + 1), "race", actor=OPERATOR, idempotency_key="clash")
        except IdempotencyConflict:
            return "conflict"
        return "posted"

    with ThreadPoolExecutor(max_workers=12) as pool:
        outcomes = list(pool.map(clash, range(12)))
    assert outcomes.count("posted") == 1
    assert len(ledger.history(alice)) == 2
    assert ledger.verify() == []
