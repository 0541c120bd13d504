"""SQL for the ledger's books, transactions, outbox and idempotency keys, behind
:class:`SqlLedgerRepository`. Every function runs on the caller's connection (its
transaction) and returns domain records (:mod:`voxbill.domain.ledger`), never rows.

Balance rows are locked with ``SELECT … FOR UPDATE`` in ascending id order, so that
concurrent movements over several balances never deadlock; SQLite needs no row locks
because every writer holds the database write lock (``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    String,
    and_,
    bindparam,
    case,
    cast,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    type_coerce,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from voxbill.domain.dashboard import LowBalance
from voxbill.domain.errors import NotFound
from voxbill.domain.holds import HoldSettled
from voxbill.domain.ledger import (
    BookRecord,
    BookState,
    HistoryEntry,
    LedgerTransaction,
    LegRow,
    OutboxEvent,
    Owner,
    OwnerAccount,
    StoredResponse,
    account_book_key,
    system_book_key,
)
from voxbill.domain.money import ZERO
from voxbill.storage.prepared import (
    MOST_ROWS,
    Prepared,
    RowsUpdate,
    among,
    rows_params,
    value_rows,
)
from voxbill.storage.schema.accounts import accounts
from voxbill.storage.schema.ledger import (
    holds,
    idempotency_keys,
    ledger_books,
    ledger_entries,
    ledger_transactions,
    outbox_events,
)
from voxbill.storage.types import Amount, max_amount

_OWNER_COLUMNS = (
    accounts.c.id,
    accounts.c.parent_id,
    accounts.c.shared_balance,
    accounts.c.currency,
    accounts.c.billing,
    accounts.c.credit_limit,
    accounts.c.block_balance,
    accounts.c.alert_balance,
)
_OWNER = Prepared(select(*_OWNER_COLUMNS).where(accounts.c.id == bindparam("id")))
_OWNERS = Prepared(
    lambda d: select(*_OWNER_COLUMNS, accounts.c.path).where(among(accounts.c.id, "ids", d))
)


def _owner(account_id: int, row: Any) -> Owner:
    return Owner(
        account_id=account_id,
        balance_account_id=row.id,
        currency=row.currency,
        billing=row.billing,
        credit_limit=row.credit_limit,
        block_balance=row.block_balance,
        alert_balance=row.alert_balance,
    )


def balance_owner(
    conn: Connection, account_id: int, known: Mapping[int, OwnerAccount] | None = None
) -> Owner:
    """Walk up from ``account_id`` while the account shares its parent's balance
    (``known``: account rows read already, by id)."""
    current: int | None = account_id
    seen: set[int] = set()
    while current is not None and current not in seen:
        seen.add(current)
        row = (known or {}).get(current) or _OWNER.first(conn, {"id": current})
        if row is None:
            raise NotFound(f"account {account_id} does not exist")
        if row.shared_balance and row.parent_id is not None:
            current = row.parent_id
            continue
        return _owner(account_id, row)
    raise NotFound(f"account {account_id} has no balance of its own or above it")


def owner_rows(conn: Connection, account_ids: Iterable[int]) -> dict[int, OwnerAccount]:
    """Accounts' owner columns and ``path`` by id, in one query (feeds ``balance_owner``)."""
    ids = sorted(set(account_ids))
    if not ids:
        return {}
    return {row.id: OwnerAccount(*row) for row in _OWNERS.rows(conn, {"ids": ids})}


__all__ = ["account_book_key", "system_book_key"]  # their home is the domain

_FIND_BOOK = Prepared(select(ledger_books).where(ledger_books.c.key == bindparam("key")))


def book_record(row: Any) -> BookRecord:
    return BookRecord(
        row.id,
        row.key,
        row.account_id,
        row.purpose,
        row.currency,
        row.maintained,
        row.balance,
        row.reserved,
        row.created_at,
    )


def find_book(conn: Connection, key: str) -> BookRecord | None:
    row = _FIND_BOOK.first(conn, {"key": key})
    return None if row is None else book_record(row)


def ensure_book(
    conn: Connection,
    key: str,
    *,
    account_id: int | None,
    purpose: str,
    currency: str,
    maintained: bool,
    now: datetime,
) -> int:
    """The book's id, creating it on first use (a concurrent creator wins quietly)."""
    row = _FIND_BOOK.first(conn, {"key": key})
    if row is not None:
        return int(row.id)
    values = {
        "key": key,
        "account_id": account_id,
        "purpose": purpose,
        "currency": currency,
        "maintained": maintained,
        "balance": ZERO,
        "reserved": ZERO,
        "created_at": now,
    }
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(ledger_books).values(values).on_conflict_do_nothing())
    row = _FIND_BOOK.first(conn, {"key": key})
    assert row is not None
    return int(row.id)


