"""SQL for charging sessions and open-call counters, on the caller's transaction:
:class:`SqlSessionRepository`, and the functions it runs (on a connection).

A session row's JSON columns (levels, counted accounts, the vendor's frozen tariff) are
decoded here, once per read, into a :class:`~voxbill.domain.sessions.ChargingSession`.

Lock order (the system's, extended): a session row, then its hold rows, then balance
rows (ascending), then counter rows (ascending). Sweepers claim expired sessions with
``FOR UPDATE SKIP LOCKED`` so that several nodes share the work without doubling it.
"""

from __future__ import annotations

import json
from collections import namedtuple
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    bindparam,
    func,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from voxbill.domain.accounts import Account
from voxbill.domain.charging import SessionStatus
from voxbill.domain.fraud import SpendKey
from voxbill.domain.sessions import ChargingSession, SessionLevel
from voxbill.services.ports.charging import SessionChange
from voxbill.storage.accounts import repository as account_repository
from voxbill.storage.ledger.books import account_book_key
from voxbill.storage.ledger.holds import holds_by_reference
from voxbill.storage.prepared import Prepared, among
from voxbill.storage.schema.accounts import accounts
from voxbill.storage.schema.charging import call_counters, charging_sessions
from voxbill.storage.schema.ledger import holds, ledger_books


def _accounts_among(share: bool) -> Prepared:
    def build(dialect: str) -> Any:
        query = select(accounts).where(among(accounts.c.id, "ids", dialect))
        return query.order_by(accounts.c.id).with_for_update(read=True) if share else query

    return Prepared(build)


_ACCOUNTS = {False: _accounts_among(False), True: _accounts_among(True)}


def chain(
    conn: Connection, account_id: int, *, ancestors: Sequence[int] = (), share: bool = False
) -> list[Account]:
    """The account and its ancestors, caller first and the root last ([] if unknown).

    ``ancestors`` (ids from a recent read, e.g. a cached chain) fetches the whole chain in
    one query; it is only a guess: if the fresh path disagrees, the chain is read again.
    ``share``: the rows are locked FOR SHARE (PostgreSQL; SQLite has one writer), so no
    status, limit or move of the chain commits before the caller's transaction does.
    """
    read = _ACCOUNTS[share and conn.dialect.name == "postgresql"]
    if ancestors:
        rows = read.rows(conn, {"ids": [account_id, *ancestors]})
        found = {row.id: account_repository.from_row(row) for row in rows}
        first = found.get(account_id)
        if first is not None and first.ancestor_ids == list(ancestors):
            return [first, *(found[i] for i in reversed(ancestors) if i in found)]
    first = account_repository.get(conn, account_id, for_share=share)
    if first is None:
        return []
    ids = first.ancestor_ids
    if not ids:
        return [first]
    by_id = {row.id: account_repository.from_row(row) for row in read.rows(conn, {"ids": ids})}
    return [first, *(by_id[i] for i in reversed(ids) if i in by_id)]


def _chain_unless_started(dialect: str) -> Any:
    started = select(charging_sessions.c.id).where(
        charging_sessions.c.session_id == bindparam("sid")
    )
    return (
        select(accounts, started.exists().label("started"))
        .where(among(accounts.c.id, "ids", dialect))
        .order_by(accounts.c.id)
        .with_for_update(read=True, of=accounts)
    )


_CHAIN_UNLESS_STARTED = Prepared(_chain_unless_started)


def chain_unless_started(
    conn: Connection, session_id: str, account_id: int, *, ancestors: Sequence[int]
) -> list[Account] | None:
    """A new call's chain, read and locked as ``chain(share=True)`` reads it; None if the
    session exists already (a start sent again). On PostgreSQL, with ``ancestors`` right,
    one statement asks both (a start sent again then also locks the chain's rows FOR
    SHARE, until its transaction ends); else the session is looked for first."""
    if ancestors and conn.dialect.name == "postgresql":
        params = {"ids": [account_id, *ancestors], "sid": session_id}
        rows = _CHAIN_UNLESS_STARTED.rows(conn, params)
        if rows:
            if rows[0].started:
                return None
            found = {row.id: account_repository.from_row(row) for row in rows}
            first = found.get(account_id)
            if first is not None and first.ancestor_ids == list(ancestors):
                return [first, *(found[i] for i in reversed(ancestors) if i in found)]
            return chain(conn, account_id, share=True)  # the guess was wrong
    if session(conn, session_id, lock=False) is not None:
        return None
    return chain(conn, account_id, ancestors=ancestors, share=True)


