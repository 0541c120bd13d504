"""Every ledger transaction sums to zero per currency: PostgreSQL refuses the COMMIT of
one that does not (a deferred trigger, checked once per ledger transaction, migration
0011); SQLite has no such trigger and ``verify`` reports it. Entries are written here
with plain SQL, past the journal's own checks."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal as D
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Connection, func, insert, select, text

from support.ledger_accounts import open_account
from voxbill.bootstrap import Container
from voxbill.storage.database import make_engine
from voxbill.storage.migrate import alembic_config, current_revision, upgrade
from voxbill.storage.schema.ledger import ledger_books, ledger_entries, ledger_transactions

AT = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
Leg = tuple[int, int, str]  # (ledger transaction's index, book id, amount)


def _books(container: Container) -> tuple[int, int]:
    """Two EUR balance books, funded (so their books exist)."""
    ids = []
    for name in ("alice", "bob"):
        account = open_account(container.db, name=name)
        container.ledger.top_up(account, D("10"), actor="test")
        ids.append(account)
    with container.db.transaction() as conn:
        keys = [f"account:{a}" for a in ids]
        rows = conn.execute(select(ledger_books.c.key, ledger_books.c.id)).all()
        found = dict(rows)
    return found[keys[0]], found[keys[1]]


def _transactions(conn: Connection, count: int) -> list[int]:
    statement = insert(ledger_transactions).returning(ledger_transactions.c.id)
    row = {"kind": "adjustment", "actor": "test", "created_at": AT}
    return [conn.execute(statement, row).scalar_one() for _ in range(count)]


def _legs(conn: Connection, transactions: Sequence[int], legs: Sequence[Leg]) -> None:
    """One INSERT of every leg, in the given order."""
    rows: list[dict[str, Any]] = [
        {
            "transaction_id": transactions[index],
            "book_id": book,
            "amount": D(amount),
            "currency": "EUR",
            "created_at": AT,
        }
        for index, book, amount in legs
    ]
    conn.execute(insert(ledger_entries), rows)


def _unbalanced(container: Container) -> list[str]:
    """Ledger transactions ``verify`` finds unbalanced (entries written here by hand move
    no maintained balance: the books' own discrepancies are not the point)."""
    return [d.subject for d in container.ledger.verify() if d.kind == "transaction"]


def _refused_or_reported(container: Container, write: Any) -> None:
    """PostgreSQL refuses the COMMIT; SQLite commits and ``verify`` reports it."""
    if container.db.dialect == "postgresql":
        with pytest.raises(Exception, match="unbalanced"), container.db.transaction() as conn:
            write(conn)
        assert container.ledger.verify() == []
        return
    with container.db.transaction() as conn:
        write(conn)
    assert len(_unbalanced(container)) == 1


def test_an_unbalanced_transaction_of_several_entries_is_refused(container: Container) -> None:
    alice, bob = _books(container)

    def write(conn: Connection) -> None:
        tx = _transactions(conn, 1)
        _legs(conn, tx, [(0, alice, "-5"), (0, bob, "5"), (0, bob, "2"), (0, alice, "-1")])

    _refused_or_reported(container, write)


def test_one_unbalanced_transaction_among_balanced_ones_is_refused(
    container: Container,
) -> None:
    alice, bob = _books(container)

    def write(conn: Connection) -> None:
        tx = _transactions(conn, 3)
        _legs(conn, tx, [(0, alice, "-1"), (0, bob, "1"), (1, alice, "-2"), (1, bob, "2")])
        _legs(conn, tx, [(2, alice, "-3"), (2, bob, "3"), (1, bob, "0.5")])

    _refused_or_reported(container, write)


def test_balanced_transactions_interleaved_and_split_over_statements_commit(
    container: Container,
) -> None:
    alice, bob = _books(container)
    with container.db.transaction() as conn:
        tx = _transactions(conn, 2)
        _legs(conn, tx, [(0, alice, "-1"), (1, alice, "-2"), (0, bob, "1")])
        _legs(conn, tx, [(1, bob, "1.5")])
        _legs(conn, tx, [(1, bob, "0.5")])
    with container.db.transaction() as conn:
        count = conn.execute(
            select(func.count()).where(ledger_entries.c.transaction_id.in_(tx))
        ).scalar_one()
    assert count == 5
    assert _unbalanced(container) == []


def _postgres_only(container: Container) -> None:
    if container.db.dialect != "postgresql":
        pytest.skip("SET CONSTRAINTS and the trigger exist on PostgreSQL only")


def test_an_entry_added_after_an_early_check_is_checked_again(container: Container) -> None:
    _postgres_only(container)
    alice, bob = _books(container)

    def write(conn: Connection) -> None:
        tx = _transactions(conn, 1)
        _legs(conn, tx, [(0, alice, "-1"), (0, bob, "1")])
        conn.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))  # the check runs now: balanced
        conn.execute(text("SET CONSTRAINTS ALL DEFERRED"))
        _legs(conn, tx, [(0, bob, "7")])

    _refused_or_reported(container, write)


