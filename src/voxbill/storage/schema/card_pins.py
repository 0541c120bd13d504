"""Calling-card PIN guesses: counters per card and per asker (``domain/card_pins.py``).

In the database, not in a node's memory: every node sees the same counts, and a claim
on a card row (locked for the change) is what makes the threshold exact under
concurrency.
"""

from sqlalchemy import Column, ForeignKey, Integer, String, Table

from voxbill.storage.schema.base import metadata
from voxbill.storage.types import UtcDateTime

card_pin_counters = Table(
    "card_pin_counters",
    metadata,
    Column("identifier_id", Integer, ForeignKey("caller_identifiers.id"), primary_key=True),
    # wrong PINs and attempts being verified, since the last right PIN or lockout
    Column("failures", Integer, nullable=False),
    # lockouts since the last right PIN: each doubles the next one
    Column("lockouts", Integer, nullable=False),
    Column("locked_until", UtcDateTime, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
)

pin_asker_counters = Table(
    "pin_asker_counters",
    metadata,
    # who sent the PINs: "key:<api key id>" (REST), "nas:<address>" (RADIUS)
    Column("asker", String(200), primary_key=True),
    Column("window_start", UtcDateTime, nullable=False),
    Column("failures", Integer, nullable=False),
)
