"""The one way from a service to storage: a unit of work hands out a transaction, and the
transaction hands out the repositories.

``with uow.transaction() as tx:`` commits when the block ends and rolls back when it
raises; routes and handlers never commit. Repositories are protocols, one module per
bounded context (``services/<context>/ports.py``); ``voxbill.storage`` implements them
(:class:`voxbill.storage.unit_of_work.SqlUnitOfWork`) and ``bootstrap`` wires that in.

Two errors cross this boundary, both retryable and both raised by the storage
implementation in place of its driver's exceptions: :class:`WriteConflict` (a concurrent
twin wrote the same unique key first: a retry finds what it wrote) and
:class:`~voxbill.domain.errors.DatabaseBusy` (a lock could not be had in time).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import timedelta
from typing import Protocol

from voxbill.services.ports.access import AccessRepository, CardPinRepository
from voxbill.services.ports.accounts import AccountRepository
from voxbill.services.ports.cards import CardRepository
from voxbill.services.ports.charging import CdrRepository, SessionRepository
from voxbill.services.ports.fraud import FraudRepository
from voxbill.services.ports.ledger import (
    FxRepository,
    HoldRepository,
    LedgerAuditRepository,
    LedgerRepository,
)
from voxbill.services.ports.messaging import MessageRepository
from voxbill.services.ports.notify import NotifyRepository
from voxbill.services.ports.payments import PaymentRepository
from voxbill.services.ports.rating import RateRepository
from voxbill.services.ports.routing import RouteRepository


class WriteConflict(Exception):
    """A unique key was written by a concurrent transaction first; nothing of this one
    was kept, and running it again will find the other's row."""


class Transaction(Protocol):
    """One database transaction, seen through the repositories of every context."""

    @property
    def dialect(self) -> str: ...
    @property
    def accounts(self) -> AccountRepository: ...
    @property
    def access(self) -> AccessRepository: ...
    @property
    def card_pins(self) -> CardPinRepository: ...
    @property
    def cards(self) -> CardRepository: ...
    @property
    def sessions(self) -> SessionRepository: ...
    @property
    def cdrs(self) -> CdrRepository: ...
    @property
    def ledger(self) -> LedgerRepository: ...
    @property
    def holds(self) -> HoldRepository: ...
    @property
    def fx(self) -> FxRepository: ...
    @property
    def audit(self) -> LedgerAuditRepository: ...
    @property
    def rates(self) -> RateRepository: ...
    @property
    def routes(self) -> RouteRepository: ...
    @property
    def messages(self) -> MessageRepository: ...
    @property
    def fraud(self) -> FraudRepository: ...
    @property
    def notify(self) -> NotifyRepository: ...
    @property
    def payments(self) -> PaymentRepository: ...

    def savepoint(self) -> AbstractContextManager[None]:
        """A nested transaction: the block's writes vanish alone if it raises."""
        ...

    def batch_step(self, *, lock_wait: timedelta | None = None) -> AbstractContextManager[None]:
        """One of several units of work run one after the other in this transaction (see
        :mod:`voxbill.services.ledger.batch`): its writes vanish alone if it raises, and
        it costs one round trip (the step before is released with this one's savepoint).
        ``lock_wait``: from this step to the commit, give up a lock wait after that long
        (PostgreSQL; SQLite has one writer). What the step raises comes out as from a
        transaction of its own: :class:`WriteConflict`, ``DatabaseBusy``, or the voxbill
        error a value refused while being bound."""
        ...


class UnitOfWork(Protocol):
    """Where transactions come from (one per process, built by ``bootstrap``)."""

    @property
    def dialect(self) -> str: ...

    def transaction(self, *, readonly: bool = False) -> AbstractContextManager[Transaction]:
        """Commit when the block ends, roll back if it raises. ``readonly``: reads only
        (SQLite: no write lock taken)."""
        ...
