"""Real-time charging for calls: authorize, start (hold), update (extend), stop (settle).

The public surface every door (REST, SIP, RADIUS, Diameter) drives. Truths live in the
database: concurrency counts and holds are checked and taken inside one transaction
per step, so several nodes may serve the same accounts at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from voxbill.domain.errors import Refused
from voxbill.services.identifiers import IdentifierService
from voxbill.services.ledger import LedgerService
from voxbill.services.rating import RatingService
from voxbill.settings import Settings
from voxbill.storage.database import Database

__all__ = [
    "Authorization",
    "CallerId",
    "ChargingRefused",
    "ChargingService",
    "SessionGrant",
    "SessionSettlement",
]


@dataclass(frozen=True)
class CallerId:
    """How a switch identifies the caller; any subset of the fields."""

    ani: str | None = None
    sip_user: str | None = None
    ip: str | None = None
    card: str | None = None
    pin: str | None = None
    operator_id: int | None = None


@dataclass(frozen=True)
class Authorization:
    """The answer to "may this call go through, for how long, at what price?".

    ``reason`` is a stable code when refused: unknown_caller, blocked,
    insufficient_funds, no_rate, concurrency_limit, invalid_number.
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


@dataclass(frozen=True)
class SessionGrant:
    """Seconds granted to a started (or updated) session; ``final`` when no more follow."""

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


class ChargingRefused(Refused):
    """A call refused for a business reason; ``code`` is the reason."""

    def __init__(self, authorization: Authorization, message: str | None = None) -> None:
        reason = authorization.reason or "refused"
        super().__init__(message or f"call refused: {reason}", code=reason)
        self.authorization = authorization


class ChargingService:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        rating: RatingService,
        ledger: LedgerService,
        identifiers: IdentifierService,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._db = db
        self._settings = settings
        self._rating = rating
        self._ledger = ledger
        self._identifiers = identifiers
        self._clock = clock

    def authorize(self, caller: CallerId, callee: str, at: datetime | None = None) -> Authorization:
        """Decide without reserving anything; never raises for a business refusal."""
        raise NotImplementedError

    def start(
        self,
        session_id: str,
        caller: CallerId,
        callee: str,
        at: datetime | None = None,
        *,
        interim: bool = False,
    ) -> SessionGrant:
        """Open a session and hold its grant at every level; raises ChargingRefused."""
        raise NotImplementedError

    def update(
        self, session_id: str, used_seconds: int, *, request_number: int | None = None
    ) -> SessionGrant:
        """Report usage so far and extend the hold by another chunk."""
        raise NotImplementedError

    def stop(
        self,
        session_id: str,
        duration: int,
        *,
        request_number: int | None = None,
        at: datetime | None = None,
    ) -> SessionSettlement:
        """Rate the actual duration, charge every level, release the rest, write the CDR."""
        raise NotImplementedError

    def sweep(self, now: datetime | None = None, *, limit: int = 500) -> int:
        """Settle sessions whose hold expired; safe on several nodes at once."""
        raise NotImplementedError
