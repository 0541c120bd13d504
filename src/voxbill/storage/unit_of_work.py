"""The SQL unit of work: :class:`~voxbill.services.unit_of_work.UnitOfWork` over a
:class:`~voxbill.storage.database.Database`, its transactions handing out the SQL
repositories of every context (each made on first use, bound to the transaction's
connection). SQLAlchemy's errors stop here: a unique key written first by a concurrent
transaction becomes :class:`~voxbill.services.unit_of_work.WriteConflict`, a lock wait
that timed out :class:`~voxbill.domain.errors.DatabaseBusy`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from voxbill.services.unit_of_work import WriteConflict
from voxbill.storage.access.api_keys import SqlAccessRepository
from voxbill.storage.access.card_pins import SqlCardPinRepository
from voxbill.storage.accounts.repository import SqlAccountRepository
from voxbill.storage.charging.cdrs import SqlCdrRepository
from voxbill.storage.charging.sessions import SqlSessionRepository
from voxbill.storage.database import Database
from voxbill.storage.ledger.audit import SqlLedgerAuditRepository
from voxbill.storage.ledger.books import SqlLedgerRepository, busy_as_error
from voxbill.storage.ledger.fx import SqlFxRepository
from voxbill.storage.ledger.holds import SqlHoldRepository
from voxbill.storage.messaging.messages import SqlMessageRepository
from voxbill.storage.rating.rates import SqlRateRepository
from voxbill.storage.routing.routes import SqlRouteRepository


class SqlTransaction:
    """One open database transaction and its repositories."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

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