_LOCK_BOOKS = Prepared(
    lambda d: (
        select(
            ledger_books.c.id,
            ledger_books.c.currency,
            ledger_books.c.maintained,
            ledger_books.c.balance,
            ledger_books.c.reserved,
        )
        .where(among(ledger_books.c.id, "ids", d))
        .order_by(ledger_books.c.id)
        .with_for_update()
    )
)


def lock_books(conn: Connection, book_ids: Iterable[int]) -> dict[int, BookState]:
    """Lock balance rows in ascending id order (the one lock order of the system)."""
    ids = sorted(set(book_ids))
    if not ids:
        return {}
    rows = _LOCK_BOOKS.rows(conn, {"ids": ids})
    return {r.id: BookState(r.id, r.currency, r.maintained, r.balance, r.reserved) for r in rows}


def _binds(table: Any, *names: str) -> dict[str, Any]:
    return {name: bindparam(name, type_=table.c[name].type) for name in names}


_INSERT_TRANSACTION = Prepared(
    insert(ledger_transactions)
    .values(_binds(ledger_transactions, "kind", "actor", "reason", "reference", "created_at"))
    .returning(ledger_transactions.c.id)
)
_ENTRY = ("transaction_id", "book_id", "amount", "currency", "balance_after", "created_at")
_INSERT_ENTRIES = Prepared(insert(ledger_entries).values(_binds(ledger_entries, *_ENTRY)))
_STORE_BOOKS = RowsUpdate(ledger_books, "id", "book_id", ("balance", "reserved"))
_SETTLE_HOLDS = RowsUpdate(
    holds, "id", "hold_id", ("status", "posted_amount", "updated_at", "transaction_id")
)
_OUTBOX = ("topic", "account_id", "payload", "created_at")
_INSERT_OUTBOX = Prepared(insert(outbox_events).values(_binds(outbox_events, *_OUTBOX)))


#: an entry as :func:`append_transaction` takes it (its transaction and instant are given)
LEG = ("book_id", "amount", "currency", "balance_after")
#: a hold's change as :func:`append_transaction` takes it (the transaction is given)
SETTLED = ("hold_id", "status", "posted_amount", "updated_at")
_BOOK = ("book_id", "balance", "reserved")
_APPENDS: dict[tuple[int, int, int], Prepared] = {}


def books_written(count: int) -> Any:
    """PostgreSQL: a CTE (``WITH``) storing ``count`` books' balance and reservation, for
    a statement that writes them with its own rows (parameters: :func:`books_params`)."""
    state = value_rows(
        "state", ledger_books, _BOOK, count, prefix="book_", column_of={"book_id": "id"}
    )
    return (
        update(ledger_books)
        .where(ledger_books.c.id == state.c.book_id)
        .values(balance=state.c.balance, reserved=state.c.reserved)
        .cte("books")
    )


def books_params(books: Sequence[BookState]) -> dict[str, Any]:
    states = [{"book_id": b.id, "balance": b.balance, "reserved": b.reserved} for b in books]
    return rows_params(states, _BOOK, "book_")


def _append(legs: int, books: int, settles: int) -> Prepared:
    """PostgreSQL: a ledger transaction, its ``legs`` entries (inserted in their order),
    ``books`` books' new state and the ``settles`` holds it settles, in one statement
    returning the transaction's id."""
    found = _APPENDS.get((legs, books, settles))
    if found is not None:
        return found
    new = (
        insert(ledger_transactions)
        .values(_binds(ledger_transactions, "kind", "actor", "reason", "reference", "created_at"))
        .returning(ledger_transactions.c.id, ledger_transactions.c.created_at)
        .cte("new")
    )
    given = value_rows("leg", ledger_entries, LEG, legs, prefix="leg_", ordinal=True)
    entries = insert(ledger_entries).from_select(
        list(_ENTRY),
        select(
            new.c.id,
            given.c.book_id,
            given.c.amount,
            given.c.currency,
            given.c.balance_after,
            new.c.created_at,
        )
        .select_from(new)
        .join(given, true())
        .order_by(given.c.n),
    )
    query = select(new.c.id).add_cte(entries.cte("entries"))
    if books:
        query = query.add_cte(books_written(books))
    if settles:
        changes = value_rows(
            "change", holds, SETTLED, settles, prefix="hold_", column_of={"hold_id": "id"}
        )
        settled = (
            update(holds)
            .where(holds.c.id == changes.c.hold_id)
            .values(
                status=changes.c.status,
                posted_amount=changes.c.posted_amount,
                updated_at=changes.c.updated_at,
                transaction_id=select(new.c.id).scalar_subquery(),
            )
        )
        query = query.add_cte(settled.cte("settled"))
    found = _APPENDS[(legs, books, settles)] = Prepared(query)
    return found


