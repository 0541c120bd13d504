"""The storage charging: call sessions, their open-call counters, and CDRs, as this
context's services see it.

Protocols only: ``voxbill.storage`` implements them and ``bootstrap`` wires them
(through the unit of work, :mod:`voxbill.services.unit_of_work`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol

from voxbill.domain.accounts import Account


class SessionRepository(Protocol):
    def chain(
        self, account_id: int, *, ancestors: Sequence[int] = (), share: bool = False
    ) -> list[Account]: ...
    def chain_unless_started(
        self, session_id: str, account_id: int, *, ancestors: Sequence[int]
    ) -> list[Account] | None: ...
    def session(self, session_id: str, *, lock: bool) -> Any | None: ...
    def session_and_holds(self, session_id: str) -> tuple[Any | None, list[Any]]: ...
    def insert_session(self, values: dict[str, Any]) -> None: ...
    def update_session(self, session_id: str, **values: Any) -> None: ...
    def claim_expired(self, now: datetime) -> Any | None: ...
    def orphan_holds(self, now: datetime, limit: int) -> list[Any]: ...
    def lock_counters(self, account_ids: Iterable[int]) -> dict[int, int]: ...
    def add_open_calls(self, account_ids: Iterable[int], delta: int) -> None: ...
    def open_calls(self, account_ids: Iterable[int]) -> dict[int, int]: ...


class CdrRepository(Protocol):
    def insert_cdr(
        self,
        values: dict[str, Any],
        legs: Sequence[dict[str, Any]],
        *,
        settles: tuple[str, dict[str, Any]] | None = None,
    ) -> int: ...
    def by_session(self, session_id: str) -> Any | None: ...
    def legs_of(self, cdr_ids: Sequence[int]) -> dict[int, list[Any]]: ...
    def page(
        self,
        *,
        path: str,
        started_from: datetime | None,
        started_to: datetime | None,
        number: str | None,
        before_id: int | None,
        limit: int,
    ) -> list[Any]: ...
