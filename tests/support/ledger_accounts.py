"""Accounts for ledger tests, inserted directly (the ledger only reads them)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import insert, update

from voxbill.storage.database import Database
from voxbill.storage.schema.accounts import accounts


def open_account(
    db: Database,
    *,
    parent: int | None = None,
    kind: str = "customer",
    billing: str = "prepaid",
    currency: str = "EUR",
    credit_limit: str = "0",
    block_balance: str = "0",
    alert_balance: str | None = None,
    shared: bool = False,
    name: str = "test account",
) -> int:
    """Insert an account row with every NOT NULL column; returns its id."""
    now = datetime.now(UTC)
    with db.transaction() as conn:
        parent_path, depth = "/", 0
        if parent is not None:
            row = conn.execute(
                accounts.select()
                .with_only_columns(accounts.c.path, accounts.c.depth)
                .where(accounts.c.id == parent)
            ).one()
            parent_path, depth = row.path, row.depth + 1
        account_id = conn.execute(
            insert(accounts)
            .values(
                parent_id=parent,
                path=parent_path,
                depth=depth,
                kind=kind,
                name=name,
                status="active",
                billing=billing,
                currency=currency,
                credit_limit=Decimal(credit_limit),
                alert_balance=None if alert_balance is None else Decimal(alert_balance),
                block_balance=Decimal(block_balance),
                shared_balance=shared,
                cutoff_mode="none",
                timezone="UTC",
                created_at=now,
                updated_at=now,
            )
            .returning(accounts.c.id)
        ).scalar_one()
        conn.execute(
            update(accounts)
            .where(accounts.c.id == account_id)
            .values(path=f"{parent_path}{account_id}/")
        )
    return int(account_id)
