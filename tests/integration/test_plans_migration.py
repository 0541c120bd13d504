"""Migration 0012: rate plans go to their operator, priced exactly as before.

A plan named by accounts of one operator goes to it; one named by several operators'
accounts is copied (rates in deck order, imports, price changes) to each of the others;
an unused plan goes to the operator whose key last uploaded it, else to the first; with
no operator, plans stay unowned until the first operator adopts them. Downgrade restores
the global name, or refuses (changing nothing) while two operators hold one name. On
SQLite the rebuilds of ``rate_plans`` keep every row of the tables that reference it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D
from typing import Any

import pytest
from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    func,
    insert,
    inspect,
    select,
)
from sqlalchemy.exc import IntegrityError

from voxbill.bootstrap import build
from voxbill.settings import Settings
from voxbill.storage.database import make_engine
from voxbill.storage.migrate import current_revision, downgrade, upgrade
from voxbill.storage.schema.accounts import accounts
from voxbill.storage.schema.rating import rate_changes, rate_imports, rate_plans, rates
from voxbill.storage.types import UtcDateTime

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = datetime(2026, 2, 1, tzinfo=UTC)
AT = datetime(2026, 3, 2, 12, tzinfo=UTC)
UK = "+442079460000"

#: rate_plans as migrations 0001 to 0011 left it: one name for the whole installation
_PLANS_0011 = Table(
    "rate_plans",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("name", String(100)),
    Column("currency", String(3)),
    Column("decimals", Integer),
    Column("rounding", String(16)),
    Column("timezone", String(64)),
    Column("holidays", Text),
    Column("version", Integer),
    Column("created_at", UtcDateTime),
    Column("updated_at", UtcDateTime),
)


def _account(
    conn: Connection, account_id: int, parent: str | None, kind: str, **plans: str
) -> None:
    path = f"/{account_id}/" if parent is None else f"{parent}{account_id}/"
    conn.execute(
        insert(accounts).values(
            id=account_id,
            parent_id=None if parent is None else int(parent.strip("/").split("/")[-1]),
            path=path,
            depth=path.count("/") - 2,
            kind=kind,
            name=f"{kind} {account_id}",
            currency="USD",
            credit_limit=D(0),
            block_balance=D(0),
            created_at=T0,
            updated_at=T0,
            **plans,
        )
    )


def _plan(conn: Connection, name: str, version: int = 1) -> int:
    """A plan as 0011 stored it; its id (from the database, as every real id)."""
    return int(
        conn.execute(
            insert(_PLANS_0011)
            .values(
                name=name,
                currency="USD",
                decimals=4,
                rounding="half_up",
                timezone="UTC",
                holidays="",
                version=version,
                created_at=T0,
                updated_at=T1,
            )
            .returning(_PLANS_0011.c.id)
        ).scalar_one()
    )


def _rate(conn: Connection, plan_id: int, prefix: str, rate: str) -> None:
    conn.execute(
        insert(rates).values(
            plan_id=plan_id,
            prefix=prefix,
            destination=f"dest {prefix}",
            rate=D(rate),
            connect_fee=D(0),
            initial_increment=1,
            increment=1,
            min_duration=0,
            grace=0,
        )
    )


def _import(conn: Connection, plan_id: int, source: str, *changes: tuple[str, str]) -> int:
    import_id = conn.execute(
        insert(rate_imports)
        .values(
            plan_id=plan_id,
            source=source,
            mode="merge",
            rows_read=len(changes),
            rows_imported=len(changes),
            rows_rejected=0,
            imported_at=T1,
        )
        .returning(rate_imports.c.id)
    ).scalar_one()
    for prefix, new_rate in changes:
        conn.execute(
            insert(rate_changes).values(
                import_id=import_id,
                plan_id=plan_id,
                prefix=prefix,
                destination=f"dest {prefix}",
                change="new",
                new_rate=D(new_rate),
            )
        )
    return int(import_id)


def _installation_at_0011(engine: Engine) -> None:
    """Operators 1 (Acme), 7 (Globex) and 20 (no accounts), and their plans by name:

    shared      named by Acme's reseller and Globex's reseller (two rows of prefix 44:
                the first in deck order wins), two imports
    a-only      named by Acme's customer (rate_plan); sms: its sms_plan
    buy         named by Globex's vendor
    unused-api  named by no account, last uploaded with a key of Globex
    unused-cli  named by no account, imported from a file
    """
    upgrade(engine, "0011")
    with engine.begin() as conn:
        _account(conn, 1, None, "operator")
        _account(conn, 2, "/1/", "reseller", rate_plan="shared")
        _account(conn, 3, "/1/2/", "customer", rate_plan="a-only", sms_plan="sms")
        _account(conn, 7, None, "operator")
        _account(conn, 8, "/7/", "reseller", rate_plan="shared")
        _account(conn, 9, "/7/", "vendor", rate_plan="buy")
        _account(conn, 20, None, "operator")
        _account(conn, 21, "/20/", "customer", rate_plan="no-such-plan")
        ids = {
            name: _plan(conn, name, version=3 if name == "shared" else 1)
            for name in ("shared", "a-only", "sms", "buy", "unused-api", "unused-cli")
        }
        assert ids["shared"] == 1
        _rate(conn, 1, "44", "0.10")
        _rate(conn, 1, "44", "0.20")  # same prefix, later in the deck: never chosen
        _rate(conn, 1, "33", "0.30")
        _import(conn, 1, "first.csv", ("44", "0.10"), ("33", "0.30"))
        _import(conn, 1, "api:key:4@account:1", ("44", "0.10"))
        for plan_id in range(2, 7):
            _rate(conn, plan_id, "44", f"0.0{plan_id}")
        _import(conn, ids["unused-api"], "api:key:1@account:1", ("44", "0.05"))
        _import(conn, ids["unused-api"], "api:key:9@account:7", ("44", "0.05"))  # Globex's
        _import(conn, ids["unused-cli"], "deck.csv", ("44", "0.06"))


def _plans(conn: Connection) -> list[tuple[Any, ...]]:
    query = select(rate_plans.c.operator_id, rate_plans.c.name, rate_plans.c.version)
    return sorted(tuple(row) for row in conn.execute(query))


def _content(conn: Connection, operator_id: int, name: str) -> dict[str, Any]:
    """A plan's rows (deck order), imports and changes, without ids."""
    plan_id = conn.execute(
        select(rate_plans.c.id).where(
            rate_plans.c.operator_id == operator_id, rate_plans.c.name == name
        )
    ).scalar_one()
    imports = conn.execute(
        select(rate_imports).where(rate_imports.c.plan_id == plan_id).order_by(rate_imports.c.id)
    ).all()
    changes = []
    for row in imports:
        rows = conn.execute(
            select(rate_changes.c.plan_id, rate_changes.c.prefix, rate_changes.c.new_rate)
            .where(rate_changes.c.import_id == row.id)
            .order_by(rate_changes.c.id)
        ).all()
        assert all(r.plan_id == plan_id for r in rows)
        changes.append([(r.prefix, r.new_rate) for r in rows])
    return {
        "rates": [
            tuple(r)
            for r in conn.execute(
                select(rates.c.prefix, rates.c.rate, rates.c.destination)
                .where(rates.c.plan_id == plan_id)
                .order_by(rates.c.id)
            )
        ],
        "imports": [(r.source, r.mode, r.rows_read, r.imported_at) for r in imports],
        "changes": changes,
    }


