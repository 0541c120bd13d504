"""Money movements through the double-entry ledger: the only way a balance changes.

Every use case runs in one database transaction that locks the balance rows it touches
(sorted by id, with the engine's lock timeout), checks the floor, appends the legs,
updates the maintained balances, writes threshold events to the outbox and records the
idempotency key — so a retry, a concurrent duplicate or a crash never posts twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from voxbill.domain.errors import CurrencyMismatch, InvalidInput, NotFound
from voxbill.domain.ledger import (
    Funds,
    Leg,
    Posting,
    SystemBook,
    TransactionKind,
    convert,
    exact,
    positive,
)
from voxbill.domain.money import ZERO, canonical, normalize_currency
from voxbill.services import ledger_charges, ledger_holds, ledger_verify
from voxbill.services.ledger_batch import JournalBatch
from voxbill.services.ledger_idempotency import remember, request_fingerprint, stored_response
from voxbill.services.ledger_journal import Journal
from voxbill.services.ledger_views import (
    BalanceView,
    Charge,
    ChargeRequest,
    Discrepancy,
    HistoryEntry,
    Hold,
    HoldRequest,
    HoldSettlement,
    LedgerTransaction,
    norm,
    norm_or_none,
)
from voxbill.settings import Settings
from voxbill.storage import fx_repository as fx_rows
from voxbill.storage import ledger_audit
from voxbill.storage import ledger_repository as repo
from voxbill.storage.database import Database

__all__ = [
    "BalanceView",
    "Charge",
    "ChargeRequest",
    "Discrepancy",
    "HistoryEntry",
    "Hold",
    "HoldRequest",
    "HoldSettlement",
    "LedgerService",
    "LedgerTransaction",
]

T = TypeVar("T")
_ATTEMPTS = 3

#: Re-checks who may do this inside the movement's transaction (see AccountService.guard).
Guard = Callable[[Connection], None]


class LedgerService:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock
        self._books: dict[str, int] = {}

    # -- plumbing ----------------------------------------------------------------

    @contextmanager
    def _journal(self) -> Iterator[Journal]:
        with repo.busy_as_error():
            with self._db.transaction() as conn:
                journal = Journal(conn, self._clock(), self._books)
                yield journal
            self._books.update(journal.found_books)  # committed: safe to remember

    @contextmanager
    def journal_batch(self) -> Iterator[JournalBatch]:
        """One transaction for several units of work, each in a savepoint (group
        commit: see :mod:`voxbill.services.group_commit`)."""
        with repo.busy_as_error():
            with self._db.transaction() as conn:
                batch = JournalBatch(conn, self._clock, self._books)
                yield batch
            self._books.update(batch.found_books)  # committed: safe to remember

    @contextmanager
    def unit_of_work(self) -> Iterator[Journal]:
        """A ledger transaction another service adds its own rows to, so that they and
        the holds or charges made through ``ledger_holds`` commit or vanish together
        (charging: a session, its counters and its holds)."""
        with self._journal() as journal:
            yield journal

    def _once(
        self,
        operation: str,
        request: dict[str, Any],
        *,
        actor: str,
        key: str | None,
        fingerprint: str | None,
        run: Callable[[Journal], LedgerTransaction],
        scope: str | None = None,
    ) -> LedgerTransaction:
        """Run ``run`` once per (scope, key): a duplicate replays, another request is 409.

        ``scope`` (default: the actor) says whose keys they are — the API passes the
        calling account, so every key of one account shares them. The key is stored in
        the transaction that moves the money; a concurrent duplicate fails on the key's
        unique constraint, rolls back whole, and replays on retry.
        """
        digest = fingerprint or request_fingerprint(operation, request)
        owner = scope or actor
        for attempt in range(_ATTEMPTS):
            try:
                with self._journal() as journal:
                    if key is not None:
                        replay = stored_response(journal, owner, key, digest)
                        if replay is not None:
                            return replay
                    result = run(journal)
                    if key is not None:
                        remember(journal, owner, key, digest, operation, result)
                    return result
            except IntegrityError:
                if key is None or attempt == _ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    @staticmethod
    def _result(
        journal: Journal,
        kind: TransactionKind,
        account_id: int,
        book_id: int,
        amount: Decimal,
        transaction_id: int,
        reason: str | None,
    ) -> LedgerTransaction:
        return LedgerTransaction(
            id=transaction_id,
            kind=kind.value,
            account_id=account_id,
            amount=amount,
            currency=journal.owner(account_id).currency,
            balance_after=norm(journal.balance_of(book_id)),
            reason=reason,
            created_at=journal.now,
        )

    def _external(
        self,
        kind: TransactionKind,
        source: SystemBook,
        account_id: int,
        amount: Decimal,
        *,
        actor: str,
        reason: str | None,
        key: str | None,
        scope: str | None,
        fingerprint: str | None,
        floor: bool = False,
        funded_by: int | None = None,
        guard: Guard | None = None,
    ) -> LedgerTransaction:
        """Money between an account's balance and one of the operator's system books or,
        with ``funded_by``, that account's own balance (never below its floor)."""
        request = {
            "account_id": account_id,
            "amount": canonical(amount),
            "reason": reason,
            "floor": floor,
            "funded_by": funded_by,
        }

        def run(journal: Journal) -> LedgerTransaction:
            if guard is not None:
                guard(journal.conn)
            book = journal.account_book(account_id)
            currency = journal.owner(account_id).currency
            floors: list[int] = []
            if funded_by is None:
                payer = journal.system_book(source, currency)
            else:
                payer = self._funding_book(journal, funded_by, account_id)
                floors.append(payer)
            if floor:
                floors.append(book)
            posting = Posting.move(payer, book, amount, currency)
            applied = journal.post(
                posting, kind=kind.value, actor=actor, reason=reason, floors=floors
            )
            return self._result(
                journal, kind, account_id, book, amount, applied.transaction_id, reason
            )

        return self._once(
            kind.value,
            request,
            actor=actor,
            key=key,
            scope=scope,
            fingerprint=fingerprint,
            run=run,
        )

    @staticmethod
    def _funding_book(journal: Journal, funded_by: int, account_id: int) -> int:
        """The payer's balance book: distinct from the account's, in the same currency."""
        payer = journal.account_book(funded_by)
        if payer == journal.account_book(account_id):
            raise InvalidInput(
                f"account {account_id} uses the balance of account {funded_by}: "
                "moving money between them would change nothing"
            )
        payer_currency = journal.owner(funded_by).currency
        currency = journal.owner(account_id).currency
        if payer_currency != currency:
            raise CurrencyMismatch(
                f"account {funded_by} pays in {payer_currency}, account {account_id} is in "
                f"{currency}: fund it with a transfer"
            )
        return payer

    # -- money movements ---------------------------------------------------------

    def top_up(
        self,
        account_id: int,
        amount: Decimal,
        *,
        actor: str,
        idempotency_key: str | None = None,
        idempotency_scope: str | None = None,
        fingerprint: str | None = None,
        note: str | None = None,
        guard: Guard | None = None,
    ) -> LedgerTransaction:
        """Operator money in: from the cash (payments) book to the account's balance."""
        return self._external(
            TransactionKind.TOPUP,
            SystemBook.CASH,
            account_id,
            positive(amount),
            actor=actor,
            reason=note,
            key=idempotency_key,
            scope=idempotency_scope,
            fingerprint=fingerprint,
            guard=guard,
        )

    def adjust(
        self,
        account_id: int,
        amount: Decimal,
        reason: str,
        *,
        actor: str,
        idempotency_key: str | None = None,
        idempotency_scope: str | None = None,
        fingerprint: str | None = None,
        force: bool = False,
        funded_by: int | None = None,
        guard: Guard | None = None,
    ) -> LedgerTransaction:
        """± correction with a reason (the "decrement API"); a debit respects the floor
        unless ``force`` (operator only: the caller checks who may force).

        Against the operator's adjustments book, or with ``funded_by`` against that
        account's balance: a reseller pays for a credit it gives, and a debit returns
        the money to it — so no one but the operator creates money."""
        value = exact(amount)
        if value == ZERO:
            raise InvalidInput("an adjustment needs a non-zero amount")
        if not reason or not reason.strip():
            raise InvalidInput("an adjustment needs a reason")
        return self._external(
            TransactionKind.ADJUSTMENT,
            SystemBook.ADJUSTMENTS,
            account_id,
            value,
            actor=actor,
            reason=reason.strip(),
            key=idempotency_key,
            scope=idempotency_scope,
            fingerprint=fingerprint,
            floor=value < ZERO and not force,
            funded_by=funded_by,
            guard=guard,
        )

    def refund(
        self,
        account_id: int,
        amount: Decimal,
        reason: str,
        *,
        actor: str,
        idempotency_key: str | None = None,
        idempotency_scope: str | None = None,
        fingerprint: str | None = None,
        funded_by: int | None = None,
        guard: Guard | None = None,
    ) -> LedgerTransaction:
        """Money given back to the account (a disputed call, a failed service), from the
        operator's refunds book or, with ``funded_by``, from that account's balance."""
        if not reason or not reason.strip():
            raise InvalidInput("a refund needs a reason")
        return self._external(
            TransactionKind.REFUND,
            SystemBook.REFUNDS,
            account_id,
            positive(amount),
            actor=actor,
            reason=reason.strip(),
            key=idempotency_key,
            scope=idempotency_scope,
            fingerprint=fingerprint,
            funded_by=funded_by,
            guard=guard,
        )

    def transfer(
        self,
        source_id: int,
        target_id: int,
        amount: Decimal,
        *,
        actor: str,
        idempotency_key: str | None = None,
        idempotency_scope: str | None = None,
        fingerprint: str | None = None,
        note: str | None = None,
        guard: Guard | None = None,
    ) -> LedgerTransaction:
        """A reseller funds another balance from its own; ``amount`` is in the source's
        currency. The result is the source's side (amount negative); the counterparty is
        the target, with what it was credited (in its currency) and its balance after.
        Who may fund whom is the caller's policy (tenancy), not the ledger's."""
        value = positive(amount)
        request = {
            "source_id": source_id,
            "target_id": target_id,
            "amount": canonical(value),
            "note": note,
        }

        def run(journal: Journal) -> LedgerTransaction:
            if guard is not None:
                guard(journal.conn)
            source_book = journal.account_book(source_id)
            target_book = journal.account_book(target_id)
            if source_book == target_book:
                raise InvalidInput(f"accounts {source_id} and {target_id} share one balance")
            source_cur = journal.owner(source_id).currency
            target_cur = journal.owner(target_id).currency
            if source_cur == target_cur:
                credited = value
                posting = Posting.move(source_book, target_book, value, source_cur)
            else:
                rate = self._rate(journal, source_cur, target_cur)
                credited = convert(value, rate, target_cur)
                posting = Posting.of(
                    [
                        Leg(source_book, -value, source_cur),
                        Leg(journal.system_book(SystemBook.FX, source_cur), value, source_cur),
                        Leg(journal.system_book(SystemBook.FX, target_cur), -credited, target_cur),
                        Leg(target_book, credited, target_cur),
                    ]
                )
            applied = journal.post(
                posting,
                kind=TransactionKind.TRANSFER.value,
                actor=actor,
                reason=note,
                floors=[source_book],
            )
            result = self._result(
                journal,
                TransactionKind.TRANSFER,
                source_id,
                source_book,
                -value,
                applied.transaction_id,
                note,
            )
            return replace(
                result,
                counterparty_account_id=target_id,
                counterparty_amount=credited,
                counterparty_balance_after=norm(journal.balance_of(target_book)),
            )

        return self._once(
            TransactionKind.TRANSFER.value,
            request,
            actor=actor,
            key=idempotency_key,
            scope=idempotency_scope,
            fingerprint=fingerprint,
            run=run,
        )

    def charge(
        self,
        requests: Sequence[ChargeRequest],
        *,
        kind: TransactionKind,
        actor: str = "system",
        reason: str | None = None,
        reference: str | None = None,
        then: Callable[[Connection, Charge], object] | None = None,
    ) -> Charge:
        """Charge every level of a chain at once (no hold), never below any floor.

        ``then`` runs in the same transaction once the money moved (e.g. writing the
        message record, whose unique key makes the charge idempotent): both commit or
        neither does, and an error it raises (such as a duplicate's IntegrityError)
        leaves no trace.
        """
        checked = ledger_charges.validate_requests(requests, kind)
        with self._journal() as journal:
            result = ledger_charges.charge(
                journal, checked, kind=kind, actor=actor, reason=reason, reference=reference
            )
            if then is not None:
                then(journal.conn, result)
            return result

    # -- reading -----------------------------------------------------------------

    def balance(self, account_id: int) -> BalanceView:
        return self.balances([account_id])[0]

    def funds(self, account_id: int) -> Funds:
        """What decides the account's spending now (balance, reservations, floor, credit)."""
        with self._db.transaction(readonly=True) as conn:
            return self._funds(conn, account_id)[1]

    @staticmethod
    def _funds(conn: Connection, account_id: int) -> tuple[repo.Owner, Funds]:
        owner = repo.balance_owner(conn, account_id)
        book = repo.find_book(conn, repo.account_book_key(owner.balance_account_id))
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
        with self._db.transaction(readonly=True) as conn:
            for account_id in account_ids:
                owner, funds = self._funds(conn, account_id)
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

    def history(
        self, account_id: int, *, limit: int = 50, before_id: int | None = None
    ) -> list[HistoryEntry]:
        """Legs on the account's balance, newest first; page with ``before_id``."""
        if not 1 <= limit <= 1000:
            raise InvalidInput("limit must be between 1 and 1000")
        with self._db.transaction(readonly=True) as conn:
            owner = repo.balance_owner(conn, account_id)
            book = repo.find_book(conn, repo.account_book_key(owner.balance_account_id))
            if book is None:
                return []
            rows = repo.history(conn, book.id, limit=limit, before_id=before_id)
        return [
            HistoryEntry(
                id=r.id,
                transaction_id=r.transaction_id,
                kind=r.kind,
                amount=norm(r.amount),
                balance_after=norm_or_none(r.balance_after),
                reason=r.reason,
                created_at=r.created_at,
            )
            for r in rows
        ]

    # -- holds (see ledger_holds) ------------------------------------------------

    def _hold_op(self, op: Callable[[Journal], T]) -> T:
        for attempt in range(_ATTEMPTS):
            try:
                with self._journal() as journal:
                    return op(journal)
            except IntegrityError:  # a concurrent twin placed the same reference first
                if attempt == _ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def place_holds(
        self,
        reference: str,
        requests: Sequence[HoldRequest],
        *,
        expires_at: datetime,
        actor: str = "system",
    ) -> list[Hold]:
        """Reserve funds at every level of a chain, all or none; the same reference again
        returns the holds already placed (``replayed``) and reserves nothing more."""
        checked = ledger_holds.validate_requests(reference, requests, expires_at)
        return self._hold_op(
            lambda journal: ledger_holds.place(journal, reference, checked, expires_at)
        )

    def place_hold(
        self,
        account_id: int,
        amount: Decimal,
        *,
        reference: str,
        expires_at: datetime,
        actor: str = "system",
    ) -> Hold:
        request = HoldRequest(account_id, amount)
        return self.place_holds(reference, [request], expires_at=expires_at, actor=actor)[0]

    def extend_holds(
        self, reference: str, amounts: Sequence[Decimal], *, expires_at: datetime
    ) -> list[Hold]:
        """Grow open holds to ``amounts`` (per level) and push their expiry (interim updates)."""
        totals = [positive(a, what="hold amount") for a in amounts]
        return self._hold_op(
            lambda journal: ledger_holds.extend(journal, reference, totals, expires_at)
        )

    def post_holds(
        self,
        reference: str,
        amounts: Sequence[Decimal],
        *,
        actor: str = "system",
        allow_overrun: bool = False,
    ) -> HoldSettlement:
        """Charge ``amounts`` (per level, each ≤ its hold unless ``allow_overrun``) and
        release the rest, exactly once; the same call again replays the settlement."""
        charges = [exact(a, what="charge") for a in amounts]
        return self._hold_op(
            lambda journal: ledger_holds.post(journal, reference, charges, actor, allow_overrun)
        )

    def post_hold(
        self,
        reference: str,
        amount: Decimal,
        *,
        actor: str = "system",
        allow_overrun: bool = False,
    ) -> HoldSettlement:
        """:meth:`post_holds` for a single-level hold."""
        return self.post_holds(reference, [amount], actor=actor, allow_overrun=allow_overrun)

    def void_holds(self, reference: str) -> list[Hold]:
        """Release every level without charging; voiding again replays."""
        return self._hold_op(lambda journal: ledger_holds.void(journal, reference))

    def void_hold(self, reference: str) -> Hold:
        return self.void_holds(reference)[0]

    def holds(self, reference: str) -> list[Hold]:
        with self._journal() as journal:
            return ledger_holds.current(journal, reference)

    def expire_holds(self, now: datetime, *, limit: int = 500) -> int:
        """Release open holds past their expiry; safe to run on every node at once."""
        with self._journal() as journal:
            return ledger_holds.expire(journal, now, limit)

    # -- FX ------------------------------------------------------------------------

    def set_fx_rate(self, base: str, quote: str, rate: Decimal, effective_from: datetime) -> None:
        """1 ``base`` = ``rate`` ``quote`` from ``effective_from`` on (until a later rate)."""
        base, quote = normalize_currency(base), normalize_currency(quote)
        if base == quote:
            raise InvalidInput("an exchange rate needs two different currencies")
        value = positive(rate, what="exchange rate")
        with self._journal() as journal:
            fx_rows.upsert_fx_rate(journal.conn, base, quote, value, effective_from, journal.now)

    def fx_rate(self, base: str, quote: str, at: datetime | None = None) -> Decimal:
        with self._journal() as journal:
            return self._rate(journal, base, quote, at)

    @staticmethod
    def _rate(journal: Journal, base: str, quote: str, at: datetime | None = None) -> Decimal:
        row = fx_rows.fx_rate_at(journal.conn, base, quote, at or journal.now)
        if row is None:
            raise NotFound(f"no exchange rate from {base} to {quote}", code="no_fx_rate")
        rate: Decimal = row.rate
        return rate if row.base == base else Decimal(1) / rate

    # -- verification ----------------------------------------------------------------

    def verify(self) -> list[Discrepancy]:
        """Recompute every balance, reservation and zero-sum from the journal and holds."""
        with self._db.transaction(readonly=True) as conn:
            return ledger_verify.discrepancies(conn)

    def summary(self) -> dict[str, int]:
        with self._db.transaction(readonly=True) as conn:
            return ledger_audit.counts(conn)
