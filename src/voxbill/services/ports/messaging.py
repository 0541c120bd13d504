"""Message records, as the messaging service sees storage.

Protocols only: ``voxbill.storage`` implements them and ``bootstrap`` wires them
(through the unit of work, :mod:`voxbill.services.unit_of_work`)."""

from __future__ import annotations

from typing import Protocol

from voxbill.domain.messaging import MessageRecord


class MessageRepository(Protocol):
    def find(self, scope_account_id: int, message_id: str) -> MessageRecord | None: ...
    def insert_record(self, record: MessageRecord) -> int:
        """Store a record (its ``id`` ignored), return its id; WriteConflict if a twin
        with the same scope and message id was stored first."""
        ...

    def in_subtree(
        self, path: str, *, account_id: int | None, before_id: int | None, limit: int
    ) -> list[MessageRecord]: ...
