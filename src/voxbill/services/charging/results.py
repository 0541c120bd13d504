"""The answers charging gives every door: authorizations, grants, settlements, refusals.

Plain values, re-exported by :mod:`voxbill.services.charging.service`; import them from there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from voxbill.domain.charging import Reason
from voxbill.domain.errors import Refused


@dataclass(frozen=True)
class CallerId:
    """How a switch identifies the caller; any subset of the fields."""

    ani: str | None = None
    sip_user: str | None = None
    ip: str | None = None
    card: str | None = None
    pin: str | None = None
    operator_id: int | None = None
    #: the caller's account, when the switch (or the API's tenancy check) already knows it
    account_id: int | None = None
    #: the asker's subtree (an account path): a caller identified outside it is unknown
    within: str | None = None
    #: who sends a card's PIN, for the guess budgets: "key:<id>" (REST), "nas:<address>"
    asker: str | None = None
    #: the card's PIN comes from voxbill's own seal of a call it authorized (RADIUS
    #: ``Class``): checked, but not counted as a guess nor stopped by a later lockout
    pin_sealed: bool = False


@dataclass(frozen=True, slots=True)
class PayingLevel:
    """One paying level of a call's chain (seed 000: user, group, service provider), as
    every door reports it: caller first, then each ancestor below the root that pays.

    ``balance`` is what the level's balance may still spend (balance + credit - holds)
    *before this call's hold*; ``balance_account_id`` is the account whose balance it
    draws on: itself, or the ancestor it shares a balance with.
    """

    level: int
    account_id: int
    kind: str
    balance: Decimal
    currency: str
    balance_account_id: int


@dataclass(frozen=True)
class Authorization:
    """The answer to "may this call go through, for how long, at what price?".

    ``reason`` is a stable code when refused: unknown_caller, blocked,
    insufficient_funds, no_rate, concurrency_limit, invalid_number, spend_cap,
    high_risk_destination.
    """

    allowed: bool
    reason: str | None
    account_id: int | None
    max_duration: int
    rate: Decimal | None
    currency: str | None
    balance: Decimal | None
    prefix: str | None
    destination: str | None
    #: every paying level, caller first (empty when refused before the levels were known)
    levels: tuple[PayingLevel, ...] = ()


@dataclass(frozen=True)
class SessionGrant:
    """Seconds granted to a started (or updated) session; ``final`` when no more follow.

    A start's ``balance`` and ``levels`` are as before this call's hold (an update's
    ``balance`` is what remains after its holds, and it names no levels)."""

    session_id: str
    account_id: int
    granted_seconds: int
    max_duration: int
    rate: Decimal
    currency: str
    balance: Decimal
    expires_at: datetime
    replayed: bool = False
    final: bool = False
    levels: tuple[PayingLevel, ...] = ()


@dataclass(frozen=True)
class SessionSettlement:
    """A stopped session: what the caller's account paid, and the CDR written."""

    session_id: str
    account_id: int
    duration: int
    billed_seconds: int
    cost: Decimal
    currency: str
    balance: Decimal
    cdr_id: int
    overrun: bool = False
    replayed: bool = False
    #: a stop after the sweeper settled: the charge was corrected to this duration
    corrected: bool = False


class ChargingRefused(Refused):
    """A call refused for a business reason; ``code`` (and ``reason``) is the reason."""

    def __init__(self, authorization: Authorization, message: str | None = None) -> None:
        reason = authorization.reason or "refused"
        super().__init__(message or f"call refused: {reason}", code=reason)
        self.authorization = authorization

    @property
    def reason(self) -> str:
        return self.code


def refusal(reason: Reason, account_id: int | None = None, **known: Any) -> Authorization:
    """A refused authorization: nothing granted, only what is ``known`` filled in."""
    fields: dict[str, Any] = {
        "max_duration": 0,
        "rate": None,
        "currency": None,
        "balance": None,
        "prefix": None,
        "destination": None,
    }
    return Authorization(False, reason.value, account_id, **(fields | known))
