"""Migration 0010: exchange rates belong to an operator; the global rows are copied to
every operator, the constraints hold, and a downgrade keeps the first operator's."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError

from voxbill.storage import migrate
from voxbill.storage.database import make_engine
from voxbill.storage.migrate import current_revision, upgrade
from voxbill.storage.schema import metadata
from voxbill.storage.schema.accounts import accounts
from voxbill.storage.schema.ledger import fx_rates
from voxbill.storage.types import Amount, UtcDateTime

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = datetime(2026, 6, 1, tzinfo=UTC)

#: fx_rates as migrations 0004 to 0009 left it: one table for the whole installation
_FX_0009 = Table(
    "fx_rates",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("base", String(3)),
    Column("quote", String(3)),
    Column("rate", Amount),
    Column("effective_from", UtcDateTime),
    Column("created_at", UtcDateTime),
)


def _downgrade(engine: Engine, revision: str) -> None:
    migrate.downgrade(engine, revision)  # FKs unenforced on SQLite meanwhile


def _account(conn: Connection, account_id: int, parent: int | None, kind: str) -> None:
    path = f"/{account_id}/" if parent is None else f"/{parent}/{account_id}/"
    conn.execute(
        insert(accounts).values(
            id=account_id,
            parent_id=parent,
            path=path,
            depth=path.count("/") - 2,
            kind=kind,
            name=f"{kind} {account_id}",
            currency="USD",
            credit_limit=D(0),
            block_balance=D(0),
            created_at=T0,
            updated_at=T0,
        )
    )


def _old_rate(conn: Connection, base: str, quote: str, rate: str, at: datetime) -> None:
    conn.execute(
        insert(_FX_0009).values(
            base=base, quote=quote, rate=D(rate), effective_from=at, created_at=at
        )
    )


def test_global_rates_are_copied_to_every_operator(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0009")
        with engine.begin() as conn:
            _account(conn, 1, None, "operator")
            _account(conn, 2, 1, "reseller")
            _account(conn, 7, None, "operator")
            _old_rate(conn, "USD", "EUR", "0.9", T0)
            _old_rate(conn, "USD", "EUR", "1.08350000", T1)
            _old_rate(conn, "GBP", "USD", "1.25", T0)
        upgrade(engine)
        with engine.connect() as conn:
            rows = conn.execute(
                select(
                    fx_rates.c.operator_id,
                    fx_rates.c.base,
                    fx_rates.c.quote,
                    fx_rates.c.rate,
                    fx_rates.c.effective_from,
                    fx_rates.c.updated_at,
                ).order_by(fx_rates.c.operator_id, fx_rates.c.base, fx_rates.c.effective_from)
            ).all()
        expected = [
            ("GBP", "USD", D("1.25"), T0),
            ("USD", "EUR", D("0.9"), T0),
            ("USD", "EUR", D("1.0835"), T1),
        ]
        assert [(r.operator_id, r.base, r.quote, r.rate, r.effective_from) for r in rows] == [
            (op, *row) for op in (1, 7) for row in expected
        ]
        assert all(r.updated_at == r.effective_from for r in rows)  # created_at, as given
        with engine.begin() as conn:  # one rate per operator, pair and instant
            conn.execute(
                insert(fx_rates).values(
                    operator_id=1,
                    base="EUR",
                    quote="USD",
                    rate=D("1.1"),
                    effective_from=T0,
                    created_at=T0,
                    updated_at=T0,
                )
            )
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(
                insert(fx_rates).values(
                    operator_id=1,
                    base="USD",
                    quote="EUR",
                    rate=D("2"),
                    effective_from=T0,
                    created_at=T0,
                    updated_at=T0,
                )
            )
        with pytest.raises(IntegrityError), engine.begin() as conn:  # the check survived
            conn.execute(
                insert(fx_rates).values(
                    operator_id=1,
                    base="USD",
                    quote="JPY",
                    rate=D("0"),
                    effective_from=T0,
                    created_at=T0,
                    updated_at=T0,
                )
            )
        with pytest.raises(IntegrityError), engine.begin() as conn:  # an operator that exists
            conn.execute(
                insert(fx_rates).values(
                    operator_id=99,
                    base="USD",
                    quote="JPY",
                    rate=D("150"),
                    effective_from=T0,
                    created_at=T0,
                    updated_at=T0,
                )
            )

        _downgrade(engine, "0009")
        assert current_revision(engine) == "0009"
        with engine.connect() as conn:
            left = conn.execute(text("SELECT base, quote FROM fx_rates ORDER BY base")).all()
        assert [tuple(r) for r in left] == [
            ("EUR", "USD"),
            ("GBP", "USD"),
            ("USD", "EUR"),
            ("USD", "EUR"),
        ]
        upgrade(engine)
        assert current_revision(engine) != "0009"
    finally:
        engine.dispose()


def test_rates_of_an_installation_without_operator_are_dropped(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0009")
        with engine.begin() as conn:
            _old_rate(conn, "USD", "EUR", "0.9", T0)
        upgrade(engine)
        with engine.connect() as conn:
            assert conn.execute(select(fx_rates.c.id)).all() == []
    finally:
        engine.dispose()


def test_migrated_fx_table_matches_the_declared_one(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            differences = compare_metadata(context, metadata)
        assert [d for d in differences if "fx_rates" in repr(d)] == []
        unique = {
            tuple(u["column_names"]) for u in inspect(engine).get_unique_constraints("fx_rates")
        }
        assert unique == {("operator_id", "base", "quote", "effective_from")}
        checks = {c["name"] for c in inspect(engine).get_check_constraints("fx_rates")}
        assert "ck_fx_rates_positive" in checks
    finally:
        engine.dispose()
