"""Charging SMS on both dialects: worked examples, refusals, replays, the floor under load.

The world is ``support.sms_world``: customer C (retail plan) under reseller R (wholesale
plan); every charged message is paid by both, each by its own plan, in one transaction.
"""

from __future__ import annotations

import json
from decimal import Decimal as D
from typing import Any

import pytest
from sqlalchemy import func, select

from support.sms_world import SmsWorld, build_sms_world, in_threads, message
from voxbill.bootstrap import Container
from voxbill.domain.access import Role
from voxbill.domain.accounts import AccountStatus
from voxbill.domain.errors import (
    Forbidden,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidInput,
    InvalidNumber,
    NoRate,
    NotFound,
    Refused,
)
from voxbill.storage.schema.ledger import ledger_transactions, outbox_events
from voxbill.storage.schema.messaging import message_records


@pytest.fixture
def world(container: Container) -> SmsWorld:
    return build_sms_world(container)


def count(container: Container, query: Any) -> int:
    with container.db.transaction(readonly=True) as conn:
        return int(conn.execute(query).scalar_one())


def test_worked_examples(world: SmsWorld) -> None:
    send = world.container.messaging.send
    # GSM-7, 161 characters: 2 segments x 0.05 retail, x 0.03 wholesale (447 beats 44)
    gsm = send(world.admin, message("gsm", "x" * 161))
    assert (gsm.segments, gsm.encoding, gsm.cost, gsm.currency) == (2, "gsm7", D("0.1"), "USD")
    assert gsm.account_id == world.customer
    assert gsm.balance == D("9.9")
    assert [(c.account_id, c.key, c.cost, c.balance_after) for c in gsm.charges] == [
        (world.customer, "447", D("0.1"), D("9.9")),
        (world.reseller, "447", D("0.06"), D("100.04")),  # + C's 0.10 - its own 0.06
    ]
    # UCS-2: 71 Cyrillic letters do not fit one 70-unit segment: 67 + 4
    ucs = send(world.admin, message("ucs", "Ж" * 71, recipient="+441632960000"))
    assert (ucs.segments, ucs.encoding, ucs.cost) == (2, "ucs2", D("0.08"))
    assert [c.cost for c in ucs.charges] == [D("0.08"), D("0.04")]
    # an extended GSM character counts 2: 159 + "€" = 161 septets
    euro = send(world.admin, message("euro", "a" * 159 + "€"))
    assert (euro.segments, euro.encoding, euro.cost) == (2, "gsm7", D("0.1"))
    # the network's price beats the destination prefix's, at both levels
    net = send(world.admin, message("net", "hi", mcc_mnc="234-15"))
    assert (net.mcc_mnc, net.cost) == ("234-15", D("0.045"))
    assert [(c.key, c.destination, c.cost) for c in net.charges] == [
        ("234-15", "UK Vodafone", D("0.045")),
        ("234-15", "UK Vodafone", D("0.025")),
    ]
    # a network the plan does not price falls back to the prefix
    other = send(world.admin, message("other-net", "hi", mcc_mnc="23410"))
    assert (other.charges[0].key, other.cost) == ("447", D("0.05"))
    # connect fee: one per message, plus segments x price
    fee = send(world.admin, message("fee", "y" * 200, recipient="+33612345678"))
    assert (fee.segments, fee.cost) == (2, D("0.13"))
    assert fee.charges[1].cost == D("0.06")
    spent = D("0.1") + D("0.08") + D("0.1") + D("0.045") + D("0.05") + D("0.13")
    assert world.balance(world.customer) == D("10") - spent
    wholesale = D("0.06") + D("0.04") + D("0.06") + D("0.025") + D("0.03") + D("0.06")
    # R is paid what C spent (its retail sales) and pays its wholesale: 100.23
    assert world.balance(world.reseller) == D("100") + spent - wholesale
    assert world.container.ledger.verify() == []
    kinds = select(func.count()).where(ledger_transactions.c.kind == "sms")
    assert count(world.container, kinds) == 6


def test_a_user_without_a_plan_is_charged_through_the_levels_above(world: SmsWorld) -> None:
    accounts = world.container.accounts
    user = accounts.create(
        world.admin,
        {"kind": "user", "name": "u", "parent_id": world.customer, "shared_balance": True},
    ).id
    receipt = world.container.messaging.send(world.admin, message("u1", account_id=user))
    assert receipt.account_id == user
    assert [c.account_id for c in receipt.charges] == [world.customer, world.reseller]
    assert receipt.cost == D("0.05")
    assert receipt.balance == D("9.95")


