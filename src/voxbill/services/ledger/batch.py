"""Several ledger units of work in one database transaction, each in a savepoint.

What :mod:`voxbill.services.charging.group_commit` runs a batch of charging steps in: every step
gets its own :class:`Journal` (its own locks and balances read fresh, so it sees the
steps before it) inside a savepoint; a step that raises is rolled back to its savepoint
alone. Books a kept step created are remembered once the whole batch has committed.

Deadlocks: each step locks its rows in the system's order, but a batch holds the locks of
its earlier steps while a later one waits, so two nodes' batches could wait on each
other. On PostgreSQL the steps after the first kept one therefore wait for a lock at most
:data:`LATER_STEP_LOCK_WAIT`; one that gives up fails with ``DatabaseBusy``, changed
nothing, and group commit runs it again alone (in the system's lock order) after the
batch. Until a step is kept the batch holds nothing (a step rolled back to its savepoint
releases its locks) and waits as long as any transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from voxbill.services.ledger.journal import Journal
from voxbill.services.unit_of_work import Transaction

#: How long (PostgreSQL) a step after a batch's first kept one waits for a lock.
LATER_STEP_LOCK_WAIT = timedelta(milliseconds=50)


class JournalBatch:
    """The steps of one batch, each a :class:`Journal` in its own savepoint."""

    def __init__(
        self, tx: Transaction, clock: Callable[[], datetime], known_books: dict[str, int]
    ) -> None:
        self.tx = tx
        self._clock = clock
        self._known = known_books
        #: a kept step holds its locks until the commit: later steps then wait briefly
        self._holding = False
        #: books created by the steps that were kept (remembered after the commit)
        self.found_books: dict[str, int] = {}

    @contextmanager
    def step(self) -> Iterator[Journal]:
        """A unit of work of its own, in a savepoint of the batch's transaction (see
        :meth:`~voxbill.services.unit_of_work.Transaction.batch_step`)."""
        lock_wait = LATER_STEP_LOCK_WAIT if self._holding else None
        with self.tx.batch_step(lock_wait=lock_wait):
            journal = Journal(self.tx, self._clock(), self._known)
            yield journal
        self.found_books.update(journal.found_books)
        self._holding = True
