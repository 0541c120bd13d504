"""SQL for holds. Hold rows are locked before balance rows (see ``ledger_repository``).

Sweepers claim expired holds with ``FOR UPDATE SKIP LOCKED`` so that several nodes
share the work without waiting on, or double-processing, each other's rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, insert, select, update

from voxbill.storage.schema.ledger import holds, ledger_books


def _holds_query() -> Select[Any]:
    return select(holds, ledger_books.c.account_id.label("balance_account_id")).join(
        ledger_books, ledger_books.c.id == holds.c.book_id
    )


def holds_by_reference(conn: Connection, reference: str, *, lock: bool) -> list[Any]:
    """A reference's holds by level; ``lock`` takes their row locks (never the books')."""
    query = _holds_query().where(holds.c.reference == reference).order_by(holds.c.id)
    if lock:
        query = query.with_for_update(of=holds)
    return list(conn.execute(query).all())


def insert_hold(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(holds).values(values))


def update_hold(conn: Connection, hold_id: int, **values: Any) -> None:
    conn.execute(update(holds).where(holds.c.id == hold_id).values(**values))


def claim_expired_holds(conn: Connection, now: datetime, limit: int) -> list[Any]:
    """Open holds past their expiry, locked; rows another node holds are skipped."""
    return list(
        conn.execute(
            _holds_query()
            .where(holds.c.status == "open", holds.c.expires_at <= now)
            .order_by(holds.c.id)
            .limit(limit)
            .with_for_update(of=holds, skip_locked=True)
        ).all()
    )


def claim_open_holds(conn: Connection, references: Sequence[str]) -> list[Any]:
    """The other open levels of these references, locked (skipping those already held)."""
    return list(
        conn.execute(
            _holds_query()
            .where(holds.c.status == "open", holds.c.reference.in_(sorted(set(references))))
            .order_by(holds.c.id)
            .with_for_update(of=holds, skip_locked=True)
        ).all()
    )
