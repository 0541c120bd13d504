"""SQL of the dashboard's per-minute roll-up (``dashboard_minutes``) and its mark, and the
day figures read from it (:mod:`voxbill.domain.dashboard`).

A read adds, in one statement (one snapshot, so a pass committing meanwhile is counted
once), the rolled-up minutes and the CDRs above the mark: the figures are exact whether
the pass has run or not, and cost a read of at most a minute row per currency plus the
tail of CDRs the pass has not reached.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Integer,
    String,
    bindparam,
    cast,
    delete,
    func,
    literal,
    null,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import ColumnElement

from voxbill.domain.accounts import AccountKind
from voxbill.domain.dashboard import (
    ROLLED_KINDS,
    Margin,
    RolledCdr,
    Rollup,
    RollupKind,
    TrafficPoint,
    path_ids,
)
from voxbill.storage.schema.accounts import accounts
from voxbill.storage.schema.charging import (
    cdr_legs,
    cdrs,
    dashboard_minutes,
    dashboard_rollup_marks,
)
from voxbill.storage.types import Amount, UtcDateTime

#: the one mark row (a name: a later roll-up may keep its own)
MARK = "dashboard"
_AMOUNT = Amount()


def _insert_of(conn: Connection) -> Any:
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


def _norm(amount: Decimal | None) -> Decimal:
    return Decimal(0) if amount is None else amount.normalize() + 0


def _instant(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


def _minute(conn: Connection) -> ColumnElement[Any]:
    """A CDR's start minute, as ``dashboard_minutes.minute`` holds it."""
    if conn.dialect.name == "postgresql":
        return func.date_trunc("minute", cdrs.c.started_at)
    return func.strftime("%Y-%m-%d %H:%M:00.000000", cdrs.c.started_at)


def in_subtree(conn: Connection, path: str) -> ColumnElement[bool]:
    """CDRs of the subtree at ``path``: a LIKE prefix, in the "C" collation on PostgreSQL,
    where only ``ix_cdrs_path_c`` (migration 0025) can answer it (the database's own
    collation cannot serve a LIKE prefix from a b-tree)."""
    column: ColumnElement[str] = cdrs.c.path
    if conn.dialect.name == "postgresql":
        column = column.collate("C")
    return column.like(f"{path}%")


def _mark_id() -> Any:
    """The mark as a scalar subquery (0 before the first pass)."""
    found = (
        select(dashboard_rollup_marks.c.cdr_id)
        .where(dashboard_rollup_marks.c.name == MARK)
        .scalar_subquery()
    )
    return func.coalesce(found, 0)


# -- the pass ---------------------------------------------------------------------------


def lock_mark(conn: Connection) -> int:
    """The mark, created at 0 if missing, locked until the transaction ends (a second
    node's pass waits, then finds the work done)."""
    conn.execute(
        _insert_of(conn)(dashboard_rollup_marks)
        .values(name=MARK, cdr_id=0, rolled_at=None)
        .on_conflict_do_nothing()
    )
    query = select(dashboard_rollup_marks.c.cdr_id).where(dashboard_rollup_marks.c.name == MARK)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return int(conn.execute(query).scalar_one())


def share_mark(conn: Connection) -> int:
    """The mark, held against a pass until the transaction ends (a correction's)."""
    query = select(dashboard_rollup_marks.c.cdr_id).where(dashboard_rollup_marks.c.name == MARK)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(read=True)
    found = conn.execute(query).scalar()
    return 0 if found is None else int(found)


def set_mark(conn: Connection, cdr_id: int, at: datetime) -> None:
    conn.execute(
        update(dashboard_rollup_marks)
        .where(dashboard_rollup_marks.c.name == MARK)
        .values(cdr_id=cdr_id, rolled_at=at)
    )


def settled_before(conn: Connection, at: datetime) -> int:
    """The largest id of a CDR written before ``at`` (0: none): the pass's horizon."""
    query = (  # the newest first by the primary key: a few rows read, not the table
        select(cdrs.c.id)
        .where(cdrs.c.created_at < bindparam("at", type_=UtcDateTime()))
        .order_by(cdrs.c.id.desc())
        .limit(1)
    )
    found = conn.execute(query, {"at": at}).scalar()
    return 0 if found is None else int(found)