_SESSION = select(charging_sessions).where(charging_sessions.c.session_id == bindparam("sid"))
_SESSIONS = {False: Prepared(_SESSION), True: Prepared(_SESSION.with_for_update())}
_NEW_SESSION = (
    "session_id",
    "account_id",
    "caller",
    "callee",
    "interim",
    "status",
    "started_at",
    "cap",
    "max_duration",
    "granted_seconds",
    "used_seconds",
    "request_number",
    "levels",
    "counted",
    "vendor_id",
    "vendor_plan",
    "vendor_tariff",
    "expires_at",
    "created_at",
    "updated_at",
)
_INSERT_SESSION = Prepared(
    insert(charging_sessions).values(
        {n: bindparam(n, type_=charging_sessions.c[n].type) for n in _NEW_SESSION}
    )
)
_UPDATES: dict[tuple[str, ...], Prepared] = {}


def _level(stored: dict[str, Any]) -> SessionLevel:
    max_cost = stored.get("max_cost")
    return SessionLevel(
        account_id=stored["account_id"],
        plan=stored["plan"],
        rate=Decimal(stored["rate"]),
        currency=stored["currency"],
        max_cost=None if max_cost is None else Decimal(max_cost),
        tariff=stored.get("tariff"),
        seller_id=stored.get("seller_id"),
        spend=tuple(SpendKey(a, p, Decimal(c)) for a, p, c in stored.get("spend", ())),
    )


def _levels_json(levels: Sequence[SessionLevel]) -> str:
    return json.dumps(
        [
            {
                "account_id": lv.account_id,
                "plan": lv.plan,
                "rate": str(lv.rate),
                "currency": lv.currency,
                "max_cost": None if lv.max_cost is None else str(lv.max_cost),
                **({} if lv.tariff is None else {"tariff": lv.tariff}),
                "seller_id": lv.seller_id,
                **(
                    {"spend": [[k.account_id, k.period, str(k.cap)] for k in lv.spend]}
                    if lv.spend
                    else {}
                ),
            }
            for lv in levels
        ]
    )


def as_session(row: Any) -> ChargingSession:
    """A session row, its JSON columns decoded."""
    vendor_tariff = row.vendor_tariff
    return ChargingSession(
        session_id=row.session_id,
        account_id=row.account_id,
        caller=row.caller,
        callee=row.callee,
        interim=bool(row.interim),
        status=SessionStatus(row.status),
        started_at=row.started_at,
        cap=row.cap,
        max_duration=row.max_duration,
        granted_seconds=row.granted_seconds,
        used_seconds=row.used_seconds,
        request_number=row.request_number,
        levels=tuple(_level(lv) for lv in json.loads(row.levels)),
        counted=tuple(json.loads(row.counted)),
        expires_at=row.expires_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
        settled_at=row.settled_at,
        cdr_id=row.cdr_id,
        vendor_id=row.vendor_id,
        vendor_plan=row.vendor_plan,
        vendor_tariff=None if vendor_tariff is None else json.loads(vendor_tariff),
        sweep_attempts=row.sweep_attempts,
        sweep_error=row.sweep_error,
        reported_at=row.reported_at,
    )


def session(conn: Connection, session_id: str, *, lock: bool) -> ChargingSession | None:
    row = _SESSIONS[lock].first(conn, {"sid": session_id})
    return None if row is None else as_session(row)


def _row_type(fields: Sequence[str]) -> Any:
    """Rows with these attributes, as the prepared layer makes them."""
    return namedtuple("Row", fields)


_SESSION_ROW = _row_type([c.key for c in charging_sessions.columns])
_HOLD_ROW = _row_type([*(c.key for c in holds.columns), "balance_account_id"])
_SESSION_AND_HOLDS = Prepared(
    select(
        charging_sessions,
        *(c.label(f"hold_{c.key}") for c in holds.columns),
        ledger_books.c.account_id.label("hold_balance_account_id"),
    )
    .select_from(
        charging_sessions.join(holds, holds.c.reference == charging_sessions.c.session_id).join(
            ledger_books, ledger_books.c.id == holds.c.book_id
        )
    )
    .where(charging_sessions.c.session_id == bindparam("sid"))
    .order_by(holds.c.id)
    .with_for_update(of=[charging_sessions, holds])
)


