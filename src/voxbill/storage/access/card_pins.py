"""Counters of calling-card PIN guesses (tables in ``schema/card_pins.py``), read and
written by :class:`SqlCardPinRepository`.

``lock_card`` and ``lock_asker`` create a missing row and lock it for the transaction;
callers take the card's first and the asker's second (one order everywhere: no
deadlock between two claims).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from voxbill.domain.card_pins import AskerCounter, CardCounter
from voxbill.storage.schema import card_pin_counters, pin_asker_counters


def _card(row: Any) -> CardCounter:
    return CardCounter(row.failures, row.lockouts, row.locked_until, row.updated_at)


class SqlCardPinRepository:
    """:class:`~voxbill.services.ports.access.CardPinRepository` over one transaction's
    connection."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def _insert_missing(self, table: Table, values: dict[str, Any]) -> None:
        insert_of = postgresql.insert if self._conn.dialect.name == "postgresql" else sqlite.insert
        self._conn.execute(insert_of(table).values(values).on_conflict_do_nothing())

    def lock_card(self, identifier_id: int, now: datetime) -> CardCounter:
        c = card_pin_counters.c
        self._insert_missing(
            card_pin_counters,
            {"identifier_id": identifier_id, "failures": 0, "lockouts": 0, "updated_at": now},
        )
        query = select(card_pin_counters).where(c.identifier_id == identifier_id)
        return _card(self._conn.execute(query.with_for_update()).one())

    def lock_asker(self, asker: str, now: datetime) -> AskerCounter:
        c = pin_asker_counters.c
        self._insert_missing(
            pin_asker_counters, {"asker": asker, "window_start": now, "failures": 0}
        )
        query = select(pin_asker_counters).where(c.asker == asker).with_for_update()
        row = self._conn.execute(query).one()
        return AskerCounter(row.window_start, row.failures)

    def store_card(self, identifier_id: int, card: CardCounter) -> None:
        self._conn.execute(
            update(card_pin_counters)
            .where(card_pin_counters.c.identifier_id == identifier_id)
            .values(
                failures=card.failures,
                lockouts=card.lockouts,
                locked_until=card.locked_until,
                updated_at=card.updated_at,
            )
        )

    def store_asker(self, asker: str, counter: AskerCounter) -> None:
        self._conn.execute(
            update(pin_asker_counters)
            .where(pin_asker_counters.c.asker == asker)
            .values(window_start=counter.since, failures=counter.failures)
        )

    def card(self, identifier_id: int) -> CardCounter | None:
        query = select(card_pin_counters).where(card_pin_counters.c.identifier_id == identifier_id)
        row = self._conn.execute(query).first()
        return None if row is None else _card(row)

    def forget_card(self, identifier_id: int) -> None:
        """The counters of a card identifier about to be deleted."""
        self._conn.execute(
            delete(card_pin_counters).where(card_pin_counters.c.identifier_id == identifier_id)
        )
