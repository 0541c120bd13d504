"""Card batches and cards, read and written by :class:`SqlCardRepository` (rows in,
domain records out)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, and_, delete, exists, func, insert, or_, select, update

from voxbill.domain.cards import (
    BatchCounts,
    BatchKey,
    BatchUse,
    Card,
    CardBatch,
    CardState,
    Funding,
)
from voxbill.storage.schema import (
    accounts,
    caller_identifiers,
    card_batches,
    card_pin_counters,
    cards,
    cdr_legs,
    cdrs,
    charging_sessions,
    holds,
    ledger_books,
    ledger_entries,
)


def _batch(row: Any) -> CardBatch:
    return CardBatch(
        id=row.id,
        operator_id=row.operator_id,
        owner_id=row.owner_id,
        name=row.name,
        size=row.size,
        face_value=row.face_value,
        currency=row.currency,
        rate_plan=row.rate_plan,
        expires_at=row.expires_at,
        valid_days=row.valid_days,
        pin_length=row.pin_length,
        funding=Funding(row.funding),
        first_sequence=int(row.first_sequence),
        created_at=row.created_at,
        created_by=row.created_by,
    )


def _card(row: Any) -> Card:
    return Card(
        account_id=row.account_id,
        batch_id=row.batch_id,
        sequence=int(row.sequence),
        state=CardState(row.state),
        activated_at=row.activated_at,
        expires_at=row.expires_at,
        funding_transaction_id=row.funding_transaction_id,
    )


class SqlCardRepository:
    """:class:`~voxbill.services.ports.cards.CardRepository` over one transaction's
    connection."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def next_sequence(self, operator_id: int) -> int:
        query = select(func.max(cards.c.sequence)).where(cards.c.operator_id == operator_id)
        return int(self._conn.execute(query).scalar() or 0) + 1

    def insert_batch(
        self,
        *,
        operator_id: int,
        owner_id: int,
        name: str,
        size: int,
        face_value: Decimal,
        currency: str,
        rate_plan: str | None,
        expires_at: datetime | None,
        valid_days: int | None,
        pin_length: int,
        funding: Funding,
        first_sequence: int,
        created_at: datetime,
        created_by: str,
        key: BatchKey | None = None,
    ) -> CardBatch:
        remembered = (
            {}
            if key is None
            else {
                "idempotency_scope": key.scope,
                "idempotency_key": key.key,
                "idempotency_fingerprint": key.fingerprint,
            }
        )
        statement = (
            insert(card_batches)
            .values(
                operator_id=operator_id,
                owner_id=owner_id,
                name=name,
                size=size,
                face_value=face_value,
                currency=currency,
                rate_plan=rate_plan,
                expires_at=expires_at,
                valid_days=valid_days,
                pin_length=pin_length,
                funding=funding.value,
                first_sequence=first_sequence,
                created_at=created_at,
                created_by=created_by,
                **remembered,
            )
            .returning(*card_batches.c)
        )
        return _batch(self._conn.execute(statement).one())

    def insert_cards(self, batch: CardBatch, rows: list[tuple[int, int]]) -> None:
        if not rows:
            return
        self._conn.execute(
            insert(cards),
            [
                {
                    "account_id": account_id,
                    "operator_id": batch.operator_id,
                    "batch_id": batch.id,
                    "sequence": sequence,
                    "state": CardState.INACTIVE.value,
                }
                for account_id, sequence in rows
            ],
        )

    def batch(self, batch_id: int, *, for_update: bool = False) -> CardBatch | None:
        query = select(card_batches).where(card_batches.c.id == batch_id)
        if for_update and self._conn.dialect.name == "postgresql":
            query = query.with_for_update()
        row = self._conn.execute(query).first()
        return None if row is None else _batch(row)

    def batch_by_key(self, operator_id: int, scope: str, key: str) -> tuple[CardBatch, str] | None:
        query = select(card_batches).where(
            card_batches.c.operator_id == operator_id,
            card_batches.c.idempotency_scope == scope,
            card_batches.c.idempotency_key == key,
        )
        row = self._conn.execute(query).first()
        if row is None:
            return None
        return _batch(row), row.idempotency_fingerprint or ""

    def use_of(self, batch_id: int) -> BatchUse:
        members = select(cards.c.account_id).where(cards.c.batch_id == batch_id)
        activated = exists().where(
            cards.c.batch_id == batch_id,
            or_(
                cards.c.state != CardState.INACTIVE.value,
                cards.c.activated_at.is_not(None),
                cards.c.funding_transaction_id.is_not(None),
            ),
        )
        books = select(ledger_books.c.id).where(ledger_books.c.account_id.in_(members))
        money = or_(
            exists().where(ledger_entries.c.book_id.in_(books)),
            exists().where(holds.c.account_id.in_(members)),
            exists().where(ledger_books.c.id.in_(books), ledger_books.c.balance != Decimal(0)),
        )
        calls = or_(
            exists().where(charging_sessions.c.account_id.in_(members)),
            exists().where(cdrs.c.account_id.in_(members)),
            exists().where(cdr_legs.c.account_id.in_(members)),
        )
        row = self._conn.execute(select(activated, money, calls)).one()
        return BatchUse(activated=bool(row[0]), money=bool(row[1]), calls=bool(row[2]))

    def delete_batch(self, batch_id: int) -> None:
        """The batch, its cards, their card accounts, card identifiers (with their PIN
        counters) and empty balance books; anything else naming a card account makes
        the database refuse (a foreign key)."""
        members = select(cards.c.account_id).where(cards.c.batch_id == batch_id)
        ids = [row[0] for row in self._conn.execute(members)]
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            idents = select(caller_identifiers.c.id).where(
                caller_identifiers.c.account_id.in_(chunk)
            )
            self._conn.execute(
                delete(card_pin_counters).where(card_pin_counters.c.identifier_id.in_(idents))
            )
            self._conn.execute(
                delete(caller_identifiers).where(caller_identifiers.c.account_id.in_(chunk))
            )
            self._conn.execute(delete(ledger_books).where(ledger_books.c.account_id.in_(chunk)))
            self._conn.execute(delete(cards).where(cards.c.account_id.in_(chunk)))
            self._conn.execute(delete(accounts).where(accounts.c.id.in_(chunk)))
        self._conn.execute(delete(cards).where(cards.c.batch_id == batch_id))
        self._conn.execute(delete(card_batches).where(card_batches.c.id == batch_id))

    def batches_under(self, path: str, *, after_id: int | None, limit: int) -> list[CardBatch]:
        query = (
            select(card_batches)
            .join(accounts, accounts.c.id == card_batches.c.owner_id)
            .where(accounts.c.path.startswith(path, autoescape=True))
        )
        if after_id is not None:
            query = query.where(card_batches.c.id > after_id)
        rows = self._conn.execute(query.order_by(card_batches.c.id).limit(limit))
        return [_batch(row) for row in rows]

    def cards_of(
        self, batch_id: int, *, first: int | None = None, last: int | None = None
    ) -> list[Card]:
        query = select(cards).where(cards.c.batch_id == batch_id)
        if first is not None:
            query = query.where(cards.c.sequence >= first)
        if last is not None:
            query = query.where(cards.c.sequence <= last)
        return [_card(row) for row in self._conn.execute(query.order_by(cards.c.sequence))]

    def card(self, account_id: int) -> Card | None:
        row = self._conn.execute(select(cards).where(cards.c.account_id == account_id)).first()
        return None if row is None else _card(row)

    def set_state(
        self,
        account_ids: list[int],
        *,
        state: str,
        activated_at: datetime | None = None,
        expires_at: datetime | None = None,
        funding_transaction_id: int | None = None,
    ) -> None:
        if not account_ids:
            return
        values: dict[str, Any] = {"state": state}
        if activated_at is not None:
            values["activated_at"] = activated_at
        if expires_at is not None:
            values["expires_at"] = expires_at
        if funding_transaction_id is not None:
            values["funding_transaction_id"] = funding_transaction_id
        for start in range(0, len(account_ids), 500):
            chunk = account_ids[start : start + 500]
            self._conn.execute(update(cards).where(cards.c.account_id.in_(chunk)).values(**values))

    def counts(self, batch_id: int, face_value: Decimal, now: datetime) -> BatchCounts:
        book = ledger_books
        query = (
            select(cards.c.state, cards.c.expires_at, book.c.balance)
            .select_from(cards)
            .outerjoin(
                book,
                and_(
                    book.c.account_id == cards.c.account_id,
                    book.c.purpose == "balance",
                ),
            )
            .where(cards.c.batch_id == batch_id)
        )
        inactive = active = used = expired = 0
        remaining = Decimal(0)
        for row in self._conn.execute(query):
            balance = row.balance if row.balance is not None else Decimal(0)
            if row.state != CardState.ACTIVE.value:
                inactive += 1
            elif row.expires_at is not None and now >= row.expires_at:
                expired += 1
            else:
                active += 1
                remaining += balance
                if balance < face_value:
                    used += 1
        return BatchCounts(inactive, active, used, expired, remaining)
