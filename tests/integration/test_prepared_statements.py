"""The prepared-statement layer stores and reads what SQLAlchemy Core does, byte for byte,
in the caller's transaction, and surfaces errors as Core does (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import bindparam, insert, select, text
from sqlalchemy.exc import IntegrityError

from voxbill.bootstrap import Container
from voxbill.domain.errors import InvalidMoney
from voxbill.storage import prepared
from voxbill.storage.prepared import Prepared, among
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
