"""A balance locked for too long gives a typed, retryable error, and changes nothing."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from sqlalchemy import text

from support.ledger_accounts import open_account
from voxbill.bootstrap import build
from voxbill.domain.errors import DatabaseBusy
from voxbill.settings import Settings


def test_a_lock_wait_past_the_timeout_is_database_busy(database_url: str):
    container = build(Settings(database_url=database_url, lock_timeout_seconds=0.2), migrate=True)
    try:
        ledger = container.ledger
        alice = open_account(container.db)
        ledger.top_up(alice, D("5"), actor="admin")
        with container.db.engine.connect() as blocker:
            if container.db.dialect == "sqlite":
                blocker.exec_driver_sql("SELECT 1")  # BEGIN IMMEDIATE: the write lock
            else:
                blocker.execute(
                    text("SELECT * FROM ledger_books WHERE key = :k FOR UPDATE"),
                    {"k": f"account:{alice}"},
                )
            with pytest.raises(DatabaseBusy) as caught:
                ledger.adjust(alice, D("-1"), "usage", actor="admin", idempotency_key="k")
            assert caught.value.code == "database_busy"
            blocker.rollback()
        assert ledger.balance(alice).balance == D("5")
        retried = ledger.adjust(alice, D("-1"), "usage", actor="admin", idempotency_key="k")
        assert not retried.replayed
        assert retried.balance_after == D("4")
    finally:
        container.close()