def session_and_holds(
    conn: Connection, session_id: str
) -> tuple[ChargingSession | None, list[Any]]:
    """A session and its holds by level, every row locked in the system's order (the
    session's, then its holds'): one statement on PostgreSQL, for a session that has
    holds (else, and on SQLite, :func:`session` then ``holds_by_reference``, both locking).
    (None, []) for no such session."""
    if conn.dialect.name == "postgresql":
        rows = _SESSION_AND_HOLDS.rows(conn, {"sid": session_id})
        if rows:
            width = len(_SESSION_ROW._fields)
            both = as_session(_SESSION_ROW._make(tuple(rows[0])[:width]))
            return both, [_HOLD_ROW._make(tuple(row)[width:]) for row in rows]
    alone = session(conn, session_id, lock=True)
    if alone is None:
        return None, []
    return alone, holds_by_reference(conn, session_id, lock=True)


def insert_session(conn: Connection, new: ChargingSession) -> None:
    """A new session (its settlement and sweep columns at their defaults)."""
    _INSERT_SESSION.run(
        conn,
        {
            "session_id": new.session_id,
            "account_id": new.account_id,
            "caller": new.caller,
            "callee": new.callee,
            "interim": new.interim,
            "status": new.status.value,
            "started_at": new.started_at,
            "cap": new.cap,
            "max_duration": new.max_duration,
            "granted_seconds": new.granted_seconds,
            "used_seconds": new.used_seconds,
            "request_number": new.request_number,
            "levels": _levels_json(new.levels),
            "counted": json.dumps(list(new.counted)),
            "vendor_id": new.vendor_id,
            "vendor_plan": new.vendor_plan,
            "vendor_tariff": None if new.vendor_tariff is None else json.dumps(new.vendor_tariff),
            "expires_at": new.expires_at,
            "created_at": new.created_at,
            "updated_at": new.updated_at,
        },
    )


def update_session(conn: Connection, session_id: str, **values: SessionChange) -> None:
    """Set these columns of a session (``status``: a :class:`SessionStatus` value)."""
    names = tuple(sorted(values))
    statement = _UPDATES.get(names)
    if statement is None:
        statement = _UPDATES[names] = Prepared(
            update(charging_sessions)
            .where(charging_sessions.c.session_id == bindparam("sid"))
            .values({n: bindparam(n, type_=charging_sessions.c[n].type) for n in names})
        )
    statement.run(conn, values | {"sid": session_id})


_CLAIM_EXPIRED = Prepared(
    select(charging_sessions)
    .where(
        charging_sessions.c.status == "open",
        charging_sessions.c.expires_at
        <= bindparam("now", type_=charging_sessions.c.expires_at.type),
    )
    .order_by(charging_sessions.c.expires_at)
    .limit(1)
    .with_for_update(skip_locked=True)
)


def claim_expired(conn: Connection, now: datetime) -> ChargingSession | None:
    """One open session past its expiry, locked; sessions other nodes hold are skipped."""
    row = _CLAIM_EXPIRED.first(conn, {"now": now})
    return None if row is None else as_session(row)


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


def _new_counters(dialect: str) -> Any:
    insert_of = postgresql.insert if dialect == "postgresql" else sqlite.insert
    values: dict[str, Any] = {
        "account_id": bindparam("account_id"),
        "open_calls": literal_column("0"),
    }
    return insert_of(call_counters).values(values).on_conflict_do_nothing()


_NEW_COUNTERS = Prepared(_new_counters)
_COUNTS = select(call_counters.c.account_id, call_counters.c.open_calls)
_LOCK_COUNTERS = Prepared(
    lambda d: (
        _COUNTS.where(among(call_counters.c.account_id, "ids", d))
        .order_by(call_counters.c.account_id)
        .with_for_update()
    )
)
_OPEN_CALLS = Prepared(lambda d: _COUNTS.where(among(call_counters.c.account_id, "ids", d)))
_ADD_OPEN_CALLS = Prepared(
    lambda d: (
        update(call_counters)
        .where(among(call_counters.c.account_id, "ids", d))
        .values(open_calls=call_counters.c.open_calls + bindparam("delta", type_=Integer))
    )
)