def append_transaction(
    conn: Connection,
    *,
    kind: str,
    actor: str,
    reason: str | None,
    reference: str | None,
    now: datetime,
    legs: Sequence[LegRow],
    books: Sequence[BookState],
    settles: Sequence[HoldSettled] = (),
) -> int:
    """A ledger transaction: its row, its entries (``legs``: the keys of :data:`LEG`, in
    order), the balances and reservations of ``books`` (distinct, locked) as they now
    are, and the holds it settles (``settles``: the keys of :data:`SETTLED`, the holds
    distinct and locked; their ``transaction_id`` set to it); its id. One statement on
    PostgreSQL (up to four elsewhere)."""
    values: dict[str, Any] = {"kind": kind, "actor": actor, "reason": reason}
    values |= {"reference": reference, "created_at": now}
    if conn.dialect.name == "postgresql" and 0 < len(legs) <= MOST_ROWS >= max(
        len(books), len(settles)
    ):
        params = values | rows_params(legs, LEG, "leg_") | books_params(books)
        params |= rows_params(settles, SETTLED, "hold_")
        statement = _append(len(legs), len(books), len(settles))
        return int(statement.scalar(conn, params))
    transaction_id = int(_INSERT_TRANSACTION.scalar(conn, values))
    _INSERT_ENTRIES.run_many(
        conn, [leg | {"transaction_id": transaction_id, "created_at": now} for leg in legs]
    )
    store_books(conn, books)
    _SETTLE_HOLDS.run(conn, [change | {"transaction_id": transaction_id} for change in settles])
    return transaction_id


def store_books(conn: Connection, books: Iterable[BookState]) -> None:
    """Write the balances and reserved amounts of locked books, in one statement."""
    rows = [{"book_id": b.id, "balance": b.balance, "reserved": b.reserved} for b in books]
    _STORE_BOOKS.run(conn, rows)


def add_outbox_event(
    conn: Connection, topic: str, account_id: int, payload: str, now: datetime
) -> None:
    values = {"topic": topic, "account_id": account_id, "payload": payload}
    _INSERT_OUTBOX.run(conn, values | {"created_at": now})


def find_idempotency(conn: Connection, scope: str, key: str) -> StoredResponse | None:
    """The response first given under (``scope``, ``key``), decoded, if any."""
    row = conn.execute(
        select(idempotency_keys.c.fingerprint, idempotency_keys.c.result).where(
            idempotency_keys.c.scope == scope, idempotency_keys.c.key == key
        )
    ).first()
    if row is None:
        return None
    return StoredResponse(row.fingerprint, LedgerTransaction.from_json(json.loads(row.result)))


def save_idempotency(
    conn: Connection,
    *,
    scope: str,
    key: str,
    fingerprint: str,
    operation: str,
    result: LedgerTransaction,
    now: datetime,
) -> None:
    """Store the response to (``scope``, ``key``): its stable JSON (a concurrent twin's
    insert fails on the key's unique constraint)."""
    conn.execute(
        insert(idempotency_keys).values(
            scope=scope,
            key=key,
            fingerprint=fingerprint,
            operation=operation,
            result=json.dumps(result.to_json(), sort_keys=True),
            created_at=now,
        )
    )


def history(
    conn: Connection, book_id: int, *, limit: int, before_id: int | None
) -> list[HistoryEntry]:
    """The book's legs with their transactions' kind and reason, newest first."""
    query = (
        select(
            ledger_entries.c.id,
            ledger_entries.c.transaction_id,
            ledger_transactions.c.kind,
            ledger_entries.c.amount,
            ledger_entries.c.balance_after,
            ledger_transactions.c.reason,
            ledger_entries.c.created_at,
        )
        .join(ledger_transactions, ledger_transactions.c.id == ledger_entries.c.transaction_id)
        .where(ledger_entries.c.book_id == book_id)
        .order_by(ledger_entries.c.id.desc())
        .limit(limit)
    )
    if before_id is not None:
        query = query.where(ledger_entries.c.id < before_id)
    return [HistoryEntry(*row) for row in conn.execute(query)]


def outbox(conn: Connection, account_id: int | None = None) -> list[OutboxEvent]:
    """Balance events, oldest first (optionally one account's)."""
    query = select(outbox_events).order_by(outbox_events.c.id)
    if account_id is not None:
        query = query.where(outbox_events.c.account_id == account_id)
    return [OutboxEvent(*row) for row in conn.execute(query)]


