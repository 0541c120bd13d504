"""SQL for charging sessions and open-call counters, on the caller's transaction.

Lock order (the system's, extended): a session row, then its hold rows, then balance
rows (ascending), then counter rows (ascending). Sweepers claim expired sessions with
``FOR UPDATE SKIP LOCKED`` so that several nodes share the work without doubling it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from voxbill.domain.accounts import Account
from voxbill.storage import account_repository
from voxbill.storage.schema.accounts import accounts
from voxbill.storage.schema.charging import call_counters, charging_sessions
from voxbill.storage.schema.ledger import holds


def chain(
    conn: Connection, account_id: int, *, ancestors: Sequence[int] = (), share: bool = False
) -> list[Account]:
    """The account and its ancestors, caller first and the root last ([] if unknown).

    ``ancestors`` (ids from a recent read, e.g. a cached chain) fetches the whole chain in
    one query; it is only a guess: if the fresh path disagrees, the chain is read again.
    ``share``: the rows are locked FOR SHARE (PostgreSQL; SQLite has one writer), so no
    status, limit or move of the chain commits before the caller's transaction does.
    """

    def read(query: Select[Any]) -> Any:
        if share and conn.dialect.name == "postgresql":
            query = query.order_by(accounts.c.id).with_for_update(read=True)
        return conn.execute(query)

    if ancestors:
        wanted = select(accounts).where(accounts.c.id.in_([account_id, *ancestors]))
        found = {row.id: account_repository.from_row(row) for row in read(wanted)}
        first = found.get(account_id)
        if first is not None and first.ancestor_ids == list(ancestors):
            return [first, *(found[i] for i in reversed(ancestors) if i in found)]
    first = account_repository.get(conn, account_id, for_share=share)
    if first is None:
        return []
    ids = first.ancestor_ids
    if not ids:
        return [first]
    rows = read(select(accounts).where(accounts.c.id.in_(ids))).all()
    by_id = {row.id: account_repository.from_row(row) for row in rows}
    return [first, *(by_id[i] for i in reversed(ids) if i in by_id)]


def session(conn: Connection, session_id: str, *, lock: bool) -> Any | None:
    query = select(charging_sessions).where(charging_sessions.c.session_id == session_id)
    if lock:
        query = query.with_for_update()
    return conn.execute(query).first()


def insert_session(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(charging_sessions).values(values))


def update_session(conn: Connection, session_id: str, **values: Any) -> None:
    conn.execute(
        update(charging_sessions)
        .where(charging_sessions.c.session_id == session_id)
        .values(**values)
    )


def claim_expired(conn: Connection, now: datetime) -> Any | None:
    """One open session past its expiry, locked; sessions other nodes hold are skipped."""
    return conn.execute(
        select(charging_sessions)
        .where(charging_sessions.c.status == "open", charging_sessions.c.expires_at <= now)
        .order_by(charging_sessions.c.expires_at)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).first()


def orphan_holds(conn: Connection, now: datetime, limit: int) -> list[Any]:
    """Open expired holds that no charging session owns, locked (others' rows skipped):
    the backstop releases them; a session's holds are only ever settled by the session."""
    owned = select(charging_sessions.c.id).where(
        charging_sessions.c.session_id == holds.c.reference
    )
    return list(
        conn.execute(
            select(holds)
            .where(holds.c.status == "open", holds.c.expires_at <= now, ~owned.exists())
            .order_by(holds.c.id)
            .limit(limit)
            .with_for_update(of=holds, skip_locked=True)
        ).all()
    )


def lock_counters(conn: Connection, account_ids: Iterable[int]) -> dict[int, int]:
    """Open calls per account, rows locked in ascending order (created at 0 if missing)."""
    ids = sorted(set(account_ids))
    if not ids:
        return {}
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(
        dialect.insert(call_counters)
        .values([{"account_id": i, "open_calls": 0} for i in ids])
        .on_conflict_do_nothing()
    )
    rows = conn.execute(
        select(call_counters.c.account_id, call_counters.c.open_calls)
        .where(call_counters.c.account_id.in_(ids))
        .order_by(call_counters.c.account_id)
        .with_for_update()
    ).all()
    return {row.account_id: row.open_calls for row in rows}


def add_open_calls(conn: Connection, account_ids: Iterable[int], delta: int) -> None:
    for account_id in sorted(set(account_ids)):
        conn.execute(
            update(call_counters)
            .where(call_counters.c.account_id == account_id)
            .values(open_calls=call_counters.c.open_calls + delta)
        )


def open_calls(conn: Connection, account_ids: Iterable[int]) -> dict[int, int]:
    """Open calls per account, read without locks (authorize only)."""
    ids = sorted(set(account_ids))
    if not ids:
        return {}
    rows = conn.execute(
        select(call_counters.c.account_id, call_counters.c.open_calls).where(
            call_counters.c.account_id.in_(ids)
        )
    ).all()
    return {row.account_id: row.open_calls for row in rows}
