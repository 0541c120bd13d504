"""A rolled back transaction or savepoint (a refused call, a failed step of a batch) rolls
back, and on PostgreSQL leaves the connection's prepared statements in place: psycopg's
own rollback forgets them all, and every hot statement was then planned anew."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, bindparam, func, select, text

from support.ledger_books import insert_book
from voxbill.storage.database import Database, make_engine
from voxbill.storage.migrate import upgrade
from voxbill.storage.prepared import Prepared, run_script
from voxbill.storage.schema.ledger import ledger_books

_KEY = Prepared(select(ledger_books.c.id).where(ledger_books.c.key == bindparam("key")))


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """One pooled connection, so that every transaction runs on the same one."""
    engine = make_engine(database_url, pool_size=1, max_overflow=0)
    try:
        upgrade(engine)
        yield Database(engine)
    finally:
        engine.dispose()


def _prepared_here(conn: Connection) -> set[str]:
    if conn.dialect.name != "postgresql":
        return set()
    rows = conn.execute(text("SELECT statement FROM pg_prepared_statements")).all()
    return {statement for (statement,) in rows}


def _books(db: Database) -> int:
    with db.transaction(readonly=True) as conn:
        return int(conn.execute(select(func.count()).select_from(ledger_books)).scalar_one())


def test_rollbacks_keep_the_prepared_statements(db: Database) -> None:
    with db.transaction() as conn:
        for _ in range(6):  # prepared by psycopg from the sixth run
            _KEY.rows(conn, {"key": "none"})
        before = _prepared_here(conn)
    assert db.dialect != "postgresql" or any("ledger_books.key" in s for s in before)

    def refused() -> None:
        with db.transaction() as conn:
            insert_book(conn, "refused")
            _KEY.rows(conn, {"key": "refused"})
            raise RuntimeError("the call is refused: its transaction rolls back")

    with pytest.raises(RuntimeError):
        refused()
    with db.transaction() as conn:  # a failed step of a batch, as group commit runs it
        run_script(conn, ["SAVEPOINT step"])
        insert_book(conn, "failed step")
        run_script(conn, ["ROLLBACK TO SAVEPOINT step", "RELEASE SAVEPOINT step"])
        insert_book(conn, "kept")
        assert [r.id for r in _KEY.rows(conn, {"key": "failed step"})] == []
        after = _prepared_here(conn)
    assert after == before
    assert _books(db) == 1
