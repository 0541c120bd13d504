"""SQL for CDRs and their legs: written once when a session settles, then only read."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, bindparam, insert, select

from voxbill.storage.prepared import Prepared
from voxbill.storage.schema.charging import cdr_legs, cdrs


def _insert(table: Table, *, returning: bool) -> Prepared:
    names = [c.name for c in table.columns if c.name != "id"]
    statement = insert(table).values({n: bindparam(n, type_=table.c[n].type) for n in names})
    return Prepared(statement.returning(table.c.id) if returning else statement)


_INSERT_CDR = _insert(cdrs, returning=True)
_INSERT_LEGS = _insert(cdr_legs, returning=False)
_BY_SESSION = Prepared(select(cdrs).where(cdrs.c.session_id == bindparam("sid")))


def insert_cdr(conn: Connection, values: dict[str, Any], legs: Sequence[dict[str, Any]]) -> int:
    """A CDR and its legs (two statements); ``values`` and each leg give every column but
    the ids (a leg's ``cdr_id`` is set here)."""
    cdr_id = int(_INSERT_CDR.scalar(conn, values))
    _INSERT_LEGS.run_many(conn, [leg | {"cdr_id": cdr_id} for leg in legs])
    return cdr_id


def by_session(conn: Connection, session_id: str) -> Any | None:
    return _BY_SESSION.first(conn, {"sid": session_id})


def legs_of(conn: Connection, cdr_ids: Sequence[int]) -> dict[int, list[Any]]:
    found: dict[int, list[Any]] = {i: [] for i in cdr_ids}
    if not cdr_ids:
        return found
    rows = conn.execute(
        select(cdr_legs)
        .where(cdr_legs.c.cdr_id.in_(list(cdr_ids)))
        .order_by(cdr_legs.c.cdr_id, cdr_legs.c.level)
    ).all()
    for row in rows:
        found[row.cdr_id].append(row)
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
) -> list[Any]:
    """CDRs of a subtree, newest first, ``limit`` of them below ``before_id``."""
    query = select(cdrs).where(cdrs.c.path.like(f"{path}%"))
    if started_from is not None:
        query = query.where(cdrs.c.started_at >= started_from)
    if started_to is not None:
        query = query.where(cdrs.c.started_at < started_to)
    if number:
        query = query.where((cdrs.c.callee.like(f"{number}%")) | (cdrs.c.caller == number))
    if before_id is not None:
        query = query.where(cdrs.c.id < before_id)
    return list(conn.execute(query.order_by(cdrs.c.id.desc()).limit(limit)).all())
