"""The SQL unit of work: :class:`~voxbill.services.unit_of_work.UnitOfWork` over a
:class:`~voxbill.storage.database.Database`, its transactions handing out the SQL
repositories of every context (bound to the transaction's connection). SQLAlchemy's
errors stop here: a unique key written first by a concurrent transaction becomes
:class:`~voxbill.services.unit_of_work.WriteConflict`, a lock wait that timed out
:class:`~voxbill.domain.errors.DatabaseBusy`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError, StatementError

from voxbill.domain.errors import DatabaseBusy, VoxbillError
from voxbill.services.unit_of_work import WriteConflict
from voxbill.storage.access.api_keys import SqlAccessRepository
from voxbill.storage.access.card_pins import SqlCardPinRepository
from voxbill.storage.accounts.repository import SqlAccountRepository
from voxbill.storage.cards.repository import SqlCardRepository
from voxbill.storage.charging.cdrs import SqlCdrRepository
from voxbill.storage.charging.sessions import SqlSessionRepository
from voxbill.storage.database import Database
from voxbill.storage.fraud.repository import SqlFraudRepository
from voxbill.storage.ledger.audit import SqlLedgerAuditRepository
from voxbill.storage.ledger.books import SqlLedgerRepository
from voxbill.storage.ledger.fx import SqlFxRepository
from voxbill.storage.ledger.holds import SqlHoldRepository
from voxbill.storage.messaging.messages import SqlMessageRepository
from voxbill.storage.notify.repository import SqlNotifyRepository
from voxbill.storage.payments.repository import SqlPaymentRepository
from voxbill.storage.prepared import run_script
from voxbill.storage.rating.rates import SqlRateRepository
from voxbill.storage.routing.routes import SqlRouteRepository

# lock_not_available, deadlock_detected, serialization_failure, query_canceled (timeout)
_BUSY_SQLSTATES = frozenset({"55P03", "40P01", "40001", "57014"})


def _busy(exc: DBAPIError) -> DatabaseBusy | None:
    """A lock wait that timed out, as a typed, retryable error (else None)."""
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate in _BUSY_SQLSTATES or "database is locked" in str(exc.orig):
        return DatabaseBusy("the balance is busy; retry the request")
    return None


class SqlTransaction:
    """One open database transaction and its repositories."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        # made at once: a dozen small objects cost less than cached_property's lock
        # (one per class on Python 3.11, taken by every thread's first use)
        self.accounts = SqlAccountRepository(conn)
        self.access = SqlAccessRepository(conn)
        self.card_pins = SqlCardPinRepository(conn)
        self.cards = SqlCardRepository(conn)
        self.sessions = SqlSessionRepository(conn)
        self.cdrs = SqlCdrRepository(conn)
        self.ledger = SqlLedgerRepository(conn)
        self.holds = SqlHoldRepository(conn)
        self.fx = SqlFxRepository(conn)
        self.audit = SqlLedgerAuditRepository(conn)
        self.rates = SqlRateRepository(conn)
        self.routes = SqlRouteRepository(conn)
        self.messages = SqlMessageRepository(conn)
        self.fraud = SqlFraudRepository(conn)
        self.notify = SqlNotifyRepository(conn)
        self.payments = SqlPaymentRepository(conn)
        #: batch steps (:meth:`batch_step`): how many were opened, the savepoint of the
        #: last one (released with the next one's, or by the COMMIT), the lock wait set
        self._steps = 0
        self._previous_step: str | None = None
        self._lock_wait: timedelta | None = None

    @property
    def dialect(self) -> str:
        return self.conn.dialect.name

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
            try:
                yield
            except StatementError as exc:
                # a refusal raised while binding a value: the voxbill error, as
                # Database.transaction surfaces it for a transaction of its own
                if isinstance(exc.orig, VoxbillError):
                    raise exc.orig from exc
                if isinstance(exc, IntegrityError):
                    raise WriteConflict(str(exc.orig)) from exc
                busy = _busy(exc) if isinstance(exc, DBAPIError) else None
                if busy is not None:
                    raise busy from exc
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
        # one context manager, not three: this runs for every step of every call
        try:
            with self.db.transaction(readonly=readonly) as conn:
                yield SqlTransaction(conn)
        except IntegrityError as exc:
            raise WriteConflict(str(exc.orig)) from exc
        except DBAPIError as exc:
            busy = _busy(exc)
            if busy is not None:
                raise busy from exc
            raise
