"""SQL for holds, behind :class:`SqlHoldRepository`; rows come back as
:class:`~voxbill.domain.holds.HoldRecord`. Hold rows are locked before balance rows
(see :mod:`voxbill.storage.ledger.books`).

Sweepers claim expired holds with ``FOR UPDATE SKIP LOCKED`` so that several nodes
share the work without waiting on, or double-processing, each other's rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, bindparam, func, insert, select, update

from voxbill.domain.holds import HoldRecord, HoldUpdate, NewHold
from voxbill.domain.ledger import BookState
from voxbill.storage.ledger.books import (
    books_params,
    books_written,
    store_books,
)
from voxbill.storage.prepared import MOST_ROWS, Prepared, RowsUpdate, rows_params, value_rows
from voxbill.storage.schema.accounts import accounts
from voxbill.storage.schema.ledger import holds, ledger_books


def _holds_query() -> Select[Any]:
    return select(holds, ledger_books.c.account_id.label("balance_account_id")).join(
        ledger_books, ledger_books.c.id == holds.c.book_id
    )


_BY_REFERENCE = _holds_query().where(holds.c.reference == bindparam("reference"))
_HOLDS = Prepared(_BY_REFERENCE.order_by(holds.c.id))
_LOCKED_HOLDS = Prepared(_BY_REFERENCE.order_by(holds.c.id).with_for_update(of=holds))
_NEW = (
    "reference",
    "level",
    "account_id",
    "book_id",
    "currency",
    "amount",
    "status",
    "expires_at",
    "created_at",
    "updated_at",
)
_INSERT = Prepared(insert(holds).values({n: bindparam(n, type_=holds.c[n].type) for n in _NEW}))
_UPDATES: dict[tuple[str, ...], RowsUpdate] = {}
_WITH_BOOKS: dict[tuple[Any, ...], Prepared] = {}


def hold_record(row: Any) -> HoldRecord:
    """A row of :func:`_holds_query` (the hold's columns and its ``balance_account_id``)."""
    return HoldRecord(
        id=row.id,
        reference=row.reference,
        level=row.level,
        account_id=row.account_id,
        book_id=row.book_id,
        currency=row.currency,
        amount=row.amount,
        status=row.status,
        posted_amount=row.posted_amount,
        transaction_id=row.transaction_id,
        expires_at=row.expires_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
        balance_account_id=row.balance_account_id,
    )


def holds_by_reference(conn: Connection, reference: str, *, lock: bool) -> list[HoldRecord]:
    """A reference's holds by level; ``lock`` takes their row locks (never the books')."""
    rows = (_LOCKED_HOLDS if lock else _HOLDS).rows(conn, {"reference": reference})
    return [hold_record(row) for row in rows]


def _together(rows: int, books: Sequence[BookState], conn: Connection) -> bool:
    """Whether holds and books are written in one statement (PostgreSQL, within limits)."""
    return bool(books) and conn.dialect.name == "postgresql" and 0 < rows <= MOST_ROWS >= len(books)


def _inserting(rows: int, books: int) -> Prepared:
    """PostgreSQL: ``rows`` new holds (in their order) and ``books`` books' new state."""
    key = ("insert", rows, books)
    found = _WITH_BOOKS.get(key)
    if found is None:
        given = value_rows("new", holds, _NEW, rows, prefix="hold_", ordinal=True)
        statement = (
            insert(holds)
            .from_select(list(_NEW), select(*(given.c[n] for n in _NEW)).order_by(given.c.n))
            .add_cte(books_written(books))
        )
        found = _WITH_BOOKS[key] = Prepared(statement)
    return found


def _updating(names: tuple[str, ...], rows: int, books: int) -> Prepared:
    """PostgreSQL: ``rows`` distinct holds' ``names`` changed and ``books`` books' state."""
    key = ("update", names, rows, books)
    found = _WITH_BOOKS.get(key)
    if found is None:
        given = value_rows(
            "change", holds, ("hold_id", *names), rows, prefix="hold_", column_of={"hold_id": "id"}
        )
        statement = (
            update(holds)
            .where(holds.c.id == given.c.hold_id)
            .values({n: given.c[n] for n in names})
            .add_cte(books_written(books))
        )
        found = _WITH_BOOKS[key] = Prepared(statement)
    return found


def insert_holds(
    conn: Connection, rows: Sequence[NewHold], *, books: Sequence[BookState] = ()
) -> None:
    """New holds; every row has the same keys (those of ``_NEW``). ``books``: the locked
    books whose reservations changed with them, written too — in one statement on
    PostgreSQL (else two)."""
    if _together(len(rows), books, conn):
        params = rows_params(rows, _NEW, "hold_") | books_params(books)
        _inserting(len(rows), len(books)).run(conn, params)
        return
    store_books(conn, books)
    _INSERT.run_many(conn, rows)


def update_holds(
    conn: Connection, changes: Sequence[HoldUpdate], *, books: Sequence[BookState] = ()
) -> None:
    """Change holds (locked): each row is ``{"hold_id": …}`` and the same columns.
    ``books``: the locked books whose reservations changed with them, written too — in
    one statement on PostgreSQL (else two)."""
    names = tuple(sorted(set(changes[0]) - {"hold_id"})) if changes else ()
    distinct = len({c["hold_id"] for c in changes}) == len(changes)
    if distinct and _together(len(changes), books, conn):
        params = rows_params(changes, ("hold_id", *names), "hold_") | books_params(books)
        _updating(names, len(changes), len(books)).run(conn, params)
        return
    store_books(conn, books)
    if not changes:
        return
    statement = _UPDATES.get(names)
    if statement is None:
        statement = _UPDATES[names] = RowsUpdate(holds, "id", "hold_id", names)
    statement.run(conn, changes)


def claim_expired_holds(conn: Connection, now: datetime, limit: int) -> list[HoldRecord]:
    """Open holds past their expiry, locked; rows another node holds are skipped."""
    return [
        hold_record(row)
        for row in conn.execute(
            _holds_query()
            .where(holds.c.status == "open", holds.c.expires_at <= now)
            .order_by(holds.c.id)
            .limit(limit)
            .with_for_update(of=holds, skip_locked=True)
        )
    ]


def claim_open_holds(conn: Connection, references: Sequence[str]) -> list[HoldRecord]:
    """The other open levels of these references, locked (skipping those already held)."""
    return [
        hold_record(row)
        for row in conn.execute(
            _holds_query()
            .where(holds.c.status == "open", holds.c.reference.in_(sorted(set(references))))
            .order_by(holds.c.id)
            .with_for_update(of=holds, skip_locked=True)
        )
    ]


def open_holds_under(conn: Connection, path: str) -> int:
    """How many open holds accounts of the subtree at ``path`` (the account included) have:
    calls in progress there."""
    query = (
        select(func.count())
        .select_from(holds.join(accounts, accounts.c.id == holds.c.account_id))
        .where(holds.c.status == "open", accounts.c.path.startswith(path, autoescape=True))
    )
    return int(conn.execute(query).scalar_one())


class SqlHoldRepository:
    """:class:`~voxbill.services.ports.ledger.HoldRepository` over one transaction's
    connection."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def holds_by_reference(self, reference: str, *, lock: bool) -> list[HoldRecord]:
        return holds_by_reference(self._conn, reference, lock=lock)

    def insert_holds(self, rows: Sequence[NewHold], *, books: Sequence[BookState] = ()) -> None:
        insert_holds(self._conn, rows, books=books)

    def update_holds(
        self, changes: Sequence[HoldUpdate], *, books: Sequence[BookState] = ()
    ) -> None:
        update_holds(self._conn, changes, books=books)

    def claim_expired_holds(self, now: datetime, limit: int) -> list[HoldRecord]:
        return claim_expired_holds(self._conn, now, limit)

    def claim_open_holds(self, references: Sequence[str]) -> list[HoldRecord]:
        return claim_open_holds(self._conn, references)

    def open_holds_under(self, path: str) -> int:
        return open_holds_under(self._conn, path)
