"""A bare ledger book inserted directly, for tests of transactions and savepoints."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import Connection, insert

from voxbill.storage.schema.ledger import ledger_books


def insert_book(conn: Connection, key: str) -> None:
    """An empty EUR book named ``key`` (purpose "test"), in ``conn``'s transaction."""
    conn.execute(
        insert(ledger_books).values(
            key=key,
            account_id=None,
            purpose="test",
            currency="EUR",
            maintained=False,
            balance=Decimal(0),
            reserved=Decimal(0),
            created_at=datetime.now(UTC),
        )
    )