def test_refusals_charge_nothing(world: SmsWorld) -> None:
    messaging, container = world.container.messaging, world.container
    before = (world.balance(world.customer), world.balance(world.reseller))

    with pytest.raises(Refused) as unknown:
        messaging.send(world.admin, message("r1", sender="+15559999999"))
    assert unknown.value.code == "unknown_sender"
    with pytest.raises(Refused) as alnum:
        messaging.send(world.admin, message("r2", sender="MyShop"))
    assert alnum.value.code == "unknown_sender"
    with pytest.raises(NoRate) as no_rate:
        messaging.send(world.admin, message("r3", recipient="+81312345678"))
    assert no_rate.value.code == "no_rate"
    with pytest.raises(InvalidNumber):
        messaging.send(world.admin, message("r4", recipient="not a number"))
    with pytest.raises(InvalidInput):
        messaging.send(world.admin, message("r5", mcc_mnc="31"))
    with pytest.raises(Forbidden):
        messaging.send(world.principal(world.root, Role.SUPPORT), message("r6"))

    container.accounts.set_status(world.admin, world.reseller, AccountStatus.BLOCKED)
    with pytest.raises(Refused) as blocked:
        messaging.send(world.admin, message("r7"))
    assert blocked.value.code == "blocked"
    container.accounts.set_status(world.admin, world.reseller, AccountStatus.ACTIVE)

    poor = world.customer_account("Poor")
    world.top_up(poor, "0.04")
    with pytest.raises(InsufficientFunds):  # 0.05 needed above a floor of 0
        messaging.send(world.admin, message("r8", account_id=poor))

    assert (world.balance(world.customer), world.balance(world.reseller)) == before
    assert world.balance(poor) == D("0.04")
    assert count(container, select(func.count()).select_from(message_records)) == 0
    assert messaging.send(world.admin, message("r9")).cost == D("0.05")  # unblocked again


def test_a_key_charges_only_its_own_subtree(world: SmsWorld) -> None:
    container = world.container
    other = container.accounts.create(
        world.admin, {"kind": "reseller", "name": "Other", "parent_id": world.root}
    ).id
    outsider = world.principal(other, Role.RESELLER)
    with pytest.raises(NotFound):
        container.messaging.send(outsider, message("t1", account_id=world.customer))
    with pytest.raises(Refused) as unknown:  # the customer's number: unknown outside it
        container.messaging.send(outsider, message("t2"))
    assert unknown.value.code == "unknown_sender"
    own = container.messaging.send(world.principal(world.customer, Role.CUSTOMER), message("t3"))
    assert own.account_id == world.customer
    assert [m.message_id for m in container.messaging.messages(outsider)] == []
    listed = container.messaging.messages(world.principal(world.reseller, Role.SUPPORT))
    assert [m.message_id for m in listed] == ["t3"]


def test_same_message_id_replays_and_another_body_conflicts(world: SmsWorld) -> None:
    send = world.container.messaging.send
    first = send(world.admin, message("dup", "z" * 170))
    again = send(world.admin, message("dup", "z" * 170))
    assert again.replayed
    assert not first.replayed
    assert {**vars(again), "replayed": False} == vars(first)
    with pytest.raises(IdempotencyConflict):
        send(world.admin, message("dup", "other text"))
    assert world.balance(world.customer) == D("9.9")
    # the scope is the calling key's account: another key's "dup" is another message
    customer_key = world.principal(world.customer, Role.CUSTOMER)
    assert not send(customer_key, message("dup", "z" * 170)).replayed
    assert world.balance(world.customer) == D("9.8")


def test_concurrent_copies_of_one_message_charge_once(world: SmsWorld) -> None:
    results = in_threads(
        12, lambda i: world.container.messaging.send(world.admin, message("race", "r" * 400))
    )
    assert not [r for r in results if isinstance(r, Exception)]
    assert sum(not r.replayed for r in results) == 1
    assert {(r.id, r.cost, r.balance) for r in results} == {(results[0].id, D("0.15"), D("9.85"))}
    assert world.balance(world.customer) == D("9.85")
    assert world.balance(world.reseller) == D("100.06")  # + 3 x 0.05 from C - 3 x 0.03
    assert world.container.ledger.verify() == []


def test_100_concurrent_messages_never_pass_the_floor(world: SmsWorld) -> None:
    container = world.container
    # 1.00 above a block balance of 0.10, 0.05 a message: exactly 18 fit
    small = world.customer_account("Small", alert_balance=D("0.50"), block_balance=D("0.10"))
    world.top_up(small, "1.00")
    results = in_threads(
        100, lambda i: container.messaging.send(world.admin, message(f"m{i}", account_id=small))
    )
    charged = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(charged) == 18
    assert all(isinstance(r, InsufficientFunds) for r in refused), refused[:3]
    assert world.balance(small) == D("0.1")
    assert world.balance(world.reseller) == D("100") + 18 * (D("0.05") - D("0.03"))
    assert container.ledger.verify() == []
    with container.db.transaction(readonly=True) as conn:
        events = conn.execute(
            select(outbox_events.c.topic, outbox_events.c.payload)
            .where(outbox_events.c.account_id == small)
            .order_by(outbox_events.c.id)
        ).all()
    topics = [e.topic for e in events]
    # the top-up crossed both thresholds upwards; 18 messages crossed each down exactly once
    assert topics[:2] == ["balance.alert_rearmed", "balance.restored"]
    assert topics[2:] == ["balance.alert_crossed_down", "balance.block_reached"]
    assert json.loads(events[-1].payload)["balance"] == "0.1"
