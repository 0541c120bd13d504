"""The ledger service: the only way a balance changes, and how balances are read.

Every money movement runs in one database transaction that locks the balance rows it
touches (sorted by id, with the engine's lock timeout), checks the floor, appends the legs,
updates the maintained balances, writes threshold events to the outbox and records the
idempotency key — so a retry, a concurrent duplicate or a crash never posts twice. The
movements are in :mod:`voxbill.services.ledger.movements`, the holds in
:mod:`voxbill.services.ledger.holds_service`, their units of work in
:mod:`voxbill.services.ledger.transactions`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from voxbill.domain.access import Principal
from voxbill.domain.dashboard import LOW_BALANCES_LISTED, LowBalance, require_overseer
from voxbill.domain.errors import InvalidInput
from voxbill.domain.fx import FxRate, FxRateSet
from voxbill.domain.holds import Hold, HoldRequest, HoldSettlement
from voxbill.domain.ledger import (
    BalanceView,
    Charge,
    ChargeRequest,
    Discrepancy,
    Funds,
    HistoryEntry,
    LedgerTransaction,
    Owner,
    account_book_key,
    norm,
    norm_or_none,
)
from voxbill.domain.money import ZERO
from voxbill.services.caching import TtlCache
from voxbill.services.ledger import fx as ledger_fx
from voxbill.services.ledger import postings as ledger_postings
from voxbill.services.ledger import verify as ledger_verify
from voxbill.services.ledger.holds_service import HoldUseCases
from voxbill.services.ledger.journal import Journal
from voxbill.services.ledger.movements import MoneyMovements
from voxbill.services.ledger.transactions import Guard
from voxbill.services.ports.ledger import LedgerRepository
from voxbill.services.unit_of_work import UnitOfWork
from voxbill.settings import Settings

__all__ = [
    "BalanceView",
    "Charge",
    "ChargeRequest",
    "Discrepancy",
    "FxRate",
    "FxRateSet",
    "Guard",
    "HistoryEntry",
    "Hold",
    "HoldRequest",
    "HoldSettlement",
    "LedgerService",
    "LedgerTransaction",
]


class LedgerService(MoneyMovements, HoldUseCases):
    """Balances, money movements, holds, exchange rates and ``ledger verify``, each use
    case one unit of work (see :mod:`voxbill.services.ledger.transactions`)."""

    def __init__(
        self,
        uow: UnitOfWork,
        settings: Settings,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__(uow, settings, clock)
        #: dashboards' low balances, by (subtree path, limit)
        self._low_balances: TtlCache[tuple[str, int], tuple[int, list[LowBalance]]] = TtlCache(
            settings.dashboard_cache_seconds, max_entries=10_000
        )

    # -- reading -----------------------------------------------------------------

    def balance(self, account_id: int) -> BalanceView:
        return self.balances([account_id])[0]

    def funds(self, account_id: int) -> Funds:
        """What decides the account's spending now (balance, reservations, floor, credit)."""
        with self._uow.transaction(readonly=True) as tx:
            return self._funds(tx.ledger, account_id)[1]

    @staticmethod
    def _funds(ledger: LedgerRepository, account_id: int) -> tuple[Owner, Funds]:
        owner = ledger.balance_owner(account_id)
        book = ledger.find_book(account_book_key(owner.balance_account_id))
        funds = Funds(
            balance=ZERO if book is None else book.balance,
            reserved=ZERO if book is None else book.reserved,
            billing=owner.billing,
            credit_limit=owner.credit_limit,
            block_balance=owner.block_balance,
            alert_balance=owner.alert_balance,
        )
        return owner, funds

    def balances(self, account_ids: Sequence[int]) -> list[BalanceView]:
        """Several balances (e.g. every level of a call's chain) from one read transaction."""
        views = []
        with self._uow.transaction(readonly=True) as tx:
            for account_id in account_ids:
                owner, funds = self._funds(tx.ledger, account_id)
                views.append(
                    BalanceView(
                        account_id=account_id,
                        balance_account_id=owner.balance_account_id,
                        currency=owner.currency,
                        balance=norm(funds.balance),
                        reserved=norm(funds.reserved),
                        available=norm(funds.available),
                        credit_limit=norm(owner.credit_limit),
                        block_balance=norm(owner.block_balance),
                        alert_balance=norm_or_none(owner.alert_balance),
                    )
                )
        return views

    def low_balances(
        self, principal: Principal, limit: int = LOW_BALANCES_LISTED
    ) -> tuple[int, list[LowBalance]]:
        """How many accounts of the principal's subtree are low (below their alert
        balance, or at their block balance: ``domain.dashboard.LowBalance``), and the
        ``limit`` nearest their block level, nearest first. Served for
        ``dashboard_cache_seconds`` from memory."""
        require_overseer(principal)
        if not 1 <= limit <= 1000:
            raise InvalidInput("limit must be between 1 and 1000")

        def load() -> tuple[int, list[LowBalance]]:
            with self._uow.transaction(readonly=True) as tx:
                return tx.ledger.low_balances(principal.path, limit)

        return self._low_balances.get((principal.path, limit), load)

    def history(
        self, account_id: int, *, limit: int = 50, before_id: int | None = None
    ) -> list[HistoryEntry]:
        """Legs on the account's balance, newest first; page with ``before_id``."""
        if not 1 <= limit <= 1000:
            raise InvalidInput("limit must be between 1 and 1000")
        with self._uow.transaction(readonly=True) as tx:
            owner = tx.ledger.balance_owner(account_id)
            book = tx.ledger.find_book(account_book_key(owner.balance_account_id))
            if book is None:
                return []
            entries = tx.ledger.history(book.id, limit=limit, before_id=before_id)
        return [
            replace(e, amount=norm(e.amount), balance_after=norm_or_none(e.balance_after))
            for e in entries
        ]

    # -- FX ------------------------------------------------------------------------

    def set_fx_rate(
        self,
        operator_id: int,
        base: str,
        quote: str,
        rate: Decimal,
        effective_from: datetime | None = None,
    ) -> FxRateSet:
        """The operator's 1 ``base`` = ``rate`` ``quote`` from ``effective_from`` (default:
        now) until its next rate; the same instant again replaces it, unless conversions
        already stored used it (:class:`~voxbill.domain.fx.FxRateInUse`)."""
        with self._journal() as journal:
            ledger_fx.require_operator(journal, operator_id)
            return ledger_fx.set_rate(journal, operator_id, base, quote, rate, effective_from)

    def fx_rate(
        self, base: str, quote: str, at: datetime | None = None, *, operator_id: int | None = None
    ) -> Decimal:
        """1 ``base`` in ``quote`` at ``at`` by the operator's rates (without an operator:
        the installation's only operator's, see ``FxRepository.fx_rate_at``)."""
        with self._uow.transaction(readonly=True) as tx:
            journal = Journal(tx, self._clock())
            return ledger_postings.exchange_rate(journal, base, quote, at, operator_id=operator_id)

    def fx_rates(
        self,
        operator_id: int,
        *,
        base: str | None = None,
        quote: str | None = None,
        at: datetime | None = None,
        after_id: int | None = None,
        limit: int = 100,
    ) -> list[FxRate]:
        """The operator's stored rates by id; with ``at``, each pair's rate in force then."""
        if not 1 <= limit <= 1000:
            raise InvalidInput("limit must be between 1 and 1000")
        with self._uow.transaction(readonly=True) as tx:
            return ledger_fx.list_rates(
                tx.fx, operator_id, base=base, quote=quote, at=at, after_id=after_id, limit=limit
            )

    # -- verification ----------------------------------------------------------------

    def verify(self) -> list[Discrepancy]:
        """Recompute every balance, reservation and zero-sum from the journal and holds."""
        with self._uow.transaction(readonly=True) as tx:
            return ledger_verify.discrepancies(tx.audit)

    def summary(self) -> dict[str, int]:
        """How many books, transactions, entries and open holds the ledger has."""
        with self._uow.transaction(readonly=True) as tx:
            return tx.audit.counts()