def rolled_cdrs(conn: Connection, after_id: int, upto_id: int, limit: int) -> list[RolledCdr]:
    """The CDRs with ids in (``after_id``, ``upto_id``], the first ``limit`` by id, as
    the roll-up reads them (four queries: the CDRs, their sell legs' margins, the
    operators and resellers, and the currencies of top-most payers that are neither)."""
    c = cdrs.c
    rows = conn.execute(
        select(c.id, c.path, c.started_at, c.currency, c.cost, c.margin)
        .where(c.id > after_id, c.id <= upto_id)
        .order_by(c.id)
        .limit(limit)
    ).all()
    if not rows:
        return []
    legs = cdr_legs.c
    margins: dict[int, list[tuple[int, str, Decimal]]] = {}
    for leg in conn.execute(
        select(legs.cdr_id, legs.account_id, legs.currency, legs.margin).where(
            legs.cdr_id >= rows[0].id,
            legs.cdr_id <= rows[-1].id,
            legs.side == "sell",
            legs.margin.is_not(None),
        )
    ):
        margins.setdefault(leg.cdr_id, []).append((leg.account_id, leg.currency, leg.margin))
    rolled = rolled_accounts(conn)
    paths = {r.id: path_ids(r.path) for r in rows}
    tops = {ids[1] for ids in paths.values() if len(ids) > 1 and ids[1] not in rolled}
    currency = dict(rolled)
    currency.update({k: cur for k, (_, cur) in accounts_of(conn, tops).items()})
    found = []
    for r in rows:
        ids = paths[r.id]
        found.append(
            RolledCdr(
                id=r.id,
                path=r.path,
                rolled=tuple(i for i in ids if i in rolled),
                started_at=_instant(r.started_at),
                currency=r.currency,
                cost=r.cost,
                margin=r.margin,
                payer_currency=currency.get(ids[1]) if len(ids) > 1 else None,
                sell_margins=tuple(m for m in margins.get(r.id, ()) if m[0] in rolled),
            )
        )
    return found


def rolled_accounts(conn: Connection) -> dict[int, str]:
    """The accounts the roll-up keeps minutes for (``ROLLED_KINDS``), with currencies."""
    kinds = sorted(k.value for k in ROLLED_KINDS)
    rows = conn.execute(
        select(accounts.c.id, accounts.c.currency).where(accounts.c.kind.in_(kinds))
    )
    return {int(r.id): str(r.currency) for r in rows}