def low_balances(conn: Connection, path: str, limit: int) -> tuple[int, list[LowBalance]]:
    """How many accounts of the subtree at ``path`` with a balance of their own (not an
    operator's or a vendor's, not closed) are low (``domain.dashboard.LowBalance``), and
    the ``limit`` nearest their block level. An account never moved has no book: its
    balance is 0. One pass over the subtree's accounts (bounded by the tree, not by the ledger)."""
    book = ledger_books.c
    key = literal("account:") + cast(accounts.c.id, String)
    credit = case((accounts.c.billing == "postpaid", accounts.c.credit_limit), else_=ZERO)
    funds = type_coerce(func.coalesce(book.balance, ZERO) + credit, Amount)
    low = or_(
        and_(accounts.c.alert_balance.is_not(None), funds < accounts.c.alert_balance),
        funds <= accounts.c.block_balance,
    )
    source = accounts.outerjoin(ledger_books, book.key == key)
    where = (
        accounts.c.path.startswith(path, autoescape=True),
        accounts.c.shared_balance.is_(False),
        accounts.c.kind.not_in(("operator", "vendor")),
        accounts.c.status != "closed",
        low,
    )
    headroom = type_coerce(funds - accounts.c.block_balance, Amount)
    rows = conn.execute(
        select(
            accounts.c.id,
            accounts.c.name,
            accounts.c.currency,
            funds.label("funds"),
            accounts.c.alert_balance,
            accounts.c.block_balance,
            func.count().over().label("low"),  # all of them, before the limit
        )
        .select_from(source)
        .where(*where)
        .order_by(headroom, accounts.c.id)
        .limit(limit)
    ).all()
    count = int(rows[0].low) if rows else 0
    return count, [LowBalance(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows]


class SqlLedgerRepository:
    """:class:`~voxbill.services.ports.ledger.LedgerRepository` over one transaction's
    connection."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self.largest_amount = max_amount(conn.dialect.name)

    def balance_owner(
        self, account_id: int, known: Mapping[int, OwnerAccount] | None = None
    ) -> Owner:
        return balance_owner(self._conn, account_id, known)

    def owner_rows(self, account_ids: Iterable[int]) -> dict[int, OwnerAccount]:
        return owner_rows(self._conn, account_ids)

    def find_book(self, key: str) -> BookRecord | None:
        return find_book(self._conn, key)

    def ensure_book(
        self,
        key: str,
        *,
        account_id: int | None,
        purpose: str,
        currency: str,
        maintained: bool,
        now: datetime,
    ) -> int:
        return ensure_book(
            self._conn,
            key,
            account_id=account_id,
            purpose=purpose,
            currency=currency,
            maintained=maintained,
            now=now,
        )

    def lock_books(self, book_ids: Iterable[int]) -> dict[int, BookState]:
        return lock_books(self._conn, book_ids)

    def append_transaction(
        self,
        *,
        kind: str,
        actor: str,
        reason: str | None,
        reference: str | None,
        now: datetime,
        legs: Sequence[LegRow],
        books: Sequence[BookState],
        settles: Sequence[HoldSettled] = (),
    ) -> int:
        return append_transaction(
            self._conn,
            kind=kind,
            actor=actor,
            reason=reason,
            reference=reference,
            now=now,
            legs=legs,
            books=books,
            settles=settles,
        )

    def store_books(self, books: Iterable[BookState]) -> None:
        store_books(self._conn, books)

    def add_outbox_event(self, topic: str, account_id: int, payload: str, now: datetime) -> None:
        add_outbox_event(self._conn, topic, account_id, payload, now)

    def outbox(self, account_id: int | None = None) -> list[OutboxEvent]:
        return outbox(self._conn, account_id)

    def find_idempotency(self, scope: str, key: str) -> StoredResponse | None:
        return find_idempotency(self._conn, scope, key)

    def save_idempotency(
        self,
        *,
        scope: str,
        key: str,
        fingerprint: str,
        operation: str,
        result: LedgerTransaction,
        now: datetime,
    ) -> None:
        save_idempotency(
            self._conn,
            scope=scope,
            key=key,
            fingerprint=fingerprint,
            operation=operation,
            result=result,
            now=now,
        )

    def history(self, book_id: int, *, limit: int, before_id: int | None) -> list[HistoryEntry]:
        return history(self._conn, book_id, limit=limit, before_id=before_id)

    def low_balances(self, path: str, limit: int) -> tuple[int, list[LowBalance]]:
        return low_balances(self._conn, path, limit)
