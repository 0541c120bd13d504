"""Rate plan rows a page at a time, for the API (the rating engine loads whole plans)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from voxbill.storage.schema import rates


def rates_page(conn: Connection, plan_id: int, *, after_id: int | None, limit: int) -> list[Any]:
    query = select(rates).where(rates.c.plan_id == plan_id)
    if after_id is not None:
        query = query.where(rates.c.id > after_id)
    return list(conn.execute(query.order_by(rates.c.id).limit(limit)))