def accounts_of(conn: Connection, ids: Iterable[int]) -> dict[int, tuple[AccountKind, str]]:
    """The kind and currency of each account of ``ids``."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = conn.execute(
        select(accounts.c.id, accounts.c.kind, accounts.c.currency).where(accounts.c.id.in_(wanted))
    )
    return {int(r.id): (AccountKind(r.kind), str(r.currency)) for r in rows}


def cdr_path(conn: Connection, cdr_id: int) -> str | None:
    found = conn.execute(select(cdrs.c.path).where(cdrs.c.id == cdr_id)).scalar()
    return None if found is None else str(found)


def add(conn: Connection, rollup: Rollup) -> None:
    """Add each entry to its minute row (created at its value when missing)."""
    if not rollup:
        return
    minutes = dashboard_minutes.c
    statement = _insert_of(conn)(dashboard_minutes).values(
        account_id=bindparam("account_id", type_=Integer),
        kind=bindparam("kind", type_=String()),
        minute=bindparam("minute", type_=UtcDateTime()),
        currency=bindparam("currency", type_=String()),
        calls=bindparam("calls", type_=Integer),
        amount=bindparam("amount", type_=_AMOUNT),
    )
    statement = statement.on_conflict_do_update(
        index_elements=[minutes.account_id, minutes.kind, minutes.minute, minutes.currency],
        set_={
            "calls": minutes.calls + statement.excluded.calls,
            "amount": minutes.amount + statement.excluded.amount,
        },
    )
    params = [
        {
            "account_id": key.account_id,
            "kind": key.kind.value,
            "minute": key.minute,
            "currency": key.currency,
            "calls": calls,
            "amount": amount,
        }
        for key, (calls, amount) in sorted(
            rollup.items(), key=lambda kv: (kv[0].account_id, kv[0].kind, kv[0].minute)
        )  # one lock order for every writer
    ]
    conn.execute(statement, params)


def clear(conn: Connection) -> None:
    """Forget the roll-up (a rebuild starts from the first CDR)."""
    conn.execute(delete(dashboard_minutes))
    conn.execute(delete(dashboard_rollup_marks))


# -- the reads --------------------------------------------------------------------------
#
# A rolled-up account's figure is its minute rows plus the CDRs above the mark, which
# must be read at the same mark: a pass committing between the two would count its CDRs
# twice. The tail names the mark as a bound value (so the planner walks the primary key
# from it, not the day's index), and the same statement answers the mark it saw; when a
# pass moved it meanwhile, the read is made again at the new mark.

#: how many times a read is made again because a pass moved the mark meanwhile
_RETRIES = 5
_MARK_ROW = "mark"


def _current_mark(conn: Connection) -> int:
    return int(conn.execute(select(_mark_id())).scalar_one())


def _mark_part(width: int) -> Any:
    """The row that answers the statement's mark: ``("mark", mark, NULL, …)``."""
    nulls = [null().label(f"c{n}") for n in range(width)]
    return select(literal(_MARK_ROW).label("part"), _mark_id().label("mark"), *nulls)


def _at_mark(conn: Connection, parts: Callable[[int], list[Any]], width: int) -> list[Any]:
    """The rows of ``parts(mark)`` (each a select of ``part``, ``mark`` and ``width``
    columns), read at one mark."""
    mark = _current_mark(conn)
    for _ in range(_RETRIES):
        both = union_all(*parts(mark), _mark_part(width)).subquery()
        rows = conn.execute(select(both)).all()
        seen = next(int(r[1]) for r in rows if r[0] == _MARK_ROW)
        if seen == mark:
            return [r for r in rows if r[0] != _MARK_ROW]
        mark = seen
    raise RuntimeError("the dashboard roll-up's mark kept moving; try again")


def _part(name: str) -> Any:
    return literal(name).label("part")


def _no_mark() -> Any:
    return cast(null(), BigInteger).label("mark")


def _window(conn: Connection, path: str, start: datetime, end: datetime) -> list[Any]:
    return [cdrs.c.started_at >= start, cdrs.c.started_at < end, in_subtree(conn, path)]


def traffic(
    conn: Connection,
    *,
    account_id: int,
    path: str,
    rolled: bool,
    start: datetime,
    end: datetime,
) -> list[TrafficPoint]:
    """Calls and spend per minute and currency of the subtree's CDRs started in
    [start, end), oldest first: an account the roll-up keeps (``rolled``), its minutes
    plus the CDRs above the mark, read at one mark; another, its CDRs."""
    minute = _minute(conn)
    m = dashboard_minutes.c

    def tail(above: int | None) -> Any:
        query = select(
            _part("tail"),
            _no_mark(),
            minute.label("minute"),
            cdrs.c.currency.label("currency"),
            func.count().label("calls"),
            func.sum(cdrs.c.cost).label("amount"),
        ).where(*_window(conn, path, start, end))
        if above is not None:
            query = query.where(cdrs.c.id > bindparam("above", above, type_=BigInteger))
        return query.group_by(minute, cdrs.c.currency)

    def parts(mark: int) -> list[Any]:
        rows = (
            select(_part("rolled"), _no_mark(), m.minute, m.currency, m.calls, m.amount)
            .where(m.account_id == account_id, m.kind == RollupKind.TRAFFIC.value)
            .where(m.minute >= start, m.minute < end)
        )
        return [rows, tail(mark)]

    found = _at_mark(conn, parts, 4) if rolled else conn.execute(tail(None)).all()
    totals: dict[tuple[datetime, str], tuple[int, Decimal]] = {}
    for row in found:
        key = (_instant(row[2]), str(row[3]))
        calls, total = totals.get(key, (0, Decimal(0)))
        totals[key] = (calls + int(row[4]), total + _amount(row[5]))
    return [
        TrafficPoint(minute, currency, calls, _norm(total))
        for (minute, currency), (calls, total) in sorted(totals.items())
        if calls
    ]


