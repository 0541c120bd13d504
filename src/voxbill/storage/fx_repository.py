"""SQL for effective-dated exchange rates."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, and_, insert, or_, select, update

from voxbill.storage.schema.ledger import fx_rates


def upsert_fx_rate(
    conn: Connection, base: str, quote: str, rate: Decimal, effective_from: datetime, now: datetime
) -> None:
    match = and_(
        fx_rates.c.base == base,
        fx_rates.c.quote == quote,
        fx_rates.c.effective_from == effective_from,
    )
    if conn.execute(update(fx_rates).where(match).values(rate=rate)).rowcount == 0:
        conn.execute(
            insert(fx_rates).values(
                base=base, quote=quote, rate=rate, effective_from=effective_from, created_at=now
            )
        )


def fx_rate_at(conn: Connection, base: str, quote: str, at: datetime) -> Any | None:
    """The rate in force at ``at`` for base→quote or, failing that, quote→base."""
    return conn.execute(
        select(fx_rates.c.base, fx_rates.c.rate)
        .where(
            or_(
                and_(fx_rates.c.base == base, fx_rates.c.quote == quote),
                and_(fx_rates.c.base == quote, fx_rates.c.quote == base),
            ),
            fx_rates.c.effective_from <= at,
        )
        .order_by((fx_rates.c.base == base).desc(), fx_rates.c.effective_from.desc())
        .limit(1)
    ).first()
