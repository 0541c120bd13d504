"""The ledger's units of work: one database transaction with its journal, retried when
a concurrent twin wrote the same unique key first, and run once per idempotency key.

Every use case of :class:`~voxbill.services.ledger.service.LedgerService` goes through here, so
the rules of a retry and of a replay are written once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from voxbill.domain.ledger import LedgerTransaction
from voxbill.services.ledger.batch import JournalBatch
from voxbill.services.ledger.idempotency import remember, request_fingerprint, stored_response
from voxbill.services.ledger.journal import Journal
from voxbill.services.unit_of_work import Transaction, UnitOfWork, WriteConflict
from voxbill.settings import Settings

T = TypeVar("T")
_ATTEMPTS = 3

#: Re-checks who may do this inside the movement's transaction (see AccountService.guard).
Guard = Callable[[Transaction], None]


@dataclass(frozen=True, slots=True)
class Caller:
    """Who asks for a money movement, under which idempotency key (``scope``: whose
    keys they are, default the actor) and with which check of their rights."""

    actor: str
    key: str | None = None
    scope: str | None = None
    fingerprint: str | None = None
    guard: Guard | None = None


class LedgerUnitOfWork:
    def __init__(
        self,
        uow: UnitOfWork,
        settings: Settings,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._uow = uow
        self._settings = settings
        self._clock = clock
        self._books: dict[str, int] = {}

    @contextmanager
    def _journal(self) -> Iterator[Journal]:
        with self._uow.transaction() as tx:
            journal = Journal(tx, self._clock(), self._books)
            yield journal
        self._books.update(journal.found_books)  # committed: safe to remember

    @contextmanager
    def journal_batch(self) -> Iterator[JournalBatch]:
        """One transaction for several units of work, each in a savepoint (group
        commit: see :mod:`voxbill.services.charging.group_commit`)."""
        with self._uow.transaction() as tx:
            batch = JournalBatch(tx, self._clock, self._books)
            yield batch
        self._books.update(batch.found_books)  # committed: safe to remember

    @contextmanager
    def unit_of_work(self) -> Iterator[Journal]:
        """A ledger transaction another service adds its own rows to, so that they and
        the holds or charges made through ``ledger_holds`` commit or vanish together
        (charging: a session, its counters and its holds)."""
        with self._journal() as journal:
            yield journal

    def _retrying(self, op: Callable[[Journal], T], *, attempts: int = _ATTEMPTS) -> T:
        """Run ``op`` in its own transaction, again (up to ``attempts`` in all) after an
        WriteConflict: a concurrent twin wrote the same unique key first, and the retry
        finds what it wrote."""
        for attempt in range(attempts):
            try:
                with self._journal() as journal:
                    return op(journal)
            except WriteConflict:
                if attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")

    def _once(
        self,
        operation: str,
        request: dict[str, Any],
        caller: Caller,
        move: Callable[[Journal], LedgerTransaction],
    ) -> LedgerTransaction:
        """Run ``move`` once per (scope, key): a duplicate replays, another request is 409.

        ``scope`` (default: the actor) says whose keys they are — the API passes the
        calling account, so every key of one account shares them. The key is stored in
        the transaction that moves the money; a concurrent duplicate fails on the key's
        unique constraint, rolls back whole, and replays on retry. The caller's guard
        runs in that transaction before the money moves (a replay does not re-check).
        """
        key = caller.key
        digest = caller.fingerprint or request_fingerprint(operation, request)
        owner = caller.scope or caller.actor

        def once(journal: Journal) -> LedgerTransaction:
            if key is not None:
                replay = stored_response(journal, owner, key, digest)
                if replay is not None:
                    return replay
            if caller.guard is not None:
                caller.guard(journal.tx)
            result = move(journal)
            if key is not None:
                remember(journal, owner, key, digest, operation, result)
            return result

        return self._retrying(once, attempts=_ATTEMPTS if key is not None else 1)