@pytest.mark.parametrize("end", ["ROLLBACK TO SAVEPOINT early", "RELEASE SAVEPOINT early"])
def test_a_check_run_inside_a_savepoint_does_not_cover_later_entries(
    container: Container, end: str
) -> None:
    _postgres_only(container)
    alice, bob = _books(container)

    def write(conn: Connection) -> None:
        tx = _transactions(conn, 1)
        _legs(conn, tx, [(0, alice, "-1"), (0, bob, "1")])
        conn.execute(text("SAVEPOINT early"))
        conn.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))
        conn.execute(text("SET CONSTRAINTS ALL DEFERRED"))
        conn.execute(text(end))
        _legs(conn, tx, [(0, bob, "7")])

    _refused_or_reported(container, write)


def test_entries_rolled_back_with_their_savepoint_leave_the_check_in_place(
    container: Container,
) -> None:
    _postgres_only(container)
    alice, bob = _books(container)

    def write(conn: Connection) -> None:
        tx = _transactions(conn, 1)
        conn.execute(text("SAVEPOINT step"))
        _legs(conn, tx, [(0, alice, "-1"), (0, bob, "1")])  # queues the check
        conn.execute(text("ROLLBACK TO SAVEPOINT step"))  # ... which goes with it
        _legs(conn, tx, [(0, bob, "7")])

    _refused_or_reported(container, write)


def test_the_check_runs_once_per_ledger_transaction(container: Container) -> None:
    _postgres_only(container)
    alice, bob = _books(container)
    with container.db.transaction() as conn:
        superuser = "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
        if not conn.execute(text(superuser)).scalar():
            pytest.skip("counting function calls (track_functions) needs a superuser")
        conn.execute(text("SET LOCAL track_functions = 'pl'"))
        tx = _transactions(conn, 2)
        _legs(conn, tx, [(0, alice, "-1"), (0, bob, "0.5"), (0, bob, "0.5")])
        _legs(conn, tx, [(1, alice, "-2"), (1, bob, "2")])
        conn.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))  # the deferred checks run now
        calls = conn.execute(
            text("SELECT pg_stat_get_xact_function_calls('ledger_check_zero_sum'::regproc)")
        ).scalar_one()
    assert calls == 2
    assert _unbalanced(container) == []


def _trigger_condition(conn: Connection) -> str | None:
    if conn.dialect.name != "postgresql":
        return None
    query = (
        "SELECT pg_get_triggerdef(oid) FROM pg_trigger"
        " WHERE tgname = 'ledger_entries_zero_sum' AND NOT tgisinternal"
    )
    return str(conn.execute(text(query)).scalar_one())


def test_the_migration_goes_down_to_the_check_per_entry_and_up_again(database_url: str) -> None:
    engine = make_engine(database_url)
    config = alembic_config()
    try:
        upgrade(engine, "0011")
        with engine.begin() as conn:
            assert "WHEN" in (_trigger_condition(conn) or "WHEN")
            config.attributes["connection"] = conn
            command.downgrade(config, "0010")
        with engine.begin() as conn:
            assert "WHEN" not in (_trigger_condition(conn) or "")
        upgrade(engine, "0011")
        assert current_revision(engine) == "0011"
        with engine.begin() as conn:
            assert "ledger_zero_sum_queue" in (_trigger_condition(conn) or "ledger_zero_sum_queue")
    finally:
        engine.dispose()
