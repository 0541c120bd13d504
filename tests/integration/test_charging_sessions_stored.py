"""A charging session as storage keeps it: its levels, counted accounts and the vendor's
tariff are JSON columns, written in the shape sessions always had and read back as a
:class:`~voxbill.domain.sessions.ChargingSession` (sessions of old, without a frozen
tariff or a seller, included)."""

from __future__ import annotations

import json
from decimal import Decimal

from sqlalchemy import select, update

from support.charging_world import AT, UK, build_world
from voxbill.bootstrap import Container
from voxbill.domain.charging import SessionStatus
from voxbill.domain.sessions import SessionLevel
from voxbill.storage.schema.charging import charging_sessions


def _stored(container: Container, session_id: str) -> tuple[str, str]:
    with container.db.transaction(readonly=True) as conn:
        row = conn.execute(
            select(charging_sessions.c.levels, charging_sessions.c.counted).where(
                charging_sessions.c.session_id == session_id
            )
        ).one()
    return row.levels, row.counted


def test_a_started_session_is_stored_as_before_and_read_back_typed(
    container: Container,
) -> None:
    world = build_world(container)
    container.charging.start("kept", world.customer_caller, UK, AT, interim=True)
    levels, counted = _stored(container, "kept")
    stored = json.loads(levels)
    assert [list(lv) for lv in stored] == [
        ["account_id", "plan", "rate", "currency", "max_cost", "tariff", "seller_id"]
    ] * 2
    assert [(lv["account_id"], lv["plan"], lv["rate"]) for lv in stored] == [
        (world.customer, "retail", "0.1"),
        (world.reseller, "wholesale", "0.06"),
    ]
    assert json.loads(counted) == []
    with container.uow.transaction(readonly=True) as tx:
        session = tx.sessions.session("kept", lock=False)
    assert session is not None
    assert session.status is SessionStatus.OPEN
    assert session.interim
    assert session.counted == ()
    assert [(lv.account_id, lv.plan, lv.rate, lv.seller_id) for lv in session.levels] == [
        (world.customer, "retail", Decimal("0.1"), world.reseller),
        (world.reseller, "wholesale", Decimal("0.06"), None),
    ]
    assert all(lv.tariff == stored[i]["tariff"] for i, lv in enumerate(session.levels))


def test_a_session_of_old_reads_without_tariff_seller_or_cap(container: Container) -> None:
    world = build_world(container)
    container.charging.start("old", world.customer_caller, UK, AT)
    levels, _ = _stored(container, "old")
    bare = [
        {k: lv[k] for k in ("account_id", "plan", "rate", "currency")} for lv in json.loads(levels)
    ]
    with container.db.transaction() as conn:
        conn.execute(
            update(charging_sessions)
            .where(charging_sessions.c.session_id == "old")
            .values(levels=json.dumps(bare))
        )
    with container.uow.transaction(readonly=True) as tx:
        session = tx.sessions.session("old", lock=False)
    assert session is not None
    assert session.levels[0] == SessionLevel(
        account_id=world.customer,
        plan="retail",
        rate=Decimal("0.1"),
        currency="USD",
        max_cost=None,
        tariff=None,
        seller_id=None,
    )
    # priced by its plans as they are now, paid to the operator's revenue
    settlement = container.charging.stop("old", 60)
    assert settlement.cost == Decimal("0.11")
