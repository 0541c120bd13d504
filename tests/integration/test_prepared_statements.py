"""The prepared-statement layer stores and reads what SQLAlchemy Core does, byte for byte,
in the caller's transaction, and surfaces errors as Core does (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import bindparam, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from voxbill.bootstrap import Container
from voxbill.domain.errors import InvalidMoney
from voxbill.storage import prepared
from voxbill.storage.prepared import Prepared, RowsUpdate, among
from voxbill.storage.schema.ledger import ledger_books

AT = datetime(2026, 3, 2, 12, 0, 0, 123456, tzinfo=UTC)
_COLUMNS = ("key", "account_id", "purpose", "currency", "maintained", "balance", "reserved")
_INSERT = Prepared(
    insert(ledger_books)
    .values({n: bindparam(n, type_=ledger_books.c[n].type) for n in (*_COLUMNS, "created_at")})
    .returning(ledger_books.c.id)
)
_BY_KEYS = Prepared(
    lambda d: select(ledger_books).where(among(ledger_books.c.key, "keys", d)).order_by("id")
)
_SYSTEM = Prepared(
    select(ledger_books.c.key).where(ledger_books.c.purpose == "test").order_by("key")
)


def _book(key: str, balance: str) -> dict[str, Any]:
    return {
        "key": key,
        "account_id": None,
        "purpose": "test",
        "currency": "USD",
        "maintained": False,
        "balance": Decimal(balance),
        "reserved": Decimal("0.00000001"),
        "created_at": AT,
    }


def _raw(container: Container, key: str) -> Any:
    with container.db.transaction() as conn:
        query = "SELECT balance, reserved, created_at, maintained FROM ledger_books WHERE key = :k"
        return conn.execute(text(query), {"k": key}).one()


def test_values_are_stored_as_core_stores_them(container: Container) -> None:
    with container.db.transaction() as conn:
        _INSERT.scalar(conn, _book("prepared", "12.34567891"))
        conn.execute(insert(ledger_books).values(_book("core", "12.34567891")))
    assert tuple(_raw(container, "prepared")) == tuple(_raw(container, "core"))


def test_rows_read_as_core_reads_them(container: Container) -> None:
    with container.db.transaction() as conn:
        _INSERT.run_many(conn, [_book("a", "1.5"), _book("b", "-0.00000002")])
    with container.db.transaction(readonly=True) as conn:
        for length in (1, 2, 1):  # one variant per list length on SQLite, reused
            keys = ["a", "b"][:length]
            ours = _BY_KEYS.rows(conn, {"keys": keys})
            core = conn.execute(
                select(ledger_books).where(ledger_books.c.key.in_(keys)).order_by("id")
            ).all()
            assert [tuple(r) for r in ours] == [tuple(r) for r in core]
            assert [r._fields for r in ours][:1] == [tuple(core[0]._fields)]
        assert ours[0].balance == Decimal("1.5")
        assert ours[0].created_at == AT
        assert [r.key for r in _SYSTEM.rows(conn)] == ["a", "b"]  # a literal bound once


def _insert_then_fail(container: Container) -> None:
    with container.db.transaction() as conn:
        _INSERT.run(conn, _book("gone", "1"))
        core = conn.execute(select(ledger_books.c.key).where(ledger_books.c.key == "gone"))
        assert core.scalar() == "gone"  # Core sees it: one transaction
        raise RuntimeError


def test_same_transaction_and_rollback(container: Container) -> None:
    with pytest.raises(RuntimeError):
        _insert_then_fail(container)
    with container.db.transaction(readonly=True) as conn:
        assert _BY_KEYS.rows(conn, {"keys": ["gone"]}) == []


def test_integrity_error_is_sqlalchemys(container: Container) -> None:
    with container.db.transaction() as conn:
        _INSERT.run(conn, _book("twice", "1"))
    with pytest.raises(IntegrityError), container.db.transaction() as conn:
        _INSERT.run(conn, _book("twice", "1"))


def test_a_refused_amount_raises_the_voxbill_error(container: Container) -> None:
    with pytest.raises(InvalidMoney), container.db.transaction() as conn:
        _INSERT.run(conn, _book("tiny", "0.000000001"))


def test_executions_are_counted(container: Container) -> None:
    before = prepared.executions.value
    with container.db.transaction() as conn:
        _INSERT.run_many(conn, [_book("x", "1"), _book("y", "2")])
        _INSERT.run_many(conn, [])
    assert prepared.executions.value == before + 1


_STORE = Prepared(
    update(ledger_books)
    .where(ledger_books.c.key == bindparam("book_key"))
    .values(balance=bindparam("balance", type_=ledger_books.c.balance.type))
)


def _all_raw(container: Container, keys: list[str]) -> list[tuple[Any, ...]]:
    return [tuple(_raw(container, key)) for key in keys]


def test_several_rows_are_stored_as_core_stores_them(container: Container) -> None:
    """Several rows at once (one multi-row VALUES insert on PostgreSQL, one variant per
    row count): the same bytes as Core's, ids in the order of the rows."""
    counts = (3, 2, 3, 1)  # variants reused
    with container.db.transaction() as conn:
        for batch, count in enumerate(counts):
            ours = [_book(f"m{batch}-{i}", f"{i}.0000001") for i in range(count)]
            _INSERT.run_many(conn, ours)
            for i in range(count):
                conn.execute(insert(ledger_books).values(_book(f"c{batch}-{i}", f"{i}.0000001")))
    for batch, count in enumerate(counts):
        ours_keys = [f"m{batch}-{i}" for i in range(count)]
        core_keys = [f"c{batch}-{i}" for i in range(count)]
        assert _all_raw(container, ours_keys) == _all_raw(container, core_keys)
    with container.db.transaction(readonly=True) as conn:
        keys = [f"m{b}-{i}" for b, count in enumerate(counts) for i in range(count)]
        rows = _BY_KEYS.rows(conn, {"keys": keys})
        assert [r.key for r in rows] == keys  # ordered by id: inserted in the rows' order


