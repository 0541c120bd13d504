"""Message records in the database: the messaging context's repository.

The JSON of what every level paid is written and decoded here; services see
:class:`~voxbill.domain.messaging.MessageRecord` only.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, insert, select

from voxbill.domain.messaging import LevelCharge, MessageRecord
from voxbill.storage.schema.accounts import accounts
from voxbill.storage.schema.messaging import message_records


def _record(row: Any) -> MessageRecord:
    return MessageRecord(
        operator_id=int(row.operator_id),
        scope_account_id=int(row.scope_account_id),
        message_id=row.message_id,
        fingerprint=row.fingerprint,
        account_id=int(row.account_id),
        sender=row.sender,
        recipient=row.recipient,
        mcc_mnc=row.mcc_mnc,
        segments=int(row.segments),
        encoding=row.encoding,
        cost=row.cost,
        currency=row.currency,
        balance_after=row.balance_after,
        charges=tuple(LevelCharge.from_json(c) for c in json.loads(row.charges)),
        transaction_id=row.transaction_id,
        created_at=row.created_at,
        id=int(row.id),
    )


class SqlMessageRepository:
    """Message records over one transaction's connection."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def find(self, scope_account_id: int, message_id: str) -> MessageRecord | None:
        row = self._conn.execute(
            select(message_records).where(
                message_records.c.scope_account_id == scope_account_id,
                message_records.c.message_id == message_id,
            )
        ).first()
        return None if row is None else _record(row)

    def insert_record(self, record: MessageRecord) -> int:
        """Store one record (its ``id`` is ignored) and return its id; a twin with the
        same scope and message id raises IntegrityError (the unit of work's WriteConflict)."""
        values = {
            "operator_id": record.operator_id,
            "scope_account_id": record.scope_account_id,
            "message_id": record.message_id,
            "fingerprint": record.fingerprint,
            "account_id": record.account_id,
            "sender": record.sender,
            "recipient": record.recipient,
            "mcc_mnc": record.mcc_mnc,
            "segments": record.segments,
            "encoding": record.encoding,
            "cost": record.cost,
            "currency": record.currency,
            "balance_after": record.balance_after,
            "charges": json.dumps([c.to_json() for c in record.charges], sort_keys=True),
            "transaction_id": record.transaction_id,
            "created_at": record.created_at,
        }
        query = insert(message_records).values(values).returning(message_records.c.id)
        return int(self._conn.execute(query).scalar_one())

    def in_subtree(
        self, path: str, *, account_id: int | None, before_id: int | None, limit: int
    ) -> list[MessageRecord]:
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
        return [_record(row) for row in self._conn.execute(query)]
