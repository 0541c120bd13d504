"""SQL for message records. Every function runs on the caller's connection (transaction)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select

from voxbill.storage.schema.accounts import accounts
from voxbill.storage.schema.messaging import message_records


def find(conn: Connection, scope_account_id: int, message_id: str) -> Any | None:
    return conn.execute(
        select(message_records).where(
            message_records.c.scope_account_id == scope_account_id,
            message_records.c.message_id == message_id,
        )
    ).first()


def insert_record(conn: Connection, values: dict[str, Any]) -> int:
    """Insert one record; a twin with the same scope and message id raises IntegrityError."""
    return int(
        conn.execute(
            insert(message_records).values(values).returning(message_records.c.id)
        ).scalar_one()
    )


def in_subtree(
    conn: Connection,
    path: str,
    *,
    account_id: int | None,
    before_id: int | None,
    limit: int,
) -> list[Any]:
    """Records of accounts under ``path`` (or of one account), newest first."""
    query = (
        select(message_records)
        .join(accounts, accounts.c.id == message_records.c.account_id)
        .where(accounts.c.path.startswith(path, autoescape=True))
        .order_by(message_records.c.id.desc())
        .limit(limit)
    )
    if account_id is not None:
        query = query.where(message_records.c.account_id == account_id)
    if before_id is not None:
        query = query.where(message_records.c.id < before_id)
    return list(conn.execute(query).all())


class SqlMessageRepository:
    """MessageRepository over one transaction's connection."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def find(self, scope_account_id: int, message_id: str) -> Any | None:
        return find(self._conn, scope_account_id, message_id)

    def insert_record(self, values: dict[str, Any]) -> int:
        return insert_record(self._conn, values)

    def in_subtree(
        self, path: str, *, account_id: int | None, before_id: int | None, limit: int
    ) -> list[Any]:
        return in_subtree(self._conn, path, account_id=account_id, before_id=before_id, limit=limit)
