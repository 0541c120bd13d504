"""A batch of ledger steps in one transaction (group commit), on SQLite and PostgreSQL: a
step that raises is rolled back to its savepoint alone, the others commit together; the
steps after the first kept one wait briefly for a lock (PostgreSQL); each step costs one
round trip of savepoint handling (two when it fails)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Connection, select, text

from support.ledger_books import insert_book
from voxbill.bootstrap import Container
from voxbill.storage import unit_of_work as sql_unit_of_work
from voxbill.storage.schema.ledger import ledger_books


def _lock_timeout(conn: Connection) -> str | None:
    if conn.dialect.name != "postgresql":
        return None
    return str(conn.execute(text("SHOW lock_timeout")).scalar_one())


@pytest.mark.parametrize("first_fails", [False, True])
def test_a_failed_step_alone_is_rolled_back_and_later_steps_wait_briefly(
    container: Container, monkeypatch: pytest.MonkeyPatch, first_fails: bool
) -> None:
    scripts: list[list[str]] = []
    real = sql_unit_of_work.run_script

    def counted(conn: Connection, statements: Any) -> None:
        scripts.append(list(statements))
        real(conn, statements)

    monkeypatch.setattr(sql_unit_of_work, "run_script", counted)
    plan = ["fails", "kept", "fails", "kept"] if first_fails else ["kept", "fails", "kept"]
    waits: list[str | None] = []
    with container.ledger.journal_batch() as batch:
        for index, outcome in enumerate(plan):
            try:
                with batch.step() as journal:
                    waits.append(_lock_timeout(journal.tx.conn))
                    insert_book(journal.tx.conn, f"{outcome}-{index}")
                    if outcome == "fails":
                        raise RuntimeError("refused")
            except RuntimeError:
                pass
    with container.db.transaction(readonly=True) as conn:
        keys = conn.execute(select(ledger_books.c.key).where(ledger_books.c.purpose == "test"))
        assert sorted(key for (key,) in keys) == sorted(
            f"kept-{i}" for i, outcome in enumerate(plan) if outcome == "kept"
        )
    assert len(scripts) == len(plan) + plan.count("fails")
    if container.db.dialect == "postgresql":
        first_kept = plan.index("kept")
        assert waits == ["5s"] * (first_kept + 1) + ["50ms"] * (len(plan) - first_kept - 1)
