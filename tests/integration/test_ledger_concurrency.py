"""Many writers on one balance: the result is the arithmetic one, and the floor holds."""

from __future__ import annotations

import threading
from decimal import Decimal as D

import pytest
from sqlalchemy import select

from support.ledger_accounts import open_account
from voxbill.bootstrap import Container
from voxbill.domain.errors import InsufficientFunds
from voxbill.storage.schema.ledger import outbox_events

OPERATOR = "admin:test"


def _in_threads(count: int, work) -> list[object]:
    """Start ``count`` threads at once (a barrier), each running ``work(i)``."""
    results: list[object] = [None] * count
    barrier = threading.Barrier(count)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.fixture
def ledger(container: Container):
    return container.ledger


def test_200_concurrent_adjustments_end_at_the_arithmetic_result(ledger, container):
    alice = open_account(container.db)
    ledger.top_up(alice, D("100"), actor=OPERATOR)
    amounts = [D("1.01") if i % 2 else D("-0.37") for i in range(200)]

    results = _in_threads(
        200, lambda i: ledger.adjust(alice, amounts[i], f"adj {i}", actor=OPERATOR)
    )
    assert not [r for r in results if isinstance(r, Exception)]
    assert ledger.balance(alice).balance == D("100") + sum(amounts) == D("164")
    after = sorted(r.balance_after for r in results)  # every write saw the one before it
    assert len(set(after)) == 200
    assert ledger.verify() == []


def test_concurrent_debits_never_pass_the_floor(ledger, container):
    alice = open_account(container.db, block_balance="0.50")
    ledger.top_up(alice, D("10.50"), actor=OPERATOR)

    def debit(i: int):
        return ledger.adjust(alice, D("-0.07"), "usage", actor=OPERATOR)

    results = _in_threads(200, debit)
    refused = [r for r in results if isinstance(r, InsufficientFunds)]
    assert len(refused) == 200 - 142  # 10 / 0.07 = 142.86
    assert not [r for r in results if isinstance(r, Exception) and r not in refused]
    assert ledger.balance(alice).balance == D("10.50") - 142 * D("0.07") == D("0.56")
    assert ledger.verify() == []


def test_concurrent_debits_write_each_threshold_event_once(ledger, container):
    alice = open_account(container.db, alert_balance="5", block_balance="0")
    ledger.top_up(alice, D("10"), actor=OPERATOR)  # restored + alert armed, from 0

    results = _in_threads(120, lambda i: ledger.adjust(alice, D("-0.10"), "usage", actor=OPERATOR))
    assert sum(isinstance(r, InsufficientFunds) for r in results) == 20
    assert ledger.balance(alice).balance == D("0")
    with container.db.transaction(readonly=True) as conn:
        topics = [r.topic for r in conn.execute(select(outbox_events).order_by(outbox_events.c.id))]
    assert topics == [
        "balance.alert_rearmed",
        "balance.restored",
        "balance.alert_crossed_down",
        "balance.block_reached",
    ]
