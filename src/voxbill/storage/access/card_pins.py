"""Counters of calling-card PIN guesses (tables in ``schema/card_pins.py``).

:func:`lock_counters` creates missing rows and locks them for the transaction, the card's
first and the asker's second (one order everywhere: no deadlock between two claims).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from voxbill.domain.card_pins import AskerCounter, CardCounter
from voxbill.storage.schema import card_pin_counters, pin_asker_counters


def _insert_missing(conn: Connection, table: Any, values: dict[str, Any]) -> None:
    insert_of = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    conn.execute(insert_of(table).values(values).on_conflict_do_nothing())


def lock_card(conn: Connection, identifier_id: int, now: datetime) -> CardCounter:
    c = card_pin_counters.c
    _insert_missing(
        conn,
        card_pin_counters,
        {"identifier_id": identifier_id, "failures": 0, "lockouts": 0, "updated_at": now},
    )
    row = conn.execute(
        select(card_pin_counters).where(c.identifier_id == identifier_id).with_for_update()
    ).one()
    return CardCounter(row.failures, row.lockouts, row.locked_until, row.updated_at)


def lock_asker(conn: Connection, asker: str, now: datetime) -> AskerCounter:
    c = pin_asker_counters.c
    _insert_missing(conn, pin_asker_counters, {"asker": asker, "window_start": now, "failures": 0})
    row = conn.execute(select(pin_asker_counters).where(c.asker == asker).with_for_update()).one()
    return AskerCounter(row.window_start, row.failures)


def store_card(conn: Connection, identifier_id: int, card: CardCounter) -> None:
    conn.execute(
        update(card_pin_counters)
        .where(card_pin_counters.c.identifier_id == identifier_id)
        .values(
            failures=card.failures,
            lockouts=card.lockouts,
            locked_until=card.locked_until,
            updated_at=card.updated_at,
        )
    )


def store_asker(conn: Connection, asker: str, counter: AskerCounter) -> None:
    conn.execute(
        update(pin_asker_counters)
        .where(pin_asker_counters.c.asker == asker)
        .values(window_start=counter.since, failures=counter.failures)
    )


def card(conn: Connection, identifier_id: int) -> CardCounter | None:
    row = conn.execute(
        select(card_pin_counters).where(card_pin_counters.c.identifier_id == identifier_id)
    ).first()
    if row is None:
        return None
    return CardCounter(row.failures, row.lockouts, row.locked_until, row.updated_at)


def forget_card(conn: Connection, identifier_id: int) -> None:
    """The counters of a card identifier about to be deleted."""
    conn.execute(
        delete(card_pin_counters).where(card_pin_counters.c.identifier_id == identifier_id)
    )


class SqlCardPinRepository:
    """CardPinRepository over one transaction's connection."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def lock_card(self, identifier_id: int, now: datetime) -> CardCounter:
        return lock_card(self._conn, identifier_id, now)

    def lock_asker(self, asker: str, now: datetime) -> AskerCounter:
        return lock_asker(self._conn, asker, now)

    def store_card(self, identifier_id: int, card: CardCounter) -> None:
        return store_card(self._conn, identifier_id, card)

    def store_asker(self, asker: str, counter: AskerCounter) -> None:
        return store_asker(self._conn, asker, counter)

    def card(self, identifier_id: int) -> CardCounter | None:
        return card(self._conn, identifier_id)

    def forget_card(self, identifier_id: int) -> None:
        return forget_card(self._conn, identifier_id)
