"""Holds: placed within available funds, then posted, voided or expired exactly once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from support.ledger_accounts import open_account
from voxbill.bootstrap import Container
from voxbill.domain.errors import (
    HoldConflict,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidInput,
    NotFound,
)
from voxbill.services.ledger.service import HoldRequest
from voxbill.storage.schema.ledger import holds

OPERATOR = "admin:test"
LATER = datetime.now(UTC) + timedelta(hours=1)


@pytest.fixture
def ledger(container: Container):
    return container.ledger


@pytest.fixture
def db(container: Container):
    return container.db


def test_a_call_holds_then_posts_less_and_releases_the_rest(ledger, db):
    alice = open_account(db, block_balance="1")
    ledger.top_up(alice, D("10"), actor=OPERATOR)
    hold = ledger.place_hold(alice, D("4.50"), reference="call-1", expires_at=LATER)
    assert (hold.status, hold.amount, hold.level, hold.replayed) == ("open", D("4.5"), 0, False)
    view = ledger.balance(alice)
    assert (view.balance, view.reserved, view.available) == (D("10"), D("4.5"), D("5.5"))
    with pytest.raises(InsufficientFunds):  # 5.5 available, floor 1: 4.5 is the most
        ledger.place_hold(alice, D("4.51"), reference="call-2", expires_at=LATER)
    with pytest.raises(InsufficientFunds):  # holds also guard debits
        ledger.adjust(alice, D("-4.51"), "usage", actor=OPERATOR)
    settlement = ledger.post_holds("call-1", [D("1.2345")])
    assert settlement.balances_after == {alice: D("8.7655")}
    assert [h.status for h in settlement.holds] == ["posted"]
    assert settlement.holds[0].posted_amount == D("1.2345")
    view = ledger.balance(alice)
    assert (view.balance, view.reserved, view.available) == (D("8.7655"), D("0"), D("8.7655"))
    again = ledger.post_hold("call-1", D("1.2345"))
    assert again.replayed
    assert again.transaction_id == settlement.transaction_id
    with pytest.raises(HoldConflict):
        ledger.post_holds("call-1", [D("1")])
    with pytest.raises(HoldConflict):
        ledger.void_holds("call-1")
    assert ledger.history(alice)[0].kind == "charge"
    assert ledger.verify() == []


def test_one_hold_per_level_of_the_chain_all_or_nothing(ledger, db):
    reseller = open_account(db, kind="reseller")
    customer = open_account(db, parent=reseller)
    user = open_account(db, parent=customer, kind="user", shared=True)
    ledger.top_up(reseller, D("3"), actor=OPERATOR)
    ledger.top_up(customer, D("10"), actor=OPERATOR)
    chain = [HoldRequest(user, D("5")), HoldRequest(reseller, D("4"))]
    with pytest.raises(InsufficientFunds):  # the reseller level is short: nothing is held
        ledger.place_holds("call-9", chain, expires_at=LATER)
    assert ledger.balance(customer).reserved == D("0")
    chain = [HoldRequest(user, D("5")), HoldRequest(reseller, D("2"))]
    holds = ledger.place_holds("call-9", chain, expires_at=LATER)
    assert [(h.level, h.account_id, h.balance_account_id) for h in holds] == [
        (0, user, customer),
        (1, reseller, reseller),
    ]
    replay = ledger.place_holds("call-9", chain, expires_at=LATER)
    assert all(h.replayed for h in replay)
    assert [h.id for h in replay] == [h.id for h in holds]
    with pytest.raises(IdempotencyConflict):
        ledger.place_holds("call-9", [HoldRequest(reseller, D("1"))], expires_at=LATER)
    assert ledger.balance(customer).reserved == D("5")
    extended = ledger.extend_holds("call-9", [D("7"), D("2")], expires_at=LATER)
    assert [h.amount for h in extended] == [D("7"), D("2")]
    with pytest.raises(InsufficientFunds):
        ledger.extend_holds("call-9", [D("10.01"), D("2")], expires_at=LATER)
    settlement = ledger.post_holds("call-9", [D("6.5"), D("1.25")])
    assert settlement.balances_after == {customer: D("3.5"), reseller: D("1.75")}
    assert ledger.balance(customer).reserved == ledger.balance(reseller).reserved == D("0")
    assert ledger.verify() == []


def test_void_and_expire_release_without_charging(ledger, db):
    alice = open_account(db)
    ledger.top_up(alice, D("10"), actor=OPERATOR)
    now = datetime.now(UTC)
    ledger.place_hold(alice, D("1"), reference="a", expires_at=now + timedelta(seconds=30))
    ledger.place_hold(alice, D("2"), reference="b", expires_at=now - timedelta(seconds=1))
    ledger.place_hold(alice, D("3"), reference="c", expires_at=now + timedelta(hours=2))
    assert [h.status for h in ledger.void_holds("a")] == ["voided"]
    assert ledger.void_hold("a").replayed
    assert ledger.expire_holds(now) == 1
    assert ledger.expire_holds(now) == 0
    assert ledger.holds("b")[0].status == "expired"
    with pytest.raises(HoldConflict):
        ledger.post_holds("b", [D("1")])
    with pytest.raises(NotFound):
        ledger.post_holds("nope", [D("1")])
    with pytest.raises(InvalidInput):
        ledger.post_holds("c", [D("3.01")])  # more than held, without allow_overrun
    overrun = ledger.post_holds("c", [D("3.01")], allow_overrun=True)
    assert overrun.overrun
    assert overrun.balances_after == {alice: D("6.99")}
    view = ledger.balance(alice)
    assert (view.balance, view.reserved) == (D("6.99"), D("0"))
    assert ledger.verify() == []


def test_concurrent_holds_never_exceed_the_available_funds(ledger, db):
    alice = open_account(db, block_balance="0.10")
    ledger.top_up(alice, D("10"), actor=OPERATOR)

    def start(i: int) -> str:
        try:
            ledger.place_hold(alice, D("0.30"), reference=f"call-{i}", expires_at=LATER)
        except InsufficientFunds:
            return "refused"
        return "held"

    with ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = list(pool.map(start, range(60)))
    assert outcomes.count("held") == 33  # (10 - 0.10) / 0.30 = 33
    assert ledger.balance(alice).reserved == D("9.90")
    held = [f"call-{i}" for i, o in enumerate(outcomes) if o == "held"]

    def stop(reference: str) -> bool:  # every stop is sent twice, crossing itself
        return ledger.post_holds(reference, [D("0.25")]).replayed

    with ThreadPoolExecutor(max_workers=16) as pool:
        replays = list(pool.map(stop, held + held))
    assert replays.count(True) == 33
    view = ledger.balance(alice)
    assert (view.balance, view.reserved) == (D("1.75"), D("0"))
    assert len(ledger.history(alice, limit=100)) == 34
    assert ledger.verify() == []


def test_duplicate_starts_and_sweepers_on_several_nodes_act_once(ledger, db):
    alice = open_account(db)
    ledger.top_up(alice, D("100"), actor=OPERATOR)
    now = datetime.now(UTC)
    past = now - timedelta(minutes=1)

    def start(i: int) -> bool:
        return ledger.place_hold(alice, D("1"), reference=f"s-{i % 40}", expires_at=past).replayed

    with ThreadPoolExecutor(max_workers=16) as pool:
        replays = list(pool.map(start, range(120)))
    assert replays.count(False) == 40
    assert ledger.balance(alice).reserved == D("40")

    with ThreadPoolExecutor(max_workers=6) as pool:
        expired = list(pool.map(lambda _: ledger.expire_holds(now, limit=7), range(12)))
    while swept := ledger.expire_holds(now):  # what skipped rows may have left behind
        expired.append(swept)
    assert sum(expired) == 40  # each hold expired by exactly one sweeper
    view = ledger.balance(alice)
    assert (view.balance, view.reserved) == (D("100"), D("0"))
    assert ledger.verify() == []


def test_a_sweep_expires_every_level_of_a_reference_together(ledger, db):
    reseller = open_account(db, kind="reseller")
    customer = open_account(db, parent=reseller)
    ledger.top_up(reseller, D("10"), actor=OPERATOR)
    ledger.top_up(customer, D("10"), actor=OPERATOR)
    now = datetime.now(UTC)
    chain = [HoldRequest(customer, D("2")), HoldRequest(reseller, D("1.5"))]
    ledger.place_holds("gone", chain, expires_at=now - timedelta(seconds=5))
    assert ledger.expire_holds(now, limit=1) == 2
    assert [h.status for h in ledger.holds("gone")] == ["expired", "expired"]
    assert ledger.balance(customer).reserved == ledger.balance(reseller).reserved == D("0")
    assert ledger.verify() == []


def test_verify_catches_a_hold_that_disagrees_with_its_charge(ledger, db):
    alice = open_account(db)
    ledger.top_up(alice, D("10"), actor=OPERATOR)
    ledger.place_hold(alice, D("3"), reference="call", expires_at=LATER)
    settlement = ledger.post_holds("call", [D("2.5")])
    assert ledger.verify() == []
    with db.transaction() as conn:
        conn.execute(holds.update().where(holds.c.reference == "call").values(posted_amount=D("2")))
    assert [str(d) for d in ledger.verify()] == [
        f"charge transaction {settlement.transaction_id} on book 1: expected 2, found 2.5"
    ]
