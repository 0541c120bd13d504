"""Read-only aggregates that ``ledger verify`` compares with the maintained balances,
behind :class:`SqlLedgerAuditRepository`."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Connection, Select, func, select

from voxbill.domain.ledger import BookRecord
from voxbill.domain.money import ZERO
from voxbill.storage.ledger.books import book_record
from voxbill.storage.schema.charging import cdr_legs, cdrs
from voxbill.storage.schema.ledger import holds, ledger_books, ledger_entries, ledger_transactions


class SqlLedgerAuditRepository:
    """:class:`~voxbill.services.ports.ledger.LedgerAuditRepository` over one
    transaction's connection."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def books(self) -> list[BookRecord]:
        return [
            book_record(r)
            for r in self._conn.execute(select(ledger_books).order_by(ledger_books.c.id))
        ]

    def entry_sums_by_book(self) -> dict[int, Decimal]:
        rows = self._conn.execute(
            select(ledger_entries.c.book_id, func.sum(ledger_entries.c.amount)).group_by(
                ledger_entries.c.book_id
            )
        ).all()
        return {int(r[0]): r[1] for r in rows}

    def open_hold_sums_by_book(self) -> dict[int, Decimal]:
        rows = self._conn.execute(
            select(holds.c.book_id, func.sum(holds.c.amount))
            .where(holds.c.status == "open")
            .group_by(holds.c.book_id)
        ).all()
        return {int(r[0]): r[1] for r in rows}

    def currency_totals(self) -> dict[str, Decimal]:
        rows = self._conn.execute(
            select(ledger_entries.c.currency, func.sum(ledger_entries.c.amount)).group_by(
                ledger_entries.c.currency
            )
        ).all()
        return {str(r[0]): r[1] for r in rows}

    def unbalanced_transactions(self) -> list[tuple[int, str, Decimal]]:
        """(transaction id, currency, sum) of every transaction whose legs in a currency do
        not sum to zero."""
        total = func.sum(ledger_entries.c.amount)
        rows = self._conn.execute(
            select(ledger_entries.c.transaction_id, ledger_entries.c.currency, total)
            .group_by(ledger_entries.c.transaction_id, ledger_entries.c.currency)
            .having(total != ZERO)
            .order_by(ledger_entries.c.transaction_id)
        )
        return [(int(r[0]), str(r[1]), r[2]) for r in rows]

    def entries_in_wrong_currency(self) -> list[tuple[int, str, str]]:
        """(entry id, its currency, its book's currency) of every leg in a foreign currency."""
        rows = self._conn.execute(
            select(ledger_entries.c.id, ledger_entries.c.currency, ledger_books.c.currency)
            .join(ledger_books, ledger_books.c.id == ledger_entries.c.book_id)
            .where(ledger_entries.c.currency != ledger_books.c.currency)
            .order_by(ledger_entries.c.id)
        )
        return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]

    def counts(self) -> dict[str, int]:
        """How many books, transactions, entries and open holds there are."""
        open_holds = select(func.count()).select_from(holds).where(holds.c.status == "open")
        return {
            "books": self._count(select(func.count()).select_from(ledger_books)),
            "transactions": self._count(select(func.count()).select_from(ledger_transactions)),
            "entries": self._count(select(func.count()).select_from(ledger_entries)),
            "open_holds": self._count(open_holds),
        }

    def _count(self, query: Select[int]) -> int:
        return int(self._conn.execute(query).scalar_one())

    def posted_hold_sums(self) -> dict[tuple[int | None, int], Decimal]:
        """What posted holds say they charged, by (charge transaction, book)."""
        rows = self._conn.execute(
            select(holds.c.transaction_id, holds.c.book_id, func.sum(holds.c.posted_amount))
            .where(holds.c.status == "posted", holds.c.posted_amount != ZERO)
            .group_by(holds.c.transaction_id, holds.c.book_id)
        ).all()
        return {(r[0], int(r[1])): r[2] for r in rows}

    def charge_debits(self) -> dict[tuple[int | None, int], Decimal]:
        """What charge transactions took from account balances, by (transaction, book): the
        debits only, since a reseller's balance is also credited its customer's charge."""
        rows = self._conn.execute(
            select(
                ledger_entries.c.transaction_id,
                ledger_entries.c.book_id,
                func.sum(ledger_entries.c.amount),
            )
            .join(ledger_transactions, ledger_transactions.c.id == ledger_entries.c.transaction_id)
            .join(ledger_books, ledger_books.c.id == ledger_entries.c.book_id)
            .where(
                ledger_transactions.c.kind == "charge",
                ledger_books.c.maintained.is_(True),
                ledger_entries.c.amount < ZERO,
            )
            .group_by(ledger_entries.c.transaction_id, ledger_entries.c.book_id)
        ).all()
        return {(r[0], int(r[1])): -r[2] for r in rows}

    def vendor_charge_debits(self) -> dict[str, Decimal]:
        """What ``vendor_charge`` transactions took from vendor balances, by session id."""
        rows = self._conn.execute(
            select(ledger_transactions.c.reference, func.sum(ledger_entries.c.amount))
            .join(ledger_entries, ledger_entries.c.transaction_id == ledger_transactions.c.id)
            .join(ledger_books, ledger_books.c.id == ledger_entries.c.book_id)
            .where(
                ledger_transactions.c.kind == "vendor_charge", ledger_books.c.maintained.is_(True)
            )
            .group_by(ledger_transactions.c.reference)
        ).all()
        return {str(r[0]): -r[1] for r in rows}

    def buy_leg_costs(self, session_ids: list[str]) -> dict[str, Decimal]:
        """The CDR buy leg's cost of each of ``session_ids`` that has one."""
        if not session_ids:
            return {}
        rows = self._conn.execute(
            select(cdrs.c.session_id, cdr_legs.c.cost)
            .join(cdr_legs, cdr_legs.c.cdr_id == cdrs.c.id)
            .where(cdr_legs.c.side == "buy", cdrs.c.session_id.in_(session_ids))
        ).all()
        return {str(r[0]): r[1] for r in rows}