def test_several_rows_are_updated(container: Container) -> None:
    with container.db.transaction() as conn:
        _INSERT.run_many(conn, [_book(k, "1") for k in ("u1", "u2", "u3")])
    for count in (2, 3, 1):
        changes = [
            {"book_key": f"u{i + 1}", "balance": Decimal(f"{count}.{i}")} for i in range(count)
        ]
        with container.db.transaction() as conn:
            _STORE.run_many(conn, changes)
        with container.db.transaction(readonly=True) as conn:
            rows = _BY_KEYS.rows(conn, {"keys": [c["book_key"] for c in changes]})
        assert [r.balance for r in rows] == [c["balance"] for c in changes]


def test_errors_of_several_rows_are_sqlalchemys(container: Container) -> None:
    with pytest.raises(IntegrityError), container.db.transaction() as conn:
        _INSERT.run_many(conn, [_book("dup", "1"), _book("dup", "2")])
    with pytest.raises(InvalidMoney), container.db.transaction() as conn:
        _INSERT.run_many(conn, [_book("fine", "1"), _book("tiny", "0.000000001")])
    with container.db.transaction(readonly=True) as conn:
        assert _BY_KEYS.rows(conn, {"keys": ["dup", "fine", "tiny"]}) == []


def test_the_cursor_survives_an_error_inside_a_savepoint(container: Container) -> None:
    """One cursor per connection: after an IntegrityError rolled back to a savepoint (as
    group commit does), the same transaction goes on through it."""
    with container.db.transaction() as conn:
        _INSERT.run(conn, _book("kept", "1"))
        conn.exec_driver_sql("SAVEPOINT step")
        with pytest.raises(IntegrityError):
            _INSERT.run(conn, _book("kept", "2"))
        conn.exec_driver_sql("ROLLBACK TO SAVEPOINT step")
        conn.exec_driver_sql("RELEASE SAVEPOINT step")
        _INSERT.run(conn, _book("after", "3"))
        assert [r.key for r in _BY_KEYS.rows(conn, {"keys": ["kept", "after"]})] == [
            "kept",
            "after",
        ]
    with container.db.transaction(readonly=True) as conn:
        assert [r.balance for r in _BY_KEYS.rows(conn, {"keys": ["kept", "after"]})] == [
            Decimal("1"),
            Decimal("3"),
        ]


def test_a_replaced_connection_gets_a_new_cursor(container: Container) -> None:
    with container.db.engine.connect() as conn:
        with conn.begin():
            _INSERT.run(conn, _book("first", "1"))
        replaced = conn.connection.driver_connection
        conn.invalidate()  # the pool closes this DBAPI connection; the next use opens one
        with conn.begin():
            _INSERT.run(conn, _book("second", "2"))
            assert conn.connection.driver_connection is not replaced
    with container.db.transaction(readonly=True) as conn:
        found = _BY_KEYS.rows(conn, {"keys": ["first", "second"]})
        assert [r.key for r in found] == ["first", "second"]


_STORE_ROWS = RowsUpdate(ledger_books, "key", "book_key", ("balance", "reserved"))


def test_rows_updated_together_as_core_updates_them(container: Container) -> None:
    """One ``UPDATE … FROM (VALUES …)`` per row count on PostgreSQL: each row gets its own
    values, stored as Core stores them; a refused amount raises the voxbill error."""
    keys = ["r1", "r2", "r3", "k1", "k2", "k3"]
    with container.db.transaction() as conn:
        _INSERT.run_many(conn, [_book(k, "1") for k in keys])
    for count in (3, 2, 3, 1):
        ours = [
            {"book_key": f"r{i + 1}", "balance": Decimal(f"{count}.{i}1"), "reserved": Decimal(i)}
            for i in range(count)
        ]
        with container.db.transaction() as conn:
            _STORE_ROWS.run(conn, ours)
            for row in ours:
                core = row | {"book_key": "k" + row["book_key"][1:]}
                conn.execute(
                    update(ledger_books)
                    .where(ledger_books.c.key == core["book_key"])
                    .values(balance=core["balance"], reserved=core["reserved"])
                )
        assert _all_raw(container, keys[:3]) == _all_raw(container, keys[3:])
    tiny = {"book_key": "r2", "balance": Decimal("0.000000001"), "reserved": Decimal(0)}
    refused = [{"book_key": "r1", "balance": Decimal(7), "reserved": Decimal(0)}, tiny]
    with pytest.raises(InvalidMoney), container.db.transaction() as conn:
        _STORE_ROWS.run(conn, refused)
    twice = [{"book_key": "r1", "balance": Decimal(n), "reserved": Decimal(0)} for n in (8, 9)]
    with container.db.transaction() as conn:
        _STORE_ROWS.run(conn, twice)  # the same row twice: in order, the last one stays
    with container.db.transaction(readonly=True) as conn:
        assert [r.balance for r in _BY_KEYS.rows(conn, {"keys": ["r1"]})] == [Decimal(9)]
