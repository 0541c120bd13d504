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
from datetime import datetime

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError, StatementError

from voxbill.domain.errors import VoxbillError
from voxbill.services.ledger.journal import Journal
from voxbill.services.unit_of_work import Transaction, WriteConflict
from voxbill.storage.ledger import books as repo
from voxbill.storage.prepared import run_script

#: How long (PostgreSQL) a step after a batch's first waits for a lock before giving up.
LATER_STEP_LOCK_WAIT = "50ms"


class JournalBatch:
    def __init__(
        self, tx: Transaction, clock: Callable[[], datetime], known_books: dict[str, int]
    ) -> None:
        self.tx = tx
        self.conn: Connection = tx.conn
        self._clock = clock
        self._known = known_books
        self._steps = 0
        #: a kept step holds its locks until the commit: later steps then wait briefly
        self._holding = False
        self._waiting_briefly = False
        #: the savepoint of the step before (kept, or rolled back to), released with the
        #: next step's own; the COMMIT releases the last
        self._previous: str | None = None
        #: books created by the steps that were kept (remembered after the commit)
        self.found_books: dict[str, int] = {}

    @contextmanager
    def step(self) -> Iterator[Journal]:
        self._steps += 1
        name = f"vb_step_{self._steps}"
        # one round trip on PostgreSQL: the step before released (the brief lock wait
        # set, at the transaction's level, once a step was kept), this one's savepoint
        opening = [] if self._previous is None else [f"RELEASE SAVEPOINT {self._previous}"]
        if self._holding and not self._waiting_briefly and self.conn.dialect.name == "postgresql":
            opening.append(f"SET LOCAL lock_timeout = '{LATER_STEP_LOCK_WAIT}'")
            self._waiting_briefly = True
        run_script(self.conn, [*opening, f"SAVEPOINT {name}"])
        self._previous = name
        journal = Journal(self.tx, self._clock(), self._known)
        try:
            with repo.busy_as_error():
                try:
                    yield journal
                except StatementError as exc:
                    # a refusal raised while binding a value: the voxbill error, as
                    # Database.transaction surfaces it for a transaction of its own
                    if isinstance(exc.orig, VoxbillError):
                        raise exc.orig from exc
                    if isinstance(exc, IntegrityError):
                        raise WriteConflict(str(exc.orig)) from exc
                    raise
        except BaseException:
            run_script(self.conn, [f"ROLLBACK TO SAVEPOINT {name}"])
            raise
        self.found_books.update(journal.found_books)
        self._holding = True
