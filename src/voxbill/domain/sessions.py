"""A call's charging session as the charging steps read it: who pays at every level, by
which tariff frozen at the start, what was granted and used, and how it ended.

Storage decodes the session's JSON columns (levels, counted accounts, the vendor's
frozen tariff) into these values once per read; the steps never see JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from voxbill.domain.charging import SessionStatus
from voxbill.domain.fraud import SpendKey

#: A tariff frozen at a call's start (:func:`voxbill.domain.tariff_snapshot.freeze`).
TariffSnapshot = dict[str, Any]


@dataclass(frozen=True, slots=True)
class SessionLevel:
    """One payer of a session, as decided at its start."""

    account_id: int
    plan: str
    #: the rate of the matched tariff row (the grant's answer quotes the caller's)
    rate: Decimal
    currency: str
    #: the per-call cost cap of the accounts this level pays for (None: no cap)
    max_cost: Decimal | None
    #: None: a session opened before tariffs were frozen (priced by its plan as it is now)
    tariff: TariffSnapshot | None
    #: who is paid this level's charge; None: the operator's revenue (or a session of old)
    seller_id: int | None
    #: the spend counters this level's cost counts in (fraud guard caps; () for none)
    spend: tuple[SpendKey, ...] = ()


@dataclass(frozen=True, slots=True)
class ChargingSession:
    """A call session, open or settled; ``session_id`` (the switch's) is its identity."""

    session_id: str
    account_id: int
    caller: str
    callee: str
    interim: bool
    status: SessionStatus
    started_at: datetime
    cap: int
    max_duration: int
    granted_seconds: int
    used_seconds: int
    request_number: int | None
    levels: tuple[SessionLevel, ...]
    #: the accounts whose open-call counters this session holds
    counted: tuple[int, ...]
    expires_at: datetime
    created_at: datetime
    updated_at: datetime
    settled_at: datetime | None = None
    cdr_id: int | None = None
    vendor_id: int | None = None
    vendor_plan: str | None = None
    vendor_tariff: TariffSnapshot | None = None
    sweep_attempts: int = 0
    sweep_error: str | None = None
    #: when a usage report (update) was last applied; None: the switch never sent one
    reported_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.status is SessionStatus.OPEN
