"""Call detail records: what a settled call cost at every level of its chain, and what
its carrier (vendor) billed for it. Written when a session settles; a stop that arrives
after the sweeper settled corrects it once (the ``swept_*`` values keep what the sweeper
charged), then it is only read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True)
class CdrLeg:
    """What one level of the chain paid for the call, and its margin over the level below;
    ``side`` "buy": what the vendor (carrier) billed us, rated by its deck."""

    level: int
    account_id: int
    plan: str
    prefix: str
    destination: str
    rate: Decimal
    billed_seconds: int
    cost: Decimal
    currency: str
    margin: Decimal | None
    side: str = "sell"
    #: what the sweeper charged this leg, when a late stop corrected it (else None)
    swept_cost: Decimal | None = None


@dataclass(frozen=True)
class Cdr:
    """A settled call; ``cost``, ``rate``… are the caller's level's (its first leg's)."""

    id: int
    session_id: str
    account_id: int
    caller: str
    callee: str
    started_at: datetime
    duration: int
    billed_seconds: int
    rate: Decimal
    cost: Decimal
    currency: str
    prefix: str
    destination: str
    overrun: bool
    settled_by: str
    created_at: datetime
    #: every leg, sell levels first, then the buy leg (empty when read without them)
    legs: tuple[CdrLeg, ...]
    vendor_id: int | None = None
    vendor_cost: Decimal | None = None
    vendor_currency: str | None = None
    #: what the operator was paid minus the vendor cost (see docs/charging.md)
    margin: Decimal | None = None
    #: why the sweeper charged what it did (``SweepReason``); None when a stop settled it
    settled_reason: str | None = None
    #: when a stop arriving after the sweeper corrected this CDR to the actual duration;
    #: ``duration``, ``cost``… are then the corrected ones, ``swept_*`` the sweeper's
    corrected_at: datetime | None = None
    swept_duration: int | None = None
    swept_cost: Decimal | None = None
    swept_vendor_cost: Decimal | None = None
