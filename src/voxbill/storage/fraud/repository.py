"""SQL of the fraud guard (:class:`SqlFraudRepository`), on the caller's transaction.

Lock order: a spend counter row is locked after the balances of the call's payers (the
system's order extended: session, holds, balances, counters), in ascending (account,
period) order. A velocity minute row is written once per start, after the holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Integer, bindparam, delete, insert, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from voxbill.domain.errors import Conflict
from voxbill.domain.fraud import SpendKey
from voxbill.services.ports.fraud import HighRiskPrefix, VelocityMinute
from voxbill.storage.prepared import Prepared, among
from voxbill.storage.schema.fraud import high_risk_prefixes, spend_counters, velocity_minutes
from voxbill.storage.types import Amount, UtcDateTime

_AMOUNT = Amount()


def _insert_of(dialect: str) -> Any:
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def _lock_spend(dialect: str) -> Any:
    """The counter, created at 0 if missing, locked (the conflict's update takes the row
    lock and answers the value committed after it)."""
    statement = _insert_of(dialect)(spend_counters).values(
        account_id=bindparam("account_id", type_=Integer),
        period=bindparam("period"),
        amount=bindparam("zero", type_=_AMOUNT),
    )
    return statement.on_conflict_do_update(
        index_elements=[spend_counters.c.account_id, spend_counters.c.period],
        set_={"amount": spend_counters.c.amount},
    ).returning(spend_counters.c.amount)


_LOCK_SPEND = Prepared(_lock_spend)
_ADD_SPEND = Prepared(
    update(spend_counters)
    .where(
        spend_counters.c.account_id == bindparam("account_id", type_=Integer),
        spend_counters.c.period == bindparam("period"),
    )
    .values(amount=spend_counters.c.amount + bindparam("delta", type_=_AMOUNT))
)
_READ_SPEND = Prepared(
    lambda d: (
        select(spend_counters.c.account_id, spend_counters.c.period, spend_counters.c.amount)
        .where(among(spend_counters.c.account_id, "ids", d))
        .where(among(spend_counters.c.period, "periods", d))
    )
)


def _count_minute(dialect: str) -> Any:
    statement = _insert_of(dialect)(velocity_minutes).values(
        account_id=bindparam("account_id", type_=Integer),
        minute=bindparam("minute", type_=UtcDateTime()),
        calls=literal(1, Integer),
        spend=bindparam("spend", type_=_AMOUNT),
        alerted=literal(False),
    )
    return statement.on_conflict_do_update(
        index_elements=[velocity_minutes.c.account_id, velocity_minutes.c.minute],
        set_={
            "calls": velocity_minutes.c.calls + 1,
            "spend": velocity_minutes.c.spend + statement.excluded.spend,
        },
    ).returning(velocity_minutes.c.calls, velocity_minutes.c.spend, velocity_minutes.c.alerted)


_COUNT_MINUTE = Prepared(_count_minute)


class SqlFraudRepository:
    """:class:`~voxbill.services.ports.fraud.FraudRepository` over one connection."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    # -- spend counters ----------------------------------------------------------------

    def lock_spend(self, keys: Iterable[SpendKey]) -> dict[tuple[int, str], Decimal]:
        found: dict[tuple[int, str], Decimal] = {}
        for account_id, period in sorted({(k.account_id, k.period) for k in keys}):
            params = {"account_id": account_id, "period": period, "zero": Decimal(0)}
            found[(account_id, period)] = _LOCK_SPEND.scalar(self._conn, params)
        return found

    def spend(self, keys: Iterable[SpendKey]) -> dict[tuple[int, str], Decimal]:
        wanted = {(k.account_id, k.period) for k in keys}
        if not wanted:
            return {}
        params = {
            "ids": sorted({a for a, _ in wanted}),
            "periods": sorted({p for _, p in wanted}),
        }
        rows = _READ_SPEND.rows(self._conn, params)
        return {
            (r.account_id, r.period): r.amount for r in rows if (r.account_id, r.period) in wanted
        }

    def add_spend(self, amounts: dict[tuple[int, str], Decimal]) -> None:
        for (account_id, period), delta in sorted(amounts.items()):
            if delta:
                params = {"account_id": account_id, "period": period, "delta": delta}
                _ADD_SPEND.run(self._conn, params)

    # -- velocity ----------------------------------------------------------------------

    def count_minute(self, account_id: int, minute: datetime, spend: Decimal) -> VelocityMinute:
        row = _COUNT_MINUTE.first(
            self._conn, {"account_id": account_id, "minute": minute, "spend": spend}
        )
        assert row is not None
        return VelocityMinute(int(row.calls), row.spend, bool(row.alerted))

    def minutes_total(self, account_id: int, since: datetime, until: datetime) -> VelocityMinute:
        rows = self._conn.execute(
            select(velocity_minutes.c.calls, velocity_minutes.c.spend).where(
                velocity_minutes.c.account_id == account_id,
                velocity_minutes.c.minute >= since,
                velocity_minutes.c.minute < until,
            )
        ).all()
        total = sum((r.spend for r in rows), Decimal(0))
        return VelocityMinute(sum(r.calls for r in rows), total, False)

    def mark_alerted(self, account_id: int, minute: datetime) -> bool:
        done = self._conn.execute(
            update(velocity_minutes)
            .where(
                velocity_minutes.c.account_id == account_id,
                velocity_minutes.c.minute == minute,
                velocity_minutes.c.alerted.is_(False),
            )
            .values(alerted=True)
        )
        return done.rowcount == 1

    def forget_minutes(self, before: datetime) -> int:
        done = self._conn.execute(
            delete(velocity_minutes).where(velocity_minutes.c.minute < before)
        )
        return int(done.rowcount or 0)

    # -- high-risk prefixes ------------------------------------------------------------

    def high_risk_prefixes(self, operator_id: int) -> list[HighRiskPrefix]:
        rows = self._conn.execute(
            select(high_risk_prefixes)
            .where(high_risk_prefixes.c.operator_id == operator_id)
            .order_by(high_risk_prefixes.c.prefix)
        ).all()
        return [_prefix(r) for r in rows]

    def high_risk_page(
        self, operator_id: int, *, after_id: int | None, limit: int
    ) -> list[HighRiskPrefix]:
        query = select(high_risk_prefixes).where(high_risk_prefixes.c.operator_id == operator_id)
        if after_id is not None:
            query = query.where(high_risk_prefixes.c.id > after_id)
        rows = self._conn.execute(query.order_by(high_risk_prefixes.c.id).limit(limit)).all()
        return [_prefix(r) for r in rows]

    def add_high_risk_prefixes(
        self, operator_id: int, prefixes: Sequence[tuple[str, str | None]]
    ) -> list[HighRiskPrefix]:
        now = datetime.now(UTC)
        existing = {p.prefix for p in self.high_risk_prefixes(operator_id)}
        new = [(p, note) for p, note in dict(prefixes).items() if p not in existing]
        if new:
            try:
                with self._conn.begin_nested():
                    self._conn.execute(
                        insert(high_risk_prefixes),
                        [
                            {
                                "operator_id": operator_id,
                                "prefix": p,
                                "note": note,
                                "created_at": now,
                            }
                            for p, note in new
                        ],
                    )
            except IntegrityError as exc:
                raise Conflict("a prefix was added meanwhile; retry") from exc
        added = {p for p, _ in new}
        return [p for p in self.high_risk_prefixes(operator_id) if p.prefix in added]

    def remove_high_risk_prefix(self, operator_id: int, prefix: str) -> bool:
        done = self._conn.execute(
            delete(high_risk_prefixes).where(
                high_risk_prefixes.c.operator_id == operator_id,
                high_risk_prefixes.c.prefix == prefix,
            )
        )
        return done.rowcount == 1


def _prefix(row: Any) -> HighRiskPrefix:
    return HighRiskPrefix(
        id=row.id,
        operator_id=row.operator_id,
        prefix=row.prefix,
        note=row.note,
        created_at=row.created_at,
    )