def lock_counters(conn: Connection, account_ids: Iterable[int]) -> dict[int, int]:
    """Open calls per account, rows locked in ascending order (created at 0 if missing)."""
    ids = sorted(set(account_ids))
    if not ids:
        return {}
    _NEW_COUNTERS.run_many(conn, [{"account_id": i} for i in ids])
    rows = _LOCK_COUNTERS.rows(conn, {"ids": ids})
    return {row.account_id: row.open_calls for row in rows}


def add_open_calls(conn: Connection, account_ids: Iterable[int], delta: int) -> None:
    """Counters already locked (:func:`lock_counters`) change together, in one statement."""
    ids = sorted(set(account_ids))
    if ids:
        _ADD_OPEN_CALLS.run(conn, {"ids": ids, "delta": delta})


def open_calls(conn: Connection, account_ids: Iterable[int]) -> dict[int, int]:
    """Open calls per account, read without locks (authorize only)."""
    ids = sorted(set(account_ids))
    if not ids:
        return {}
    return {row.account_id: row.open_calls for row in _OPEN_CALLS.rows(conn, {"ids": ids})}


_BALANCES = Prepared(
    lambda d: select(ledger_books.c.key, ledger_books.c.balance, ledger_books.c.reserved).where(
        among(ledger_books.c.key, "keys", d)
    )
)


def balances(conn: Connection, owner_ids: Iterable[int]) -> dict[int, tuple[Decimal, Decimal]]:
    """(balance, reserved) of the balance books of these balance owners (account ids), in
    one unlocked query; an owner without a book yet is missing."""
    keys = {account_book_key(i): i for i in owner_ids}
    if not keys:
        return {}
    rows = _BALANCES.rows(conn, {"keys": sorted(keys)})
    return {keys[r.key]: (r.balance, r.reserved) for r in rows}


def open_sessions_under(conn: Connection, path: str) -> int:
    """How many calls are up now in the subtree at ``path``: its callers' open sessions
    (``ix_charging_sessions_open`` finds the open ones; accounts by primary key)."""
    query = (
        select(func.count())
        .select_from(
            charging_sessions.join(accounts, accounts.c.id == charging_sessions.c.account_id)
        )
        .where(
            charging_sessions.c.status == SessionStatus.OPEN.value,
            accounts.c.path.startswith(path, autoescape=True),
        )
    )
    return int(conn.execute(query).scalar_one())


class SqlSessionRepository:
    """SessionRepository over one transaction's connection."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def chain(
        self, account_id: int, *, ancestors: Sequence[int] = (), share: bool = False
    ) -> list[Account]:
        return chain(self._conn, account_id, ancestors=ancestors, share=share)

    def chain_unless_started(
        self, session_id: str, account_id: int, *, ancestors: Sequence[int]
    ) -> list[Account] | None:
        return chain_unless_started(self._conn, session_id, account_id, ancestors=ancestors)

    def session(self, session_id: str, *, lock: bool) -> ChargingSession | None:
        return session(self._conn, session_id, lock=lock)

    def session_and_holds(self, session_id: str) -> tuple[ChargingSession | None, list[Any]]:
        return session_and_holds(self._conn, session_id)

    def insert_session(self, new: ChargingSession) -> None:
        insert_session(self._conn, new)

    def update_session(self, session_id: str, **values: SessionChange) -> None:
        update_session(self._conn, session_id, **values)

    def claim_expired(self, now: datetime) -> ChargingSession | None:
        return claim_expired(self._conn, now)

    def orphan_holds(self, now: datetime, limit: int) -> list[Any]:
        return orphan_holds(self._conn, now, limit)

    def lock_counters(self, account_ids: Iterable[int]) -> dict[int, int]:
        return lock_counters(self._conn, account_ids)

    def add_open_calls(self, account_ids: Iterable[int], delta: int) -> None:
        add_open_calls(self._conn, account_ids, delta)

    def open_calls(self, account_ids: Iterable[int]) -> dict[int, int]:
        return open_calls(self._conn, account_ids)

    def balances(self, owner_ids: Iterable[int]) -> dict[int, tuple[Decimal, Decimal]]:
        return balances(self._conn, owner_ids)

    def open_sessions_under(self, path: str) -> int:
        return open_sessions_under(self._conn, path)
