"""A Jepsen-style bank: concurrent transfers among 8 balances, with concurrent readers.

Every snapshot read sums to the money put in; no prepaid balance ever goes below its
floor; ``verify`` finds nothing afterwards. Runs on PostgreSQL (row locks) and SQLite.
"""

from __future__ import annotations

import random
import threading
from decimal import Decimal as D

from sqlalchemy import select

from support.ledger_accounts import open_account
from voxbill.bootstrap import Container
from voxbill.domain.errors import InsufficientFunds
from voxbill.storage.schema.ledger import ledger_books

OPERATOR = "admin:test"
WRITERS, TRANSFERS_EACH, READERS = 8, 40, 3


def _snapshot(container: Container, book_keys: list[str]) -> dict[str, D]:
    """All balances from one snapshot, read row by row (REPEATABLE READ on PostgreSQL)."""
    engine = container.db.engine
    options = {"isolation_level": "REPEATABLE READ"} if container.db.dialect != "sqlite" else {}
    with engine.connect().execution_options(voxbill_readonly=True, **options) as conn, conn.begin():
        return {
            key: conn.execute(
                select(ledger_books.c.balance).where(ledger_books.c.key == key)
            ).scalar_one()
            for key in book_keys
        }


def test_bank_transfers_keep_the_total_and_the_floors(container: Container):
    ledger = container.ledger
    floors = [D("0"), D("0"), D("5"), D("5"), D("0"), D("10"), D("0"), D("2.5")]
    accounts = [open_account(container.db, block_balance=str(f)) for f in floors]
    for account in accounts:
        ledger.top_up(account, D("100"), actor=OPERATOR)
    total = D("800")
    keys = [f"account:{a}" for a in accounts]
    floor_of = dict(zip(keys, floors, strict=True))
    done = threading.Event()
    problems: list[str] = []
    reads: list[int] = []

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(TRANSFERS_EACH):
            source, target = rng.sample(accounts, 2)
            amount = D(rng.randint(1, 4000)) / 100
            try:
                ledger.transfer(source, target, amount, actor=OPERATOR)
            except InsufficientFunds:
                pass
            except Exception as exc:
                problems.append(f"transfer failed: {exc!r}")

    def reader() -> None:
        while not done.is_set():
            balances = _snapshot(container, keys)
            reads.append(1)
            if sum(balances.values()) != total:
                problems.append(f"read summed to {sum(balances.values())}")
            for key, balance in balances.items():
                if balance < floor_of[key]:
                    problems.append(f"{key} at {balance}, below its floor {floor_of[key]}")

    readers = [threading.Thread(target=reader) for _ in range(READERS)]
    writers = [threading.Thread(target=writer, args=(seed,)) for seed in range(WRITERS)]
    for thread in readers + writers:
        thread.start()
    for thread in writers:
        thread.join()
    done.set()
    for thread in readers:
        thread.join()

    assert problems == []
    assert reads
    final = _snapshot(container, keys)
    assert sum(final.values()) == total
    assert all(final[k] >= floor_of[k] for k in keys)
    assert ledger.verify() == []