def margins(
    conn: Connection,
    *,
    account_id: int,
    path: str,
    root: bool,
    rolled: bool,
    start: datetime,
    end: datetime,
) -> list[Margin]:
    """What ``account_id`` earned per currency on its subtree's CDRs started in
    [start, end), read as :func:`traffic` is. An operator root: the CDRs' margins per
    top-most payer's currency; any other: its sell legs'."""
    kind = RollupKind.PAYER_MARGIN if root else RollupKind.SELL_MARGIN
    m = dashboard_minutes.c

    def above(query: Any, mark: int | None) -> Any:
        if mark is None:
            return query
        return query.where(cdrs.c.id > bindparam("above", mark, type_=BigInteger))

    def tail(mark: int | None) -> Any:
        window = _window(conn, path, start, end)
        if root:
            if conn.dialect.name == "postgresql":
                top: ColumnElement[Any] = func.split_part(cdrs.c.path, "/", 3)
            else:
                rest = func.substr(cdrs.c.path, len(path) + 1)
                top = func.substr(rest, 1, func.instr(rest, "/") - 1)
            per_payer = above(
                select(
                    top.label("top"),
                    func.count().label("calls"),
                    func.sum(cdrs.c.margin).label("amount"),
                ).where(*window, cdrs.c.margin.is_not(None)),
                mark,
            )
            per_payer = per_payer.group_by(top).subquery()
            return select(
                _part("tail"),
                _no_mark(),
                accounts.c.currency.label("currency"),
                per_payer.c.calls.label("calls"),
                per_payer.c.amount.label("amount"),
            ).select_from(per_payer.join(accounts, accounts.c.id == cast(per_payer.c.top, Integer)))
        legs = cdr_legs.c
        query = (
            select(
                _part("tail"),
                _no_mark(),
                legs.currency.label("currency"),
                func.count().label("calls"),
                func.sum(legs.margin).label("amount"),
            )
            .select_from(cdrs.join(cdr_legs, legs.cdr_id == cdrs.c.id))
            .where(*window, legs.side == "sell", legs.account_id == account_id)
            .where(legs.margin.is_not(None))
        )
        return above(query, mark).group_by(legs.currency)

    def parts(mark: int) -> list[Any]:
        rows = (
            select(
                _part("rolled"),
                _no_mark(),
                m.currency.label("currency"),
                func.sum(m.calls).label("calls"),
                func.sum(m.amount).label("amount"),
            )
            .where(m.account_id == account_id, m.kind == kind.value)
            .where(m.minute >= start, m.minute < end)
            .group_by(m.currency)
        )
        return [rows, tail(mark)]

    found = _at_mark(conn, parts, 3) if rolled else conn.execute(tail(None)).all()
    totals: dict[str, tuple[int, Decimal]] = {}
    for row in found:
        calls, total = totals.get(str(row[2]), (0, Decimal(0)))
        totals[str(row[2])] = (calls + int(row[3]), total + _amount(row[4]))
    return [
        Margin(currency, _norm(total), calls)
        for currency, (calls, total) in sorted(totals.items())
        if calls
    ]


def _amount(value: Any) -> Decimal:
    return Decimal(0) if value is None else Decimal(value)


__all__ = [
    "MARK",
    "accounts_of",
    "add",
    "cdr_path",
    "clear",
    "in_subtree",
    "lock_mark",
    "margins",
    "rolled_accounts",
    "rolled_cdrs",
    "set_mark",
    "settled_before",
    "share_mark",
    "traffic",
]
