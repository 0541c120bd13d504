"""The storage messaging: SMS records, as this context's services see it.

Protocols only: ``voxbill.storage`` implements them and ``bootstrap`` wires them
(through the unit of work, :mod:`voxbill.services.unit_of_work`)."""

from __future__ import annotations

from typing import Any, Protocol


class MessageRepository(Protocol):
    def find(self, scope_account_id: int, message_id: str) -> Any | None: ...
    def insert_record(self, values: dict[str, Any]) -> int: ...
    def in_subtree(
        self, path: str, *, account_id: int | None, before_id: int | None, limit: int
    ) -> list[Any]: ...