def test_plans_go_to_their_operators_and_price_as_before(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        _installation_at_0011(engine)
        with engine.connect() as conn:
            shared_before = {
                "rates": [
                    tuple(r)
                    for r in conn.execute(
                        select(rates.c.prefix, rates.c.rate, rates.c.destination)
                        .where(rates.c.plan_id == 1)
                        .order_by(rates.c.id)
                    )
                ]
            }
            total_rates = conn.execute(select(func.count()).select_from(rates)).scalar_one()
        upgrade(engine)
        with engine.connect() as conn:
            assert _plans(conn) == [
                (1, "a-only", 1),
                (1, "shared", 3),
                (1, "sms", 1),
                (1, "unused-cli", 1),
                (7, "buy", 1),
                (7, "shared", 3),  # a copy, version and all
                (7, "unused-api", 1),
            ]
            # the original stays with the first operator naming it, under its own id
            assert (
                conn.execute(
                    select(rate_plans.c.operator_id).where(rate_plans.c.id == 1)
                ).scalar_one()
                == 1
            )
            acme, globex = _content(conn, 1, "shared"), _content(conn, 7, "shared")
            assert acme == globex
            assert acme["rates"] == shared_before["rates"]
            assert acme["changes"] == [[("44", D("0.1")), ("33", D("0.3"))], [("44", D("0.1"))]]
            assert [i[0] for i in acme["imports"]] == ["first.csv", "api:key:4@account:1"]
            count = conn.execute(select(func.count()).select_from(rates)).scalar_one()
            assert count == total_rates + 3  # the copy's three rows; nothing lost
        container = build(Settings(database_url=database_url))
        try:
            for operator in (1, 7):  # the first row of 44 in deck order, for both
                quote = container.rating.quote(operator, "shared", UK, 60, AT)
                assert quote.rating.cost == D("0.1")
            assert container.rating.quote(1, "sms", UK, 60, AT).rating.cost == D("0.03")
            assert container.rating.quote(7, "buy", UK, 60, AT).rating.cost == D("0.04")
        finally:
            container.close()
        with pytest.raises(IntegrityError), engine.begin() as conn:  # one name per operator
            conn.execute(insert(rate_plans).values(_new_plan(1, "shared")))
        with engine.begin() as conn:  # another operator's name is free
            conn.execute(insert(rate_plans).values(_new_plan(20, "shared")))
        unique = {
            tuple(u["column_names"]) for u in inspect(engine).get_unique_constraints("rate_plans")
        }
        assert unique == {("operator_id", "name")}
    finally:
        engine.dispose()


def _new_plan(operator_id: int | None, name: str) -> dict[str, Any]:
    return {
        "operator_id": operator_id,
        "name": name,
        "currency": "USD",
        "version": 1,
        "created_at": T0,
        "updated_at": T0,
    }


def test_downgrade_refuses_shared_names_then_restores_the_global_name(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        _installation_at_0011(engine)
        upgrade(engine)
        head = current_revision(engine)
        with engine.connect() as conn:
            before = _plans(conn), conn.execute(select(func.count()).select_from(rates)).scalar()
        with pytest.raises(RuntimeError, match=r"several operators now hold plans named 'shared'"):
            downgrade(engine, "0011")
        assert current_revision(engine) == head
        with engine.connect() as conn:
            assert (
                _plans(conn),
                conn.execute(select(func.count()).select_from(rates)).scalar(),
            ) == before
        with engine.begin() as conn:  # Globex's copy goes (its rows, imports, changes with it)
            conn.execute(
                delete(rate_plans).where(
                    rate_plans.c.operator_id == 7, rate_plans.c.name == "shared"
                )
            )
        with engine.connect() as conn:
            kept_rates = conn.execute(select(func.count()).select_from(rates)).scalar()
            kept_changes = conn.execute(select(func.count()).select_from(rate_changes)).scalar()
        downgrade(engine, "0011")
        assert current_revision(engine) == "0011"
        columns = {c["name"] for c in inspect(engine).get_columns("rate_plans")}
        assert "operator_id" not in columns
        unique = {
            tuple(u["column_names"]) for u in inspect(engine).get_unique_constraints("rate_plans")
        }
        assert unique == {("name",)}
        with engine.connect() as conn:  # the rebuilt table kept what references it
            assert conn.execute(select(func.count()).select_from(rates)).scalar() == kept_rates
            assert (
                conn.execute(select(func.count()).select_from(rate_changes)).scalar()
                == kept_changes
            )
        with pytest.raises(IntegrityError), engine.begin() as conn:
            _plan(conn, "shared")
        upgrade(engine)
        with engine.connect() as conn:
            assert (1, "shared", 3) in _plans(conn)
    finally:
        engine.dispose()


def test_without_an_operator_plans_wait_for_the_first_one(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0011")
        with engine.begin() as conn:
            retail = _plan(conn, "retail")
            _rate(conn, retail, "44", "0.10")
            _import(conn, retail, "deck.csv", ("44", "0.10"))
        upgrade(engine)
        with engine.connect() as conn:
            assert _plans(conn) == [(None, "retail", 1)]
        with pytest.raises(IntegrityError), engine.begin() as conn:  # still one of a name
            conn.execute(insert(rate_plans).values(_new_plan(None, "retail")))
        container = build(Settings(database_url=database_url))
        try:
            assert container.rating.quote(None, "retail", UK, 60, AT).rating.cost == D("0.1")
            first, _ = container.accounts.ensure_operator("First", "USD")
            second, _ = container.accounts.ensure_operator("Second", "USD")
            assert [p.name for p, n in container.rate_plans.plans_of(first.id)] == ["retail"]
            assert container.rate_plans.plans_of(second.id) == []
            assert container.rating.quote(first.id, "retail", UK, 60, AT).rating.cost == D("0.1")
        finally:
            container.close()
        downgrade(engine, "0011")  # unowned and owned alike: one name each
        with engine.connect() as conn:
            assert conn.execute(select(_PLANS_0011.c.name)).scalars().all() == ["retail"]
    finally:
        engine.dispose()
