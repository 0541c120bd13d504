"""The SQL unit of work: :class:`~voxbill.services.unit_of_work.UnitOfWork` over a
:class:`~voxbill.storage.database.Database`, its transactions handing out the SQL
repositories of every context (each made on first use, bound to the transaction's
connection). SQLAlchemy's errors stop here: a unique key written first by a concurrent
transaction becomes :class:`~voxbill.services.unit_of_work.WriteConflict`, a lock wait
that timed out :class:`~voxbill.domain.errors.DatabaseBusy`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import cached_property

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError, StatementError

from voxbill.domain.errors import DatabaseBusy, VoxbillError
from voxbill.services.unit_of_work import WriteConflict
from voxbill.storage.access.api_keys import SqlAccessRepository
from voxbill.storage.access.card_pins import SqlCardPinRepository
from voxbill.storage.accounts.repository import SqlAccountRepository
from voxbill.storage.charging.cdrs import SqlCdrRepository
from voxbill.storage.charging.sessions import SqlSessionRepository
from voxbill.storage.database import Database
from voxbill.storage.ledger.audit import SqlLedgerAuditRepository
from voxbill.storage.ledger.books import SqlLedgerRepository
from voxbill.storage.ledger.fx import SqlFxRepository
from voxbill.storage.ledger.holds import SqlHoldRepository
from voxbill.storage.messaging.messages import SqlMessageRepository
from voxbill.storage.prepared import run_script
from voxbill.storage.rating.rates import SqlRateRepository
from voxbill.storage.routing.routes import SqlRouteRepository

# lock_not_available, deadlock_detected, serialization_failure, query_canceled (timeout)
_BUSY_SQLSTATES = frozenset({"55P03", "40P01", "40001", "57014"})


@contextmanager
def busy_as_error() -> Iterator[None]:
    """A lock wait that timed out is a typed, retryable error, not an internal failure."""
    try:
        yield
    except DBAPIError as exc:
        sqlstate = getattr(exc.orig, "sqlstate", None)
        if sqlstate in _BUSY_SQLSTATES or "database is locked" in str(exc.orig):
            raise DatabaseBusy("the balance is busy; retry the request") from exc
        raise


class SqlTransaction:
    """One open database transaction and its repositories."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        #: batch steps (:meth:`batch_step`): how many were opened, the savepoint of the
        #: last one (released with the next one's, or by the COMMIT), the lock wait set
        self._steps = 0
        self._previous_step: str | None = None
        self._lock_wait: timedelta | None = None

    @property
    def dialect(self) -> str:
        return self.conn.dialect.name

    @cached_property
    def accounts(self) -> SqlAccountRepository:
        return SqlAccountRepository(self.conn)

    @cached_property
    def access(self) -> SqlAccessRepository:
        return SqlAccessRepository(self.conn)

    @cached_property
    def card_pins(self) -> SqlCardPinRepository:
        return SqlCardPinRepository(self.conn)

    @cached_property
    def sessions(self) -> SqlSessionRepository:
        return SqlSessionRepository(self.conn)

    @cached_property
    def cdrs(self) -> SqlCdrRepository:
        return SqlCdrRepository(self.conn)

    @cached_property
    def ledger(self) -> SqlLedgerRepository:
        return SqlLedgerRepository(self.conn)

    @cached_property
    def holds(self) -> SqlHoldRepository:
        return SqlHoldRepository(self.conn)

    @cached_property
    def fx(self) -> SqlFxRepository:
        return SqlFxRepository(self.conn)

    @cached_property
    def audit(self) -> SqlLedgerAuditRepository:
        return SqlLedgerAuditRepository(self.conn)

    @cached_property
    def rates(self) -> SqlRateRepository:
        return SqlRateRepository(self.conn)

    @cached_property
    def routes(self) -> SqlRouteRepository:
        return SqlRouteRepository(self.conn)

    @cached_property
    def messages(self) -> SqlMessageRepository:
        return SqlMessageRepository(self.conn)

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        try:
            with self.conn.begin_nested():
                yield
        except IntegrityError as exc:
            raise WriteConflict(str(exc.orig)) from exc

    @contextmanager
    def batch_step(self, *, lock_wait: timedelta | None = None) -> Iterator[None]:
        self._steps += 1
        name = f"vb_step_{self._steps}"
        # one round trip on PostgreSQL: the step before released, the lock wait set (at
        # the transaction's level, so once), this step's savepoint
        opening = (
            [] if self._previous_step is None else [f"RELEASE SAVEPOINT {self._previous_step}"]
        )
        if (
            lock_wait is not None
            and lock_wait != self._lock_wait
            and self.conn.dialect.name == "postgresql"
        ):
            opening.append(f"SET LOCAL lock_timeout = '{lock_wait // timedelta(milliseconds=1)}ms'")
            self._lock_wait = lock_wait
        run_script(self.conn, [*opening, f"SAVEPOINT {name}"])
        self._previous_step = name
        try:
            with busy_as_error():
                try:
                    yield
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


class SqlUnitOfWork:
    """Transactions over one :class:`Database` (its engine, pool and SQLite writer queue)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @property
    def dialect(self) -> str:
        return self.db.dialect

    @contextmanager
    def transaction(self, *, readonly: bool = False) -> Iterator[SqlTransaction]:
        try:
            with busy_as_error(), self.db.transaction(readonly=readonly) as conn:
                yield SqlTransaction(conn)
        except IntegrityError as exc:
            raise WriteConflict(str(exc.orig)) from exc
