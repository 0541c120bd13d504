"""SQL for CDRs and their legs: written once when a session settles, then only read."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from voxbill.storage.schema.charging import cdr_legs, cdrs


def insert_cdr(conn: Connection, values: dict[str, Any], legs: Sequence[dict[str, Any]]) -> int:
    cdr_id = int(conn.execute(insert(cdrs).values(values).returning(cdrs.c.id)).scalar_one())
    conn.execute(insert(cdr_legs), [leg | {"cdr_id": cdr_id} for leg in legs])
    return cdr_id


def by_session(conn: Connection, session_id: str) -> Any | None:
    return conn.execute(select(cdrs).where(cdrs.c.session_id == session_id)).first()


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
