"""Exact amounts and UTC instants in storage, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, Table, func, insert, select, text
from sqlalchemy.exc import StatementError

from voxbill.bootstrap import Container
from voxbill.domain.errors import InvalidMoney
from voxbill.domain.money import RoundingMethod, canonical
from voxbill.domain.rates import Rate
from voxbill.storage.database import make_engine
from voxbill.storage.rating import rates as repo
from voxbill.storage.types import Amount, UtcDateTime, from_scaled

metadata = MetaData()
ledger = Table(
    "amount_probe",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("amount", Amount, nullable=True),
    Column("at", UtcDateTime, nullable=True),
)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    built = make_engine(database_url)
    metadata.create_all(built)
    try:
        yield built
    finally:
        built.dispose()


VALUES = [
    "0",
    "0.00000001",
    "-0.00000001",
    "0.1",
    "0.12345678",
    "1234567890.12345678",
    "-42.5",
    "10",
    "92233720368.54775807",  # the largest on SQLite's 64-bit scaled integers
]


def test_amounts_round_trip_exactly(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(insert(ledger), [{"amount": Decimal(v)} for v in VALUES] + [{"amount": None}])
        stored = conn.execute(select(ledger.c.amount).order_by(ledger.c.id)).scalars().all()
    assert stored[:-1] == [Decimal(v) for v in VALUES]
    assert stored[-1] is None
    assert all(type(value) is Decimal for value in stored[:-1])


def test_amounts_read_back_the_same_on_every_dialect(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(insert(ledger), [{"amount": Decimal(v)} for v in ("0.0500", "100", "-0.00")])
        stored = conn.execute(select(ledger.c.amount).order_by(ledger.c.id)).scalars().all()
    assert [canonical(v) for v in stored] == ["0.05", "100", "0"]


def test_sums_are_exact(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(insert(ledger), [{"amount": Decimal("0.1")} for _ in range(10)])
        total = conn.execute(select(func.sum(ledger.c.amount))).scalar_one()
        raw = conn.execute(text("SELECT SUM(amount) FROM amount_probe")).scalar_one()
    assert total == Decimal("1")
    assert type(total) is Decimal
    if engine.dialect.name == "sqlite":
        assert raw == 100_000_000
        assert from_scaled(raw) == Decimal("1")
    else:
        assert raw == Decimal("1")


def test_storage_representation(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(insert(ledger).values(amount=Decimal("0.05")))
        if engine.dialect.name == "sqlite":
            kind, raw = conn.execute(text("SELECT typeof(amount), amount FROM amount_probe")).one()
            assert (kind, raw) == ("integer", 5_000_000)
        else:
            kind = conn.execute(
                text(
                    "SELECT data_type, numeric_scale FROM information_schema.columns "
                    "WHERE table_name = 'amount_probe' AND column_name = 'amount'"
                )
            ).one()
            assert tuple(kind) == ("numeric", 8)


def test_inexact_or_non_decimal_amounts_are_refused(engine: Engine) -> None:
    for value in (Decimal("0.123456789"), Decimal("1E-9"), 0.1, "0.1", 1):
        with pytest.raises(StatementError) as caught, engine.begin() as conn:
            conn.execute(insert(ledger).values(amount=value))
        assert isinstance(caught.value.orig, InvalidMoney), value
    with engine.begin() as conn:
        assert conn.execute(select(func.count()).select_from(ledger)).scalar_one() == 0


def test_instants_are_stored_in_utc(engine: Engine) -> None:
    paris = timezone(timedelta(hours=2))
    moment = datetime(2026, 7, 1, 9, 30, 15, 123456, tzinfo=paris)
    with engine.begin() as conn:
        conn.execute(insert(ledger).values(at=moment))
        stored = conn.execute(select(ledger.c.at)).scalar_one()
    assert stored == moment
    assert stored.utcoffset() == timedelta(0)
    assert stored == datetime(2026, 7, 1, 7, 30, 15, 123456, tzinfo=UTC)


def test_naive_instants_are_refused(engine: Engine) -> None:
    with pytest.raises(StatementError), engine.begin() as conn:
        conn.execute(insert(ledger).values(at=datetime(2026, 7, 1)))


def store_plan(container: Container, new_rates: list[Rate]) -> list[Rate]:
    with container.db.transaction() as conn:
        plan = repo.create_plan(
            conn,
            operator_id=None,
            name="p",
            currency="EUR",
            decimals=4,
            rounding=RoundingMethod.HALF_UP,
            timezone="UTC",
            holidays=(),
        )
        repo.insert_rates(conn, plan.id, new_rates)
        return sorted(repo.load_rates(conn, plan.id), key=lambda r: r.prefix)


def test_bulk_rate_insert_refuses_more_than_eight_places(container: Container) -> None:
    for value in (Decimal("0.123456789"), Decimal("0.000000001")):
        with pytest.raises(InvalidMoney):
            store_plan(container, [Rate("1", Decimal("0.1")), Rate("2", value)])
    with container.db.transaction(readonly=True) as conn:
        assert repo.find_plan(conn, None, "p") is None  # rolled back


def test_bulk_rate_insert_round_trips(container: Container) -> None:
    values = [Decimal("0.00000001"), Decimal("0.12345678"), Decimal("9999999999.99999999")]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    loaded = store_plan(
        container,
        [
            Rate(str(i + 1), v, connect_fee=v, initial_rate=v, effective_from=start)
            for i, v in enumerate(values)
        ],
    )
    assert [(r.rate, r.connect_fee, r.initial_rate) for r in loaded] == [(v, v, v) for v in values]
    assert all(r.effective_from == start for r in loaded)
