"""SQL for CDRs and their legs: written when a session settles, corrected at most once by
a stop arriving after the sweeper settled, then only read (:class:`SqlCdrRepository`,
and the functions it runs on a connection). Reads answer
:class:`~voxbill.domain.cdrs.Cdr` values, amounts without the storage's padding."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Connection,
    Table,
    bindparam,
    insert,
    select,
    true,
    update,
)

from voxbill.domain.accounts import AccountKind
from voxbill.domain.cdrs import Cdr, CdrLeg
from voxbill.domain.charging import SessionStatus
from voxbill.domain.dashboard import Margin, RolledCdr, Rollup, TrafficPoint
from voxbill.storage.charging import rollups
from voxbill.storage.charging.sessions import update_session
from voxbill.storage.prepared import MOST_ROWS, Prepared, rows_params, value_rows
from voxbill.storage.schema.charging import cdr_legs, cdrs, charging_sessions


def _insert(table: Table, *, returning: bool) -> Prepared:
    names = [c.name for c in table.columns if c.name != "id"]
    statement = insert(table).values({n: bindparam(n, type_=table.c[n].type) for n in names})
    return Prepared(statement.returning(table.c.id) if returning else statement)


_INSERT_CDR = _insert(cdrs, returning=True)
_INSERT_LEGS = _insert(cdr_legs, returning=False)
_BY_SESSION = Prepared(select(cdrs).where(cdrs.c.session_id == bindparam("sid")))
_LEG = tuple(c.name for c in cdr_legs.columns if c.name not in ("id", "cdr_id"))
_SETTLES: dict[tuple[int, tuple[str, ...]], Prepared] = {}


def _settle(legs: int, changes: tuple[str, ...]) -> Prepared:
    """PostgreSQL: a CDR, its ``legs`` legs (inserted in their order) and the settled
    state of its session (``changes`` and the new ``cdr_id``), in one statement."""
    found = _SETTLES.get((legs, changes))
    if found is not None:
        return found
    names = [c.name for c in cdrs.columns if c.name != "id"]
    new = (
        insert(cdrs)
        .values({n: bindparam(n, type_=cdrs.c[n].type) for n in names})
        .returning(cdrs.c.id)
        .cte("new")
    )
    given = value_rows("leg", cdr_legs, _LEG, legs, prefix="leg_", ordinal=True)
    written = insert(cdr_legs).from_select(
        ["cdr_id", *_LEG],
        select(new.c.id, *(given.c[n] for n in _LEG))
        .select_from(new)
        .join(given, true())
        .order_by(given.c.n),
    )
    columns = charging_sessions.c
    settled = (
        update(charging_sessions)
        .where(columns.session_id == bindparam("settles_session_id"))
        .values(
            {n: bindparam(f"settles_{n}", type_=columns[n].type) for n in changes}
            | {"cdr_id": select(new.c.id).scalar_subquery()}
        )
    )
    query = select(new.c.id).add_cte(written.cte("legs"), settled.cte("settled"))
    found = _SETTLES[(legs, changes)] = Prepared(query)
    return found


def insert_cdr(
    conn: Connection,
    values: dict[str, Any],
    legs: Sequence[dict[str, Any]],
    *,
    settles: tuple[str, dict[str, Any]] | None = None,
) -> int:
    """A CDR and its legs; its id. ``values`` and each leg give every column but the ids
    (a leg's ``cdr_id`` is set here). ``settles``: (session id, column values) of the
    charging session the CDR settles, set with its ``cdr_id``. One statement on
    PostgreSQL (two or three elsewhere)."""
    if conn.dialect.name == "postgresql" and settles and 0 < len(legs) <= MOST_ROWS:
        session_id, changes = settles
        names = tuple(sorted(changes))
        params = values | rows_params(legs, _LEG, "leg_")
        params |= {f"settles_{n}": changes[n] for n in names}
        params["settles_session_id"] = session_id
        return int(_settle(len(legs), names).scalar(conn, params))
    cdr_id = int(_INSERT_CDR.scalar(conn, values))
    _INSERT_LEGS.run_many(conn, [leg | {"cdr_id": cdr_id} for leg in legs])
    if settles is not None:
        session_id, changes = settles
        update_session(conn, session_id, **changes, cdr_id=cdr_id)
    return cdr_id


def _cdr_values(cdr: Cdr, path: str) -> dict[str, Any]:
    return {
        "session_id": cdr.session_id,
        "account_id": cdr.account_id,
        "path": path,
        "caller": cdr.caller,
        "callee": cdr.callee,
        "started_at": cdr.started_at,
        "duration": cdr.duration,
        "billed_seconds": cdr.billed_seconds,
        "cost": cdr.cost,
        "currency": cdr.currency,
        "rate": cdr.rate,
        "prefix": cdr.prefix,
        "destination": cdr.destination,
        "overrun": cdr.overrun,
        "settled_by": cdr.settled_by,
        "created_at": cdr.created_at,
        "vendor_id": cdr.vendor_id,
        "vendor_cost": cdr.vendor_cost,
        "vendor_currency": cdr.vendor_currency,
        "margin": cdr.margin,
        "settled_reason": cdr.settled_reason,
        "corrected_at": cdr.corrected_at,
        "swept_duration": cdr.swept_duration,
        "swept_cost": cdr.swept_cost,
        "swept_vendor_cost": cdr.swept_vendor_cost,
    }


def _legs_values(cdr: Cdr) -> list[dict[str, Any]]:
    return [
        {
            "level": leg.level,
            "account_id": leg.account_id,
            "plan": leg.plan,
            "prefix": leg.prefix,
            "destination": leg.destination,
            "rate": leg.rate,
            "billed_seconds": leg.billed_seconds,
            "cost": leg.cost,
            "currency": leg.currency,
            "margin": leg.margin,
            "side": leg.side,
            "swept_cost": leg.swept_cost,
        }
        for leg in cdr.legs
    ]


def _norm(amount: Decimal) -> Decimal:
    """Without the storage's padding: the same value on SQLite and PostgreSQL."""
    return amount.normalize() + 0


def _norm_or_none(amount: Decimal | None) -> Decimal | None:
    return None if amount is None else _norm(amount)


def _leg(row: Any) -> CdrLeg:
    return CdrLeg(
        level=row.level,
        account_id=row.account_id,
        plan=row.plan,
        prefix=row.prefix,
        destination=row.destination,
        rate=_norm(row.rate),
        billed_seconds=row.billed_seconds,
        cost=_norm(row.cost),
        currency=row.currency,
        margin=_norm_or_none(row.margin),
        side=row.side,
        swept_cost=_norm_or_none(row.swept_cost),
    )


def _cdr(row: Any, legs: Sequence[CdrLeg]) -> Cdr:
    return Cdr(
        id=row.id,
        session_id=row.session_id,
        account_id=row.account_id,
        caller=row.caller,
        callee=row.callee,
        started_at=row.started_at,
        duration=row.duration,
        billed_seconds=row.billed_seconds,
        rate=_norm(row.rate),
        cost=_norm(row.cost),
        currency=row.currency,
        prefix=row.prefix,
        destination=row.destination,
        overrun=bool(row.overrun),
        settled_by=row.settled_by,
        created_at=row.created_at,
        legs=tuple(legs),
        vendor_id=row.vendor_id,
        vendor_cost=_norm_or_none(row.vendor_cost),
        vendor_currency=row.vendor_currency,
        margin=_norm_or_none(row.margin),
        settled_reason=row.settled_reason,
        corrected_at=row.corrected_at,
        swept_duration=row.swept_duration,
        swept_cost=_norm_or_none(row.swept_cost),
        swept_vendor_cost=_norm_or_none(row.swept_vendor_cost),
    )


def by_session(conn: Connection, session_id: str) -> Cdr | None:
    """The CDR of a session, without its legs (``legs`` empty)."""
    row = _BY_SESSION.first(conn, {"sid": session_id})
    return None if row is None else _cdr(row, ())


_CORRECTED = (
    "duration",
    "billed_seconds",
    "rate",
    "cost",
    "overrun",
    "vendor_cost",
    "margin",
    "corrected_at",
    "swept_duration",
    "swept_cost",
    "swept_vendor_cost",
)
_CORRECTED_LEG = ("rate", "billed_seconds", "cost", "margin", "swept_cost")


def correct(conn: Connection, cdr: Cdr) -> None:
    """Write a late stop's correction of CDR ``cdr.id`` (and of its legs, by level and
    side): the corrected values and the sweeper's. Only once: a CDR corrected already
    is left as it is. (Rare: plain statements, not prepared ones.)"""
    values = _cdr_values(cdr, "")
    changed = conn.execute(
        update(cdrs)
        .where(cdrs.c.id == cdr.id, cdrs.c.corrected_at.is_(None))
        .values({n: values[n] for n in _CORRECTED})
    )
    if changed.rowcount == 0:
        return
    legs = cdr_legs.c
    for leg in _legs_values(cdr):
        conn.execute(
            update(cdr_legs)
            .where(legs.cdr_id == cdr.id, legs.level == leg["level"], legs.side == leg["side"])
            .values({n: leg[n] for n in _CORRECTED_LEG})
        )


def legs_of(conn: Connection, cdr_ids: Sequence[int]) -> dict[int, list[CdrLeg]]:
    found: dict[int, list[CdrLeg]] = {i: [] for i in cdr_ids}
    if not cdr_ids:
        return found
    rows = conn.execute(
        select(cdr_legs)
        .where(cdr_legs.c.cdr_id.in_(list(cdr_ids)))
        .order_by(cdr_legs.c.cdr_id, cdr_legs.c.level)
    ).all()
    for row in rows:
        found[row.cdr_id].append(_leg(row))
    return found


def page(
    conn: Connection,
    *,
    path: str,
    started_from: datetime | None,
    started_to: datetime | None,
    number: str | None,
    before_id: int | None,
    limit: int,
) -> list[Cdr]:
    """CDRs of a subtree with their legs, newest first, ``limit`` of them below
    ``before_id`` (two queries)."""
    query = select(cdrs).where(rollups.in_subtree(conn, path))
    if started_from is not None:
        query = query.where(cdrs.c.started_at >= started_from)
    if started_to is not None:
        query = query.where(cdrs.c.started_at < started_to)
    if number:
        query = query.where((cdrs.c.callee.like(f"{number}%")) | (cdrs.c.caller == number))
    if before_id is not None:
        query = query.where(cdrs.c.id < before_id)
    rows = conn.execute(query.order_by(cdrs.c.id.desc()).limit(limit)).all()
    legs = legs_of(conn, [r.id for r in rows])
    return [_cdr(r, legs[r.id]) for r in rows]


class SqlCdrRepository:
    """CdrRepository over one transaction's connection."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def insert_cdr(self, cdr: Cdr, *, path: str, settles: bool = False) -> int:
        changes = None
        if settles:
            settled: dict[str, Any] = {
                "status": SessionStatus.SETTLED.value,
                "settled_at": cdr.created_at,
                "updated_at": cdr.created_at,
            }
            if cdr.settled_by != "sweeper":  # the sweeper keeps the last reported usage
                settled["used_seconds"] = cdr.duration
            changes = (cdr.session_id, settled)
        return insert_cdr(self._conn, _cdr_values(cdr, path), _legs_values(cdr), settles=changes)

    def by_session(self, session_id: str) -> Cdr | None:
        return by_session(self._conn, session_id)

    def correct(self, cdr: Cdr) -> None:
        correct(self._conn, cdr)

    def legs_of(self, cdr_ids: Sequence[int]) -> dict[int, list[CdrLeg]]:
        return legs_of(self._conn, cdr_ids)

    def page(
        self,
        *,
        path: str,
        started_from: datetime | None,
        started_to: datetime | None,
        number: str | None,
        before_id: int | None,
        limit: int,
    ) -> list[Cdr]:
        return page(
            self._conn,
            path=path,
            started_from=started_from,
            started_to=started_to,
            number=number,
            before_id=before_id,
            limit=limit,
        )

    # -- the dashboard's roll-up (rollups.py) --------------------------------------------

    def traffic(
        self, *, account_id: int, path: str, rolled: bool, start: datetime, end: datetime
    ) -> list[TrafficPoint]:
        return rollups.traffic(
            self._conn, account_id=account_id, path=path, rolled=rolled, start=start, end=end
        )

    def margins(
        self,
        *,
        account_id: int,
        path: str,
        root: bool,
        rolled: bool,
        start: datetime,
        end: datetime,
    ) -> list[Margin]:
        return rollups.margins(
            self._conn,
            account_id=account_id,
            path=path,
            root=root,
            rolled=rolled,
            start=start,
            end=end,
        )

    def lock_rollup_mark(self) -> int:
        return rollups.lock_mark(self._conn)

    def share_rollup_mark(self) -> int:
        return rollups.share_mark(self._conn)

    def set_rollup_mark(self, cdr_id: int, at: datetime) -> None:
        rollups.set_mark(self._conn, cdr_id, at)

    def settled_before(self, at: datetime) -> int:
        return rollups.settled_before(self._conn, at)

    def rolled_cdrs(self, after_id: int, upto_id: int, limit: int) -> list[RolledCdr]:
        return rollups.rolled_cdrs(self._conn, after_id, upto_id, limit)

    def cdr_path(self, cdr_id: int) -> str | None:
        return rollups.cdr_path(self._conn, cdr_id)

    def accounts_of(self, account_ids: Sequence[int]) -> dict[int, tuple[AccountKind, str]]:
        return rollups.accounts_of(self._conn, account_ids)

    def add_rollup(self, rollup: Rollup) -> None:
        rollups.add(self._conn, rollup)

    def clear_rollup(self) -> None:
        rollups.clear(self._conn)
