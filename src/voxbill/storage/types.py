"""Column types that keep money exact and instants in UTC on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, DateTime, Dialect, Numeric
from sqlalchemy.types import TypeDecorator, TypeEngine

from voxbill.domain.errors import InvalidMoney
from voxbill.domain.money import NUMERIC_MAX_AMOUNT, SQLITE_MAX_AMOUNT, STORAGE_PLACES, storable

_SCALE = Decimal(10) ** STORAGE_PLACES


def max_amount(dialect_name: str) -> Decimal:
    """The largest magnitude an Amount column holds on this database."""
    return SQLITE_MAX_AMOUNT if dialect_name == "sqlite" else NUMERIC_MAX_AMOUNT


class Amount(TypeDecorator[Decimal]):
    """An exact decimal with up to 8 places.

    PostgreSQL: ``NUMERIC(28, 8)``. SQLite: a 64-bit integer of 10^-8 units, so that SQL
    sums stay exact (SQLite's NUMERIC affinity would turn values into REAL). A value with
    more places is refused rather than silently rounded, one out of range
    (:func:`max_amount`) with ``amount_out_of_range`` rather than a driver overflow.
    """

    impl = Numeric(28, STORAGE_PLACES)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(28, STORAGE_PLACES, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, Decimal):
            raise InvalidMoney(f"stored amounts must be Decimal, not {type(value).__name__}")
        scaled = value * _SCALE
        if scaled != scaled.to_integral_value():
            raise InvalidMoney(f"amount {value} has more than {STORAGE_PLACES} decimal places")
        storable(value, max_amount(dialect.name))
        if dialect.name == "sqlite":
            return int(scaled)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return (Decimal(int(value)) / _SCALE).normalize() + 0
        return Decimal(value).normalize() + 0  # as on SQLite: "0.05", not "0.05000000"


def from_scaled(value: int | None) -> Decimal | None:
    """Read a raw SQLite aggregate (``SUM`` of an Amount column) back into a Decimal."""
    return None if value is None else Decimal(value) / _SCALE


class UtcDateTime(TypeDecorator[datetime]):
    """An aware UTC instant: ``timestamptz`` on PostgreSQL, naive UTC text on SQLite."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; give a timezone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
